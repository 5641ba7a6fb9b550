package console

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

var keyLevel = key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "level"))

var logLevels = []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}

// logView shows the node's recent log records, newest at the bottom. It
// follows new records until the operator scrolls up.
type logView struct {
	s      *state
	width  int
	height int
	level  int // index into logLevels: the least severe level shown
	back   int // lines scrolled up from the newest; 0 follows
}

func newLogView(s *state) *logView { return &logView{s: s} }

func (v *logView) Init() tea.Cmd { return nil }

func (v *logView) SetSize(w, h int) { v.width, v.height = w, h }

func (v *logView) Help() []key.Binding {
	return []key.Binding{keyUp, keyDown, keyEnd, keyLevel}
}

func (v *logView) entries() []LogEntry {
	if v.s.logs == nil {
		return nil
	}
	all := v.s.logs.Entries()
	least := logLevels[v.level]
	out := all[:0]
	for _, e := range all {
		if e.Level >= least {
			out = append(out, e)
		}
	}
	return out
}

func (v *logView) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	if key.Matches(km, keyLevel) {
		v.level = (v.level + 1) % len(logLevels)
		v.back = 0
		return nil
	}
	page := v.height - 1
	switch {
	case key.Matches(km, keyUp):
		v.back++
	case key.Matches(km, keyDown):
		v.back--
	case key.Matches(km, keyPgUp):
		v.back += page
	case key.Matches(km, keyPgDown):
		v.back -= page
	case key.Matches(km, keyHome):
		v.back = 1 << 30
	case key.Matches(km, keyEnd):
		v.back = 0
	}
	// The upper bound depends on how many records there are, so View
	// applies it.
	v.back = max(0, v.back)
	return nil
}

func (v *logView) View() string {
	st := v.s.st
	if v.s.logs == nil {
		return st.Section.Render("Log") + "\n\n" + st.Dim.Render("No log buffer is attached to this console.")
	}
	es := v.entries()
	page := max(0, v.height-1)
	v.back = max(0, min(v.back, len(es)-page))
	end := len(es) - v.back
	start := max(0, end-page)
	mode := "following"
	if v.back > 0 {
		mode = fmt.Sprintf("%d newer below (G to follow)", v.back)
	}
	var b strings.Builder
	b.WriteString(fitSegments([]segment{
		{st.Section.Render("Log"), 0},
		{"level ≥ " + logLevels[v.level].String(), 0},
		{fmt.Sprintf("%d records", len(es)), 1},
		{mode, 0},
	}, v.width, " · "))
	if len(es) == 0 {
		b.WriteString("\n" + st.Dim.Render("No records at this level yet."))
	}
	for _, e := range es[start:end] {
		b.WriteString("\n" + v.line(e))
	}
	return b.String()
}

func (v *logView) line(e LogEntry) string {
	st := v.s.st
	var lst *lipgloss.Style
	switch {
	case e.Level >= slog.LevelError:
		lst = &st.LevelError
	case e.Level >= slog.LevelWarn:
		lst = &st.LevelWarn
	case e.Level >= slog.LevelInfo:
		lst = &st.LevelInfo
	default:
		lst = &st.LevelDebug
	}
	text := e.Time.Format("15:04:05.000") + " " + render(lst, fit(e.Level.String(), 5, false)) + " " + clean(e.Message)
	if e.Attrs != "" {
		text += " " + st.Dim.Render(clean(e.Attrs))
	}
	return clip(text, v.width)
}
