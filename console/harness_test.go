package console

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"github.com/switchyard/switchyard/internal/syncbuf"
	"github.com/switchyard/switchyard/node/snapshot"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

type fakeSource struct {
	mu   sync.Mutex
	snap snapshot.Snapshot
}

func (f *fakeSource) Snapshot() snapshot.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap
}

// fakeActions records calls as strings such as "kick standup p-bob".
type fakeActions struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (f *fakeActions) record(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	return f.err
}

func (f *fakeActions) Kick(room, id string) error { return f.record("kick %s %s", room, id) }
func (f *fakeActions) StartRecording(room, by string) error {
	return f.record("record %s %s", room, by)
}
func (f *fakeActions) StopRecording(room string) error { return f.record("stop recording %s", room) }
func (f *fakeActions) CapLayer(room, id, rid string) error {
	return f.record("cap %s %s %q", room, id, rid)
}
func (f *fakeActions) MuteAudio(room, id string, muted bool) error {
	return f.record("mute %s %s %v", room, id, muted)
}
func (f *fakeActions) SetDraining(on bool) error { return f.record("drain %v", on) }

func (f *fakeActions) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// plainRenderer draws without colour, so goldens are plain text.
func plainRenderer() *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	r.SetHasDarkBackground(true)
	return r
}

// fixedLogs is a log buffer with records at fixed times.
func fixedLogs() *LogBuffer {
	b := NewLogBuffer(100, nil)
	add := func(sec int, l slog.Level, msg string, attrs ...any) {
		r := slog.NewRecord(fixtureBase.Add(time.Duration(sec)*time.Second), l, msg, 0)
		r.Add(attrs...)
		_ = b.Handle(context.Background(), r)
	}
	add(-300, slog.LevelInfo, "node started", "id", "n1", "region", "eu-west")
	add(-299, slog.LevelDebug, "ice gathering", "candidates", 2)
	add(-290, slog.LevelInfo, "participant joined", "room", "standup", "participant", "p-alice")
	add(-240, slog.LevelInfo, "participant joined", "room", "standup", "participant", "p-bob")
	add(-200, slog.LevelWarn, "high loss", "participant", "p-bob", "loss_pct", 6.2)
	add(-120, slog.LevelInfo, "participant joined", "room", "standup", "participant", "p-carol", "node", "n2")
	add(-60, slog.LevelError, "relay link down", "peer", "n3", "err", errors.New("connection refused"))
	add(-30, slog.LevelInfo, "participant joined", "room", "lobby", "participant", "p-erin")
	return b
}

// harness drives a root model by hand: no program, no timers.
type harness struct {
	t    testing.TB
	m    *root
	act  *fakeActions
	log  *syncbuf.Buffer
	quit bool
}

func newHarness(t testing.TB, w, h int, snaps ...snapshot.Snapshot) *harness {
	t.Helper()
	act := &fakeActions{}
	logBuf := &syncbuf.Buffer{}
	opts := Options{
		Renderer: plainRenderer(),
		Logs:     fixedLogs(),
		Logger:   slog.New(slog.NewTextHandler(logBuf, nil)),
		Viewer:   "ssh:SHA256:testkey",
	}
	hs := &harness{t: t, act: act, log: logBuf}
	hs.m = NewModel(&fakeSource{}, act, opts).(*root)
	hs.m.tick = func(time.Duration) tea.Cmd { return nil }
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	if len(snaps) == 0 {
		// A minute and a bit of history, so the sparklines are full.
		for i := 0; i <= historySecs; i++ {
			snaps = append(snaps, fixtureAt(i))
		}
	}
	for _, s := range snaps {
		hs.send(snapshotMsg{snap: s})
	}
	return hs
}

// send delivers msg and then every message its commands produce, the way a
// program would, but synchronously.
func (hs *harness) send(msg tea.Msg) {
	queue := []tea.Msg{msg}
	for len(queue) > 0 {
		msg, queue = queue[0], queue[1:]
		switch msg := msg.(type) {
		case tea.QuitMsg:
			hs.quit = true
			continue
		case tea.BatchMsg:
			for _, c := range msg {
				if c != nil {
					queue = append(queue, c())
				}
			}
			continue
		case nil:
			continue
		}
		_, cmd := hs.m.Update(msg)
		if cmd != nil {
			queue = append(queue, cmd())
		}
	}
}

func keyMsg(k string) tea.KeyMsg {
	types := map[string]tea.KeyType{
		"enter": tea.KeyEnter, "esc": tea.KeyEsc, "tab": tea.KeyTab, "shift+tab": tea.KeyShiftTab,
		"up": tea.KeyUp, "down": tea.KeyDown, "ctrl+c": tea.KeyCtrlC, "backspace": tea.KeyBackspace,
		"pgup": tea.KeyPgUp, "pgdown": tea.KeyPgDown, "home": tea.KeyHome, "end": tea.KeyEnd,
	}
	if t, ok := types[k]; ok {
		return tea.KeyMsg{Type: t}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

func (hs *harness) press(keys ...string) {
	for _, k := range keys {
		hs.send(keyMsg(k))
	}
}

func (hs *harness) view() string { return hs.m.View() }

// checkFrame asserts the console's layout rules: exactly h lines, none wider
// than w.
func checkFrame(t *testing.T, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) != h {
		t.Errorf("view has %d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			t.Errorf("line %d is %d cells wide, more than %d: %q", i, lw, w, l)
		}
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("view differs from %s (run go test -update if the change is intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
