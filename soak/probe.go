package soak

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/node/snapshot"
)

// apiClient reads the nodes' API without keep-alive, so that the soak's own
// idle connections never count among a node's open files.
var apiClient = &http.Client{
	Timeout:   5 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

// getJSON decodes GET base+path into v.
func getJSON(ctx context.Context, base, path string, v any) error {
	body, err := get(ctx, base+path)
	if err != nil {
		return err
	}
	defer body.Close()
	if err := json.NewDecoder(body).Decode(v); err != nil {
		return fmt.Errorf("soak: decode %s%s: %w", base, path, err)
	}
	return nil
}

func get(ctx context.Context, url string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("soak: GET %s: %s", url, resp.Status)
	}
	return resp.Body, nil
}

func getNode(ctx context.Context, base string) (snapshot.Node, error) {
	var n snapshot.Node
	err := getJSON(ctx, base, "/api/v1/node", &n)
	return n, err
}

func getSnapshot(ctx context.Context, base string) (snapshot.Snapshot, error) {
	var s snapshot.Snapshot
	err := getJSON(ctx, base, "/api/v1/snapshot", &s)
	return s, err
}

// getMetrics reads a node's /metrics.
func getMetrics(ctx context.Context, base string) (metricSet, error) {
	body, err := get(ctx, base+"/metrics")
	if err != nil {
		return nil, err
	}
	defer body.Close()
	return parseMetrics(body)
}

// metricSet holds samples of the Prometheus text format by their series,
// labels included as written: `name` or `name{k="v"}`.
type metricSet map[string]float64

// Series the soak reads.
const (
	metricGoroutines = "go_goroutines"
	metricHeapInUse  = "go_memstats_heap_inuse_bytes"
)

// counterSeries are node counters whose growth the report shows.
var counterSeries = []string{
	"switchyard_signaling_bad_messages_total",
	`switchyard_signaling_timeouts_total{stage="join"}`,
	`switchyard_signaling_timeouts_total{stage="offer"}`,
	"switchyard_media_forged_dtls_total",
}

// parseMetrics reads the text exposition format. Comments, blank lines and
// lines without a numeric value are skipped.
func parseMetrics(r io.Reader) (metricSet, error) {
	m := metricSet{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		// The value follows the series; a timestamp may follow the value.
		series, rest := splitSeries(line)
		f := strings.Fields(rest)
		if series == "" || len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		m[series] = v
	}
	if err := sc.Err(); err != nil {
		return m, fmt.Errorf("soak: read metrics: %w", err)
	}
	return m, nil
}

// splitSeries cuts a sample line after its series name and labels; label
// values may hold spaces.
func splitSeries(line string) (series, rest string) {
	if i := strings.IndexByte(line, '{'); i >= 0 && i < strings.IndexAny(line+" ", " \t") {
		inQuote, esc := false, false
		for j := i; j < len(line); j++ {
			c := line[j]
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inQuote = !inQuote
			case c == '}' && !inQuote:
				return line[:j+1], line[j+1:]
			}
		}
		return "", ""
	}
	i := strings.IndexAny(line, " \t")
	if i < 0 {
		return "", ""
	}
	return line[:i], line[i:]
}

// countFDs counts a process's open files.
func countFDs(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, fmt.Errorf("soak: open files of %d: %w", pid, err)
	}
	return len(ents), nil
}

// reading is one look at a node: its figures, its counters and what its
// conferences hold.
type reading struct {
	fig      Figures
	counters map[string]float64
	residual []string
}

// read takes a reading of a running node.
func (np *nodeProc) read(ctx context.Context) (reading, error) {
	var r reading
	m, err := getMetrics(ctx, np.base)
	if err != nil {
		return r, err
	}
	s, err := getSnapshot(ctx, np.base)
	if err != nil {
		return r, err
	}
	fds, err := countFDs(np.pid())
	if err != nil {
		return r, err
	}
	r.fig = Figures{
		Goroutines:   int(m[metricGoroutines]),
		HeapInUseMB:  round(m[metricHeapInUse]/(1<<20), 1),
		FDs:          fds,
		Participants: s.Node.Participants,
		Rooms:        s.Node.Conferences,
	}
	r.residual = residual(s)
	for _, c := range s.Conferences {
		r.fig.Listed += len(c.Participants)
	}
	r.counters = map[string]float64{}
	for _, k := range counterSeries {
		r.counters[k] = m[k]
	}
	if s.Node.Cascade != nil {
		for reason, n := range s.Node.Cascade.Drops {
			r.counters["relay drops: "+reason] = float64(n)
		}
	}
	return r, nil
}

// residual names what a snapshot's conferences still hold.
func residual(s snapshot.Snapshot) []string {
	var out []string
	for _, c := range s.Conferences {
		if len(c.Participants) == 0 {
			out = append(out, c.Name+" (empty conference)")
		}
		for _, p := range c.Participants {
			where := ""
			if p.Remote {
				where = ", remote from " + p.Node
			}
			out = append(out, fmt.Sprintf("%s/%s (%s%s)", c.Name, p.ID, p.Name, where))
		}
	}
	slices.Sort(out)
	return out
}

// counterGrowth is how much each counter grew between two readings.
func counterGrowth(start, end map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range end {
		if d := v - start[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// presentIDs lists the participant ids a snapshot shows, in any conference.
func presentIDs(s snapshot.Snapshot) map[string]bool {
	ids := map[string]bool{}
	for _, c := range s.Conferences {
		for _, p := range c.Participants {
			ids[p.ID] = true
		}
	}
	return ids
}
