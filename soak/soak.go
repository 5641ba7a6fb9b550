// Package soak is `switchyard soak`: proof that a cascade of nodes stays
// correct under churn and faults. It runs three cascaded node processes on
// loopback, and for a while keeps a set of long-lived participants whose
// media it monitors while short-lived ones join and leave in every way the
// protocol documents, signaling is abused, garbage is sent to the media and
// relay ports, and one node is SIGKILLed; its participants come back
// through their fallback lists and the time to media again is measured.
// Then everyone leaves and every surviving node must come back to its
// baseline: goroutines, open files, no participants and no rooms.
package soak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/pflag"
)

// Main is `switchyard soak` (args without the command name). It returns 0
// when every check passed, 1 when one failed or the soak could not run, and
// 2 on bad usage.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts := DefaultOptions()
	opts.Log = stderr
	fs := pflag.NewFlagSet("switchyard soak", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: switchyard soak [flags]\n\n"+
			"Runs three cascaded nodes (us, eu, ap) as processes on loopback; for --duration\n"+
			"churns participants through every kind of departure, abuses signaling, sends\n"+
			"garbage to the media and relay ports and SIGKILLs the ap node; then checks that\n"+
			"the survivors are back to their baseline (goroutines, open files), hold no\n"+
			"participants or rooms, and that media came back within --failover-limit.\n"+
			"Exit status 1 when a check fails.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&opts.Exe, "exe", "", "switchyard binary to run the nodes with (default: this executable)")
	fs.DurationVar(&opts.Duration, "duration", opts.Duration, "how long the churn, abuse and faults go on")
	fs.DurationVar(&opts.KillAt, "kill-at", 0, "when into the run to SIGKILL the ap node (default: half of --duration; negative: never)")
	fs.DurationVar(&opts.Settle, "settle", opts.Settle, "how long the nodes may take to come back to their baseline")
	fs.IntVar(&opts.ChurnClients, "churn-clients", opts.ChurnClients, "short-lived participants at once")
	fs.Uint64Var(&opts.Seed, "seed", 0, "seed of the random choices (default: a fresh one, printed)")
	fs.IntVar(&opts.Limits.GoroutineSlack, "goroutine-slack", opts.Limits.GoroutineSlack, "goroutines above a node's baseline still accepted")
	fs.IntVar(&opts.Limits.FDSlack, "fd-slack", opts.Limits.FDSlack, "open files above a node's baseline still accepted")
	fs.DurationVar(&opts.Limits.Failover, "failover-limit", opts.Limits.Failover, "longest time from the node kill to its participants' media again")
	fs.DurationVar(&opts.DepartureSlack, "departure-slack", opts.DepartureSlack, "added to each documented removal time")
	fs.StringVar(&opts.WorkDir, "dir", "", "keep node configurations, logs and goroutine dumps here (default: a temporary directory, kept only when a check fails)")
	jsonPath := fs.String("json", "", "also write the report as JSON to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "switchyard soak: %v\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "switchyard soak: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := validate(opts); err != nil {
		fmt.Fprintf(stderr, "switchyard soak: %v\n", err)
		return 2
	}
	if opts.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "switchyard soak: find this executable: %v (use --exe)\n", err)
			return 2
		}
		opts.Exe = exe
	}
	if st, err := os.Stat(opts.Exe); err != nil || st.IsDir() {
		fmt.Fprintf(stderr, "switchyard soak: --exe %s is not a file\n", opts.Exe)
		return 2
	}
	rep, err := Run(ctx, opts)
	if rep != nil {
		fmt.Fprint(stdout, Table(rep))
		if *jsonPath != "" {
			if werr := writeJSON(*jsonPath, rep); werr != nil {
				fmt.Fprintf(stderr, "switchyard soak: %v\n", werr)
				return 1
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "switchyard soak: %v\n", err)
		return 1
	}
	if !rep.OK {
		return 1
	}
	return 0
}

// validate refuses settings the soak cannot run with.
func validate(o Options) error {
	switch {
	case o.Duration < 10*time.Second:
		return fmt.Errorf("--duration %s: at least 10s", o.Duration)
	case o.KillAt >= o.Duration:
		return fmt.Errorf("--kill-at %s must fall within --duration %s", o.KillAt, o.Duration)
	case o.Settle < 0:
		return fmt.Errorf("--settle %s is negative", o.Settle)
	case o.ChurnClients < 1:
		return fmt.Errorf("--churn-clients %d: at least 1", o.ChurnClients)
	case o.Limits.GoroutineSlack < 0 || o.Limits.FDSlack < 0:
		return errors.New("--goroutine-slack and --fd-slack must not be negative")
	case o.Limits.Failover <= 0:
		return fmt.Errorf("--failover-limit %s must be positive", o.Limits.Failover)
	case o.DepartureSlack < 0:
		return fmt.Errorf("--departure-slack %s is negative", o.DepartureSlack)
	}
	return nil
}

func writeJSON(path string, rep *Report) error {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("soak: encode report: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("soak: write report: %w", err)
	}
	return nil
}
