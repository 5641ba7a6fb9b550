package soak

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// stackFrames is how many innermost functions name a stack in a diff.
const stackFrames = 4

// parseGoroutineDump reads a goroutine profile in its debug=1 text form
// ("N @ 0x… 0x…" then "#\t0x…\tfunc+0x…\tfile:line" lines) and counts the
// goroutines by their innermost functions, outermost last, joined by " < ".
func parseGoroutineDump(r io.Reader) (map[string]int, error) {
	out := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	count := 0
	var funcs []string
	flush := func() {
		if count > 0 {
			key := strings.Join(funcs, " < ")
			if key == "" {
				key = "(no symbolized frames)"
			}
			out[key] += count
		}
		count, funcs = 0, nil
	}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
			if count == 0 || len(funcs) >= stackFrames {
				continue
			}
			f := strings.Fields(strings.TrimPrefix(line, "#"))
			if len(f) >= 2 {
				name, _, _ := strings.Cut(f[1], "+0x")
				funcs = append(funcs, name)
			}
		case strings.Contains(line, " @ "):
			flush()
			n, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(line, " @ ", 2)[0]))
			if err == nil && n > 0 {
				count = n
			}
		case strings.TrimSpace(line) == "":
			flush()
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("soak: read goroutine dump: %w", err)
	}
	return out, nil
}

// stackGrowth lists the stacks with more goroutines in end than in start,
// the largest growth first.
func stackGrowth(start, end map[string]int) []StackGrowth {
	var out []StackGrowth
	for k, n := range end {
		if n > start[k] {
			out = append(out, StackGrowth{Stack: k, Start: start[k], End: n})
		}
	}
	slices.SortFunc(out, func(a, b StackGrowth) int {
		if d := (b.End - b.Start) - (a.End - a.Start); d != 0 {
			return d
		}
		return strings.Compare(a.Stack, b.Stack)
	})
	return out
}

// dumpGoroutines saves a node's goroutine profile to path and parses it.
func (np *nodeProc) dumpGoroutines(ctx context.Context, path string) (map[string]int, error) {
	body, err := get(ctx, np.base+"/debug/pprof/goroutine?debug=1")
	if err != nil {
		return nil, err
	}
	defer body.Close()
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	defer f.Close()
	return parseGoroutineDump(io.TeeReader(body, f))
}
