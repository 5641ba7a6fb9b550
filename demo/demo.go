// Package demo runs `switchyard demo`: a multi-region cascade of nodes with synthetic participants and the console, in one process.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/pflag"

	"github.com/switchyard/switchyard/console"
)

// shutdownBudget bounds closing every participant and node at the end, so
// that q or Ctrl-C returns within two seconds.
const shutdownBudget = 1500 * time.Millisecond

// Main runs the demo with the arguments after `demo` and returns the exit
// status: 0 when it ran (headless: and every check passed), 1 when it could
// not run or a headless check failed, 2 for bad flags.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "switchyard demo: %s\n", line)
		}
		fmt.Fprintln(stderr, "switchyard demo: see switchyard demo --help")
		return 2
	}
	useConsole := !o.headless && isTerminal(stdout) && isatty.IsTerminal(os.Stdin.Fd())
	logs, logger := newLogger(o, useConsole, stderr)

	// The cascade and the participants outlive ctx by the few moments it
	// takes to read the final summary; then they are closed on purpose.
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	showCtx, stopShow := context.WithCancel(ctx)
	defer stopShow()
	if o.duration > 0 {
		showCtx, stopShow = context.WithTimeout(showCtx, o.duration)
		defer stopShow()
	}

	nodes, err := startNodes(runCtx, o, logger, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "switchyard demo: %v\n", err)
		return 1
	}
	mon := newMonitor(nodes, logger)
	mon.observe(runCtx)
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		mon.run(runCtx)
	}()
	writeBanner(stdout, o, nodes)

	r := newRoster(o, nodes, logger)
	r.run(runCtx, plan(o))

	status := 0
	if useConsole {
		if err := console.Run(showCtx, nodes[0], nodes[0], consoleOptions(logs, logger, nodes)); err != nil {
			fmt.Fprintf(stderr, "switchyard demo: %v\n", err)
			status = 1
		}
	} else {
		printStatus(showCtx, stdout, o.every, func() Summary { return collect(r, nodes, mon, time.Now()) })
	}

	mon.observe(runCtx)
	final := collect(r, nodes, mon, time.Now())
	stopRun()
	if !shutdown(r, nodes) {
		fmt.Fprintf(stderr, "switchyard demo: still closing after %v; leaving the rest to exit\n", shutdownBudget)
	}
	if !useConsole {
		writeFinal(stdout, final)
		if !final.OK() {
			status = 1
		}
	}
	if o.summaryPath != "" {
		if err := writeJSON(o.summaryPath, final); err != nil {
			fmt.Fprintf(stderr, "switchyard demo: %v\n", err)
			status = 1
		}
	}
	_ = waitTimeout(&bg, 200*time.Millisecond)
	return status
}

// newLogger sends records to the console's Log view, or in headless mode
// also to stderr from the chosen level up, so they never garble the console.
func newLogger(o options, useConsole bool, stderr io.Writer) (*console.LogBuffer, *slog.Logger) {
	var next slog.Handler
	if !useConsole {
		next = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: o.logLevel})
	}
	logs := console.NewLogBuffer(2000, next)
	return logs, slog.New(logs)
}

// consoleOptions opens the console on the first node with every node one key
// away.
func consoleOptions(logs *console.LogBuffer, logger *slog.Logger, nodes []*demoNode) console.Options {
	opts := console.Options{Refresh: 250 * time.Millisecond, Logs: logs, Viewer: "local", Logger: logger,
		// The banner printed before the console is hidden by it until q.
		Hint: "open " + browserURL(nodes) + " in a browser"}
	for _, n := range nodes {
		// The demoNode is the Source so that the console can show a failed
		// node as down (console.Health); the node itself is the Actions.
		opts.Nodes = append(opts.Nodes, console.NodeView{Name: n.ID(), Source: n, Actions: n.Node})
	}
	return opts
}

// shutdown closes every participant and node at once within shutdownBudget.
func shutdown(r *roster, nodes []*demoNode) bool {
	var wg sync.WaitGroup
	var participantsDone, nodesDone bool
	wg.Add(2)
	go func() { defer wg.Done(); participantsDone = r.closeAll(shutdownBudget) }()
	go func() { defer wg.Done(); nodesDone = closeNodes(nodes, shutdownBudget) }()
	wg.Wait()
	return participantsDone && nodesDone
}

// printStatus prints a status line every period until ctx ends.
func printStatus(ctx context.Context, w io.Writer, every time.Duration, now func() Summary) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fmt.Fprintln(w, statusLine(now()))
		}
	}
}

func writeBanner(w io.Writer, o options, nodes []*demoNode) {
	fmt.Fprintf(w, "Switchyard demo: %d node(s), %d conference(s) of %d synthetic participants\n",
		len(nodes), o.conferences, o.participants)
	for _, n := range nodes {
		fmt.Fprintf(w, "  %-13s %s\n", n.ID(), n.URL())
	}
	fmt.Fprintf(w, "Join the %s conference from a browser: %s\n", conferenceNames[0], browserURL(nodes))
	if len(nodes) > 1 && !o.headless {
		fmt.Fprintln(w, "In the console, [ and ] switch between the nodes.")
	}
}

// browserURL is where a person joins the first conference, on the first node.
func browserURL(nodes []*demoNode) string {
	return fmt.Sprintf("%s/r/%s?name=you", nodes[0].URL(), conferenceNames[0])
}

func writeJSON(path string, s Summary) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}
