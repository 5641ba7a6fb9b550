// Package quality measures call quality on emulated bad networks: which
// simulcast layer a receiver gets, how often its video freezes and how close
// the node's bandwidth estimate comes to the link's capacity
// (`switchyard bench quality`).
package quality

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/switchyard/switchyard/linkemu"
)

// Options are the settings of one `switchyard bench quality` run.
type Options struct {
	Cases    []Case
	Duration time.Duration // per case, from the receiver's join
	Every    time.Duration // between readings
	OutDir   string        // a JSON file per case and the table
	Seed     uint64        // the emulated links' randomness
	Log      io.Writer     // progress lines and the node's warnings
}

// Result is one case's run.
type Result struct {
	Case      string          `json:"case"`
	Link      string          `json:"link"`
	Started   time.Time       `json:"started"`
	Up        linkemu.Params  `json:"up"`
	Down      linkemu.Params  `json:"down"`
	LiftAtSec float64         `json:"lift_at_sec,omitempty"`
	Lifted    *linkemu.Params `json:"lifted,omitempty"` // Down after the lift
	EverySec  float64         `json:"every_sec"`
	// LoadStart and LoadEnd are the machine's one-minute load average
	// (/proc/loadavg; 0 where there is none) as the case began and ended:
	// on a busy machine pion falls behind and the figures say so.
	LoadStart float64  `json:"load_start"`
	LoadEnd   float64  `json:"load_end"`
	Summary   Summary  `json:"summary"`
	Samples   []Sample `json:"samples"`
	Error     string   `json:"error,omitempty"`
}

// Main is `switchyard bench quality` (args after "quality"). It returns 0
// when every case ran, 1 when one failed and 2 on bad usage.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts := Options{Log: stderr}
	fs := pflag.NewFlagSet("switchyard bench quality", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: switchyard bench quality [flags]\n\n"+
			"Runs a node in this process with one publisher (audio and VP8 simulcast q/h/f)\n"+
			"and one receiver behind an emulated link, for each case; reads the receiver,\n"+
			"the node and the link every --every and prints a markdown table: the layer\n"+
			"received over time, freezes, the bandwidth estimate against the capacity.\n\n"+
			"Cases: %s (default all).\n\n", CaseNames())
		fs.PrintDefaults()
	}
	list := fs.String("cases", "all", "comma-separated cases")
	fs.DurationVar(&opts.Duration, "duration", 60*time.Second, "length of each case")
	fs.DurationVar(&opts.Every, "every", 250*time.Millisecond, "time between readings")
	fs.StringVar(&opts.OutDir, "out", "bench-results/quality", "directory for the JSON files and the table")
	fs.Uint64Var(&opts.Seed, "seed", 1, "seed of the emulated links' loss and jitter")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "switchyard bench quality: %v\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "switchyard bench quality: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var err error
	if opts.Cases, err = LookupCases(*list); err == nil {
		err = opts.check()
	}
	if err != nil {
		fmt.Fprintf(stderr, "switchyard bench quality: %v\n", err)
		return 2
	}
	results, err := Run(ctx, opts)
	if len(results) > 0 {
		fmt.Fprint(stdout, Table(results))
	}
	if err != nil {
		fmt.Fprintf(stderr, "switchyard bench quality: %v\n", err)
		return 1
	}
	return 0
}

// check reports options no run can use.
func (o Options) check() error {
	if o.Duration < 2*time.Second || o.Every < 10*time.Millisecond || o.Every > o.Duration/2 || o.OutDir == "" {
		return errors.New("need --duration >= 2s, --every between 10ms and half the duration, and --out")
	}
	for _, c := range o.Cases {
		if err := c.checkDuration(o.Duration); err != nil {
			return err
		}
	}
	return nil
}

// Run runs the cases in order, each on a node of its own, and writes their
// JSON and the table into OutDir. A failed case is recorded (its Error set)
// and the others run; the error then names every failure.
func Run(ctx context.Context, opts Options) ([]Result, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if err := opts.check(); err != nil {
		return nil, fmt.Errorf("quality: %w", err)
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("quality: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(opts.Log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var results []Result
	var errs []error
	for _, c := range opts.Cases {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		fmt.Fprintf(opts.Log, "quality: %s (%s) for %v\n", c.Name, c.describe(), opts.Duration)
		load := loadAverage()
		res, err := runCase(ctx, opts, c, logger)
		res.LoadStart, res.LoadEnd = load, loadAverage()
		if err != nil {
			res.Error = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
			fmt.Fprintf(opts.Log, "quality: %s failed: %v\n", c.Name, err)
		} else {
			fmt.Fprintf(opts.Log, "quality: %s: %s (load %.1f..%.1f)\n", c.Name, res.Summary.Timeline, res.LoadStart, res.LoadEnd)
		}
		results = append(results, res)
		if werr := writeResult(opts.OutDir, res); werr != nil {
			errs = append(errs, werr)
		}
	}
	if err := writeTable(opts.OutDir, results); err != nil {
		errs = append(errs, err)
	}
	return results, errors.Join(errs...)
}

// loadAverage is the one-minute load average, 0 if unknown.
func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	return parseLoadAvg(string(data))
}

// parseLoadAvg reads the first field of /proc/loadavg, 0 if it is not a number.
func parseLoadAvg(s string) float64 {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil || !(v >= 0) {
		return 0
	}
	return v
}
