package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/switchyard/switchyard/node/snapshot"
)

// Source gives the node's current state. The console calls it several times a
// second from each viewer's program, so it must not block.
type Source interface {
	Snapshot() snapshot.Snapshot
}

// Actions are the operator's commands. The console asks for confirmation
// before calling any of them, and calls them off its event loop.
type Actions interface {
	Kick(room, participantID string) error
	// CapLayer limits the video layer participantID receives; rid "" removes
	// the cap, otherwise "q", "h" or "f".
	CapLayer(room, participantID, rid string) error
	MuteAudio(room, participantID string, muted bool) error
	SetDraining(on bool) error
	// StartRecording and StopRecording start and stop the node's
	// recording of a conference (by names who asked, e.g. "console").
	StartRecording(room, by string) error
	StopRecording(room string) error
}

// Health is implemented by a Source that can tell it has failed (its node
// stopped or is unreachable). While Err returns an error the console shows
// the node as down, with the error, instead of its state.
type Health interface {
	Err() error
}

// NodeView is one node the console can show: several of them let one
// console (the demo's) switch between the nodes of a cascade.
type NodeView struct {
	Name    string // shown until the node's first snapshot names it
	Source  Source
	Actions Actions // may be nil: actions then fail with a message
}

// Options configure one console session.
type Options struct {
	Refresh time.Duration // how often to take a snapshot; 250ms when zero
	Logs    *LogBuffer    // records for the Log view; may be nil
	// Viewer names who is watching: "local" or "ssh:SHA256:..." (the key
	// fingerprint). Every action is logged with it.
	Viewer string
	Logger *slog.Logger // where actions are logged; slog.Default() when nil
	// Renderer decides colours for this viewer's terminal. When nil, Run uses
	// one for the process's stdout (honouring NO_COLOR and TERM=dumb) and
	// NewModel uses lipgloss's default.
	Renderer *lipgloss.Renderer
	// Hint, when not empty, is one line drawn under the tabs in every view,
	// such as where to point a browser; it is cut to the terminal's width.
	Hint string
	// Nodes, when not empty, are the nodes the console can show, the first
	// one first; the src and act given to Run, NewModel or ServeSSH are then
	// unused. With two or more, [ and ] switch between them.
	Nodes []NodeView
}

const defaultRefresh = 250 * time.Millisecond

func (o Options) withDefaults() Options {
	if o.Refresh <= 0 {
		o.Refresh = defaultRefresh
	}
	if o.Viewer == "" {
		o.Viewer = "local"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Renderer == nil {
		o.Renderer = lipgloss.DefaultRenderer()
	}
	return o
}

// NewModel returns the console's root model for one viewer. src and act are
// used when opts.Nodes is empty.
func NewModel(src Source, act Actions, opts Options) tea.Model {
	return newRoot(src, act, opts.withDefaults())
}

// Run runs the console on the process's terminal until the user quits (q,
// then a confirmation) or ctx ends; both return nil. It shows src and acts
// on act, or, when opts.Nodes is set, the nodes listed there. The caller stops the node
// when Run returns. Logs must not go to the same terminal while it runs.
func Run(ctx context.Context, src Source, act Actions, opts Options) error {
	if opts.Renderer == nil {
		opts.Renderer = newRenderer(os.Stdout, os.Environ())
	}
	p := tea.NewProgram(NewModel(src, act, opts),
		tea.WithContext(ctx),
		tea.WithAltScreen(),
		// The node owns signals and cancels ctx; a second handler here would
		// race it for SIGINT.
		tea.WithoutSignalHandler(),
	)
	if _, err := p.Run(); err != nil {
		if ctx.Err() != nil && errors.Is(err, tea.ErrProgramKilled) {
			return nil
		}
		return fmt.Errorf("console: %w", err)
	}
	return nil
}

// newRenderer returns a renderer for w that takes its colour profile from
// env, so NO_COLOR and TERM=dumb give plain text.
func newRenderer(w io.Writer, env []string, opts ...termenv.OutputOption) *lipgloss.Renderer {
	opts = append([]termenv.OutputOption{termenv.WithEnvironment(environ(env))}, opts...)
	return lipgloss.NewRenderer(w, opts...)
}

// environ adapts a KEY=value list to termenv.
type environ []string

func (e environ) Environ() []string { return e }

func (e environ) Getenv(k string) string {
	for i := len(e) - 1; i >= 0; i-- {
		if len(e[i]) > len(k) && e[i][len(k)] == '=' && e[i][:len(k)] == k {
			return e[i][len(k)+1:]
		}
	}
	return ""
}
