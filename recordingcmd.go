package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/switchyard/switchyard/media/record"
)

// recordingMain is `switchyard recording mix DIR [--run]`: the ffmpeg
// command that lays the files of one server recording side by side (video
// in a grid, audio mixed, each file delayed to where it started), printed,
// or run with --run. Status 0: done; 1: ffmpeg failed; 2: bad use.
func recordingMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := func() { fmt.Fprintln(stderr, "usage: switchyard recording mix DIR [--run]") }
	if len(args) == 0 || args[0] != "mix" {
		usage()
		return 2
	}
	fs := pflag.NewFlagSet("recording mix", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	run := fs.Bool("run", false, "run ffmpeg instead of printing its command; writes "+record.MixName+" in DIR")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		usage()
		return 2
	}
	manifest := filepath.Join(fs.Arg(0), record.ManifestName)
	ffargs, err := record.MixArgs(manifest)
	if err != nil {
		fmt.Fprintf(stderr, "switchyard recording mix: %v\n", err)
		return 2
	}
	if !*run {
		quoted := make([]string, len(ffargs))
		for i, a := range ffargs {
			quoted[i] = shellQuote(a)
		}
		fmt.Fprintln(stdout, "ffmpeg "+strings.Join(quoted, " "))
		return 0
	}
	cmd := exec.CommandContext(ctx, "ffmpeg", ffargs...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(stderr, "switchyard recording mix: ffmpeg: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(fs.Arg(0), record.MixName))
	return 0
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
