package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"
)

// Main is `switchyard load`: it parses args (without the command name), runs
// the load, prints the report and writes it as JSON. It returns the exit
// status: 0 done, 1 the run failed, 2 bad usage.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := DefaultConfig()
	fs := pflag.NewFlagSet("switchyard load", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: switchyard load [flags]\n\n"+
			"Joins synthetic participants to a node and reports join time, time to first frame,\n"+
			"received bitrate, loss, simulcast layers and end-to-end RTT. Publishers and\n"+
			"subscribers are per room.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.URL, "url", cfg.URL, "HTTP base URL of the node")
	fs.StringVar(&cfg.RoomPrefix, "room", cfg.RoomPrefix, "room name, or prefix of room-1 … room-N with --rooms N")
	fs.IntVar(&cfg.Rooms, "rooms", cfg.Rooms, "number of rooms")
	fs.IntVarP(&cfg.Publishers, "publishers", "p", cfg.Publishers, "publishers per room")
	fs.IntVarP(&cfg.Subscribers, "subscribers", "s", cfg.Subscribers, "subscribers per room (they publish nothing)")
	fs.BoolVar(&cfg.PublishAudio, "audio", cfg.PublishAudio, "publishers send Opus audio")
	fs.BoolVar(&cfg.PublishVideo, "video", cfg.PublishVideo, "publishers send VP8 simulcast video (q, h, f)")
	fs.BoolVar(&cfg.AudioOnlySubscribers, "audio-only-subscribers", cfg.AudioOnlySubscribers, "subscribers ask for no video")
	fs.StringSliceVar(&cfg.Regions, "regions", nil, "regions given to each room's participants in turn, publishers first, e.g. us,eu,ap (a cascade redirects each to a node of its region)")
	fs.IntVar(&cfg.MaxHeight, "max-height", cfg.MaxHeight, "tile height every receiver asks for (0: no constraint)")
	fs.DurationVarP(&cfg.Duration, "duration", "d", cfg.Duration, "how long to hold the load once everyone joined")
	fs.Float64Var(&cfg.JoinRate, "join-rate", cfg.JoinRate, "joins started per second")
	fs.DurationVar(&cfg.JoinTimeout, "join-timeout", cfg.JoinTimeout, "give up on a join after this long")
	fs.DurationVar(&cfg.PingInterval, "ping-interval", cfg.PingInterval, "time between end-to-end pings (0: no pings)")
	jsonPath := fs.String("json", "", "write the report as JSON to this file (- for stdout)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error (on stderr)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "switchyard load: %v\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "switchyard load: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "switchyard load: --log-level %q: want debug, info, warn or error\n", *logLevel)
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "switchyard load: %v\n", err)
		return 2
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("cmd", "load")

	rep, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "switchyard load: %v\n", err)
		return 1
	}
	if *jsonPath != "-" {
		if err := rep.WriteText(stdout); err != nil {
			fmt.Fprintf(stderr, "switchyard load: %v\n", err)
			return 1
		}
	}
	if *jsonPath != "" {
		if err := writeJSON(*jsonPath, stdout, rep); err != nil {
			fmt.Fprintf(stderr, "switchyard load: %v\n", err)
			return 1
		}
	}
	return 0
}

// writeJSON writes atomically, so that a reader polling for the file never
// sees half of it.
func writeJSON(path string, stdout io.Writer, rep Report) error {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	data = append(data, '\n')
	if path == "-" {
		_, err := stdout.Write(data)
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".load-*.json")
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write report: %w", err)
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write report: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
