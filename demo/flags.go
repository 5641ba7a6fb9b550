package demo

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/pflag"
)

// options are the demo's flags after validation.
type options struct {
	nodes        int
	participants int // per conference
	conferences  int
	duration     time.Duration // 0 = until stopped
	headless     bool
	seed         int64
	port         int           // HTTP port of the first node; the others count up; 0 = any
	every        time.Duration // headless status line period
	lossyLoss    float64       // loss on the lossy participant's access link, both ways
	lossyRate    int           // kbit/s towards the lossy participant
	churn        bool
	summaryPath  string // final summary as JSON; "" = none
	logLevel     slog.Level
}

// Limits that keep the demo on a laptop: every participant is a real pion
// peer publishing three VP8 layers.
const (
	maxTotalParticipants = 40
	maxConferences       = 8
)

// parseFlags reads args into options. A usage problem returns an error meant
// for the user (exit status 2); -h returns pflag.ErrHelp.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := pflag.NewFlagSet("switchyard demo", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: switchyard demo [flags]\n\n"+
			"Runs a live multi-region cascade in one process: nodes in emulated regions,\n"+
			"synthetic participants joining and leaving, and the console.\n\nFlags:\n%s\n%s", fs.FlagUsages(), statusHelp)
	}
	fs.IntVar(&o.nodes, "nodes", 3, fmt.Sprintf("nodes, one per region (1..%d)", len(regions)))
	fs.IntVar(&o.participants, "participants", 4, "synthetic participants per conference (at least 2)")
	fs.IntVar(&o.conferences, "conferences", 2, fmt.Sprintf("conferences (1..%d)", maxConferences))
	fs.DurationVar(&o.duration, "duration", 0, "stop after this long (0 = until q or Ctrl-C)")
	fs.BoolVar(&o.headless, "headless", false, "no console: print a status line every --every and a final summary")
	fs.Int64Var(&o.seed, "seed", 1, "seed for emulated loss and jitter")
	fs.IntVar(&o.port, "port", 8080, "HTTP port of the first node, the next nodes count up (0 = any free port)")
	fs.DurationVar(&o.every, "every", 5*time.Second, "headless: how often to print a status line")
	fs.Float64Var(&o.lossyLoss, "lossy-loss", 0.03, "packet loss (0..1) on the lossy participant's access link")
	fs.IntVar(&o.lossyRate, "lossy-rate", 400, "bandwidth cap in kbit/s towards the lossy participant")
	fs.BoolVar(&o.churn, "churn", true, "let one participant per conference leave and come back")
	fs.StringVar(&o.summaryPath, "summary", "", "write the final summary as JSON to this file")
	level := fs.String("log-level", "warn", "headless: least level of log records printed to stderr (debug, info, warn, error)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (the demo takes only flags)", fs.Arg(0))
	}
	if err := o.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return o, fmt.Errorf("--log-level %q: want debug, info, warn or error", *level)
	}
	return o, o.validate()
}

// validate reports every impossible combination at once.
func (o options) validate() error {
	var errs []error
	if o.nodes < 1 || o.nodes > len(regions) {
		errs = append(errs, fmt.Errorf("--nodes %d: need 1..%d (one per emulated region)", o.nodes, len(regions)))
	}
	if o.participants < 2 {
		errs = append(errs, fmt.Errorf("--participants %d: a conference needs at least 2", o.participants))
	}
	if o.conferences < 1 || o.conferences > maxConferences {
		errs = append(errs, fmt.Errorf("--conferences %d: need 1..%d", o.conferences, maxConferences))
	}
	if total := o.participants * o.conferences; o.participants >= 2 && o.conferences >= 1 && total > maxTotalParticipants {
		errs = append(errs, fmt.Errorf("%d participants in all (%d × %d): at most %d fit on one machine",
			total, o.conferences, o.participants, maxTotalParticipants))
	}
	if o.duration < 0 {
		errs = append(errs, fmt.Errorf("--duration %v is negative", o.duration))
	}
	if o.every <= 0 {
		errs = append(errs, fmt.Errorf("--every %v must be positive", o.every))
	}
	if o.port < 0 || o.port+o.nodes-1 > 65535 {
		errs = append(errs, fmt.Errorf("--port %d: out of range for %d nodes", o.port, o.nodes))
	}
	if o.lossyLoss < 0 || o.lossyLoss > 1 || o.lossyLoss != o.lossyLoss {
		errs = append(errs, fmt.Errorf("--lossy-loss %v: need 0..1", o.lossyLoss))
	}
	if o.lossyRate <= 0 {
		errs = append(errs, fmt.Errorf("--lossy-rate %d kbit/s must be positive", o.lossyRate))
	}
	return errors.Join(errs...)
}
