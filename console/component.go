package console

import (
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/switchyard/switchyard/node/snapshot"
)

// Component is one view of the console. The root model owns the header,
// footer, modal prompts and navigation, and delegates everything else to the
// active component.
type Component interface {
	Init() tea.Cmd
	Update(msg tea.Msg) tea.Cmd
	View() string
	SetSize(width, height int)
	Help() []key.Binding
}

// capturer is implemented by a component that is reading text (a filter) and
// so must receive every key, including the root's own.
type capturer interface {
	Capturing() bool
}

type viewID int

const (
	viewConferences viewID = iota
	viewRoom
	viewParticipant
	viewCascade
	viewLog
	viewCount
)

var viewNames = [viewCount]string{"Conferences", "Conference", "Participant", "Cascade", "Log"}

// state is what the root shares with its components: the latest snapshot,
// the console's own history of it, and the current selection. Only the tea
// event loop touches it, so it needs no lock.
type state struct {
	snap snapshot.Snapshot
	have bool // false until the first snapshot arrives
	hist *history
	st   *Styles
	logs *LogBuffer
	room string // selected conference name
	pid  string // selected participant id within room
}

func (s *state) conference() (*snapshot.Conference, bool) {
	if s.room == "" {
		return nil, false
	}
	return s.snap.Find(s.room)
}

func (s *state) participant() (*snapshot.Conference, *snapshot.Participant, bool) {
	c, ok := s.conference()
	if !ok || s.pid == "" {
		return c, nil, false
	}
	p, ok := c.Find(s.pid)
	return c, p, ok
}

// Messages that flow through the program.
type (
	// snapshotMsg carries one snapshot of the shown node, or why there is
	// none; gen tells a reply from a node no longer shown.
	snapshotMsg struct {
		snap snapshot.Snapshot
		err  error
		gen  int
	}
	// tickMsg asks for the next snapshot of the node shown at generation gen.
	tickMsg struct{ gen int }
	// navigateMsg asks the root to show another view.
	navigateMsg struct{ view viewID }
	// shownMsg tells a component it became the active view.
	shownMsg struct{}
	// confirmMsg asks the root to confirm an action before running it.
	confirmMsg struct {
		prompt string
		action string // name for the log
		attrs  []any  // extra log attributes
		run    func(Actions) error
		done   string // status line after success
		quit   bool   // on "yes", end the program instead of running anything
	}
	// chooseLayerMsg asks the root to let the operator pick a layer cap.
	chooseLayerMsg struct{ room, pid, name string }
	// actionDoneMsg carries the outcome of a confirmed action.
	actionDoneMsg struct {
		desc string
		err  error
	}
)

func send(msg tea.Msg) tea.Cmd { return func() tea.Msg { return msg } }

func navigate(v viewID) tea.Cmd { return send(navigateMsg{view: v}) }

// Key bindings shared by several views.
var (
	keyUp     = key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up"))
	keyDown   = key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down"))
	keyPgUp   = key.NewBinding(key.WithKeys("pgup", "ctrl+u"), key.WithHelp("pgup", "page up"))
	keyPgDown = key.NewBinding(key.WithKeys("pgdown", "ctrl+d"), key.WithHelp("pgdn", "page down"))
	keyHome   = key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "top"))
	keyEnd    = key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "bottom"))
	keyEnter  = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open"))
	keyKick   = key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "kick"))
	keyCap    = key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "cap layer"))
	keyMute   = key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "mute audio"))
	keyRecord = key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "record"))
)

// recordAction turns R in a conference into a request for the root to
// confirm starting or stopping its recording.
func recordAction(c *snapshot.Conference) tea.Cmd {
	room := c.Name
	if c.Recording != nil {
		return send(confirmMsg{
			prompt: "Stop recording " + clean(room) + "? The files are closed and kept.",
			action: "stop_recording",
			done:   "Stopped recording " + clean(room),
			attrs:  []any{"conference", room},
			run:    func(a Actions) error { return a.StopRecording(room) },
		})
	}
	return send(confirmMsg{
		prompt: "Record " + clean(room) + " on the node? Everyone in it is told.",
		action: "start_recording",
		done:   "Recording " + clean(room),
		attrs:  []any{"conference", room},
		run:    func(a Actions) error { return a.StartRecording(room, "console") },
	})
}

// listCursor moves a cursor over n rows for the common movement keys and
// reports whether the key was one of them.
func listCursor(msg tea.KeyMsg, cur, n, page int) (int, bool) {
	switch {
	case key.Matches(msg, keyUp):
		cur--
	case key.Matches(msg, keyDown):
		cur++
	case key.Matches(msg, keyPgUp):
		cur -= max(1, page)
	case key.Matches(msg, keyPgDown):
		cur += max(1, page)
	case key.Matches(msg, keyHome):
		cur = 0
	case key.Matches(msg, keyEnd):
		cur = n - 1
	default:
		return cur, false
	}
	return max(0, min(cur, n-1)), true
}

// participantActions turns an action key on a participant into a request
// for the root to confirm.
func participantActions(msg tea.KeyMsg, room string, p *snapshot.Participant) tea.Cmd {
	if p == nil {
		return nil
	}
	label := p.Name
	if label == "" {
		label = p.ID
	}
	id := p.ID
	attrs := []any{"conference", room, "participant", id}
	switch {
	case key.Matches(msg, keyKick):
		return send(confirmMsg{
			prompt: "Remove " + label + " (" + p.ID + ") from " + room + "?",
			action: "kick",
			done:   "Removed " + label + " from " + room,
			attrs:  attrs,
			run:    func(a Actions) error { return a.Kick(room, id) },
		})
	case key.Matches(msg, keyCap):
		return send(chooseLayerMsg{room: room, pid: p.ID, name: label})
	case key.Matches(msg, keyMute):
		verb, muted := "Mute", true
		if p.AudioMuted {
			verb, muted = "Unmute", false
		}
		return send(confirmMsg{
			prompt: verb + " the audio of " + label + " in " + room + "?",
			action: "mute_audio",
			done:   verb + "d the audio of " + label,
			attrs:  append(attrs, "muted", muted),
			run:    func(a Actions) error { return a.MuteAudio(room, id, muted) },
		})
	}
	return nil
}
