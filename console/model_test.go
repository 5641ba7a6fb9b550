package console

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/muesli/termenv"
)

func TestGoldenViews(t *testing.T) {
	cases := []struct {
		name     string
		keys     []string
		peers    bool
		contains []string // checked besides the golden, so a wrong golden cannot hide a bug
	}{
		{name: "conferences", contains: []string{"standup", "lobby", "alice", "6.2%"}},
		{name: "conference", keys: []string{"enter"}, contains: []string{"Conference lobby", "erin", "frank", "● REC 1m20s"}},
		{name: "conference_standup", keys: []string{"down", "enter"}, contains: []string{"alice", "us-east", "95ms", "6.2%"}},
		{name: "conference_sort_rtt", keys: []string{"down", "enter", "s", "s", "s"}, contains: []string{"RTT▼"}},
		{name: "conference_filter", keys: []string{"down", "enter", "/", "o", "b", "enter"}, contains: []string{"filter: ob (1 shown)", "bob"}},
		{name: "participant", keys: []string{"down", "enter", "enter"}, contains: []string{"Participant alice", "bandwidth estimate", "waiting for keyframe", "131ms", "2 1.4s"}},
		{name: "participant_scrolled", keys: []string{"down", "enter", "enter", "G"}, contains: []string{"312ms", "loss ↓", "max 2.0%"}},
		{name: "cascade_empty", keys: []string{"4"}, contains: []string{"relays to no other node"}},
		{name: "cascade", keys: []string{"down", "4"}, peers: true, contains: []string{
			"ap-south", "228ms", "down", "drain", "61%", "412/388/405", "replayed 17", "peers 2/3",
			"End-to-end RTT in standup", "42+228+42", "312ms", "42+0+95", "+26ms", "carol ⇄",
		}},
		{name: "participant_remote", keys: []string{"down", "enter", "down", "down", "enter"}, contains: []string{"Participant carol", "⇄ remote: hosted by node n2", "region ap-south"}},
		{name: "log", keys: []string{"5"}, contains: []string{"relay link down", "node started"}},
		{name: "log_warn", keys: []string{"5", "l", "l"}, contains: []string{"level ≥ WARN", "high loss"}},
		{name: "confirm_kick", keys: []string{"down", "enter", "x"}, contains: []string{"Remove alice (p-alice) from standup?"}},
		{name: "choose_layer", keys: []string{"down", "enter", "c"}, contains: []string{"[h] half"}},
	}
	sizes := [][2]int{{80, 24}, {160, 48}}
	for _, tc := range cases {
		for _, sz := range sizes {
			t.Run(fmt.Sprintf("%s_%dx%d", tc.name, sz[0], sz[1]), func(t *testing.T) {
				var hs *harness
				if tc.peers {
					hs = newHarness(t, sz[0], sz[1], withPeers(fixtureAt(0)))
				} else {
					hs = newHarness(t, sz[0], sz[1])
				}
				hs.press(tc.keys...)
				v := hs.view()
				checkFrame(t, v, sz[0], sz[1])
				if strings.ContainsRune(v, '\x1b') {
					t.Error("plain renderer produced escape codes")
				}
				for _, s := range tc.contains {
					if !strings.Contains(v, s) {
						t.Errorf("view lacks %q:\n%s", s, v)
					}
				}
				golden(t, fmt.Sprintf("%s_%dx%d", tc.name, sz[0], sz[1]), v)
			})
		}
	}
}

// Every view at every width from the smallest to very wide keeps within
// the terminal: columns drop, lines never wrap.
func TestViewsFitEveryWidth(t *testing.T) {
	for w := minWidth; w <= 220; w += 7 {
		for _, h := range []int{minHeight, 24, 50} {
			hs := newHarness(t, w, h, fixtureAt(0), withPeers(fixtureAt(1)))
			for _, keys := range [][]string{nil, {"down", "enter"}, {"enter"}, {"4"}, {"5"}, {"tab"}} {
				hs.press("1", "home")
				hs.press(keys...)
				checkFrame(t, hs.view(), w, h)
			}
		}
	}
}

func TestTooSmall(t *testing.T) {
	hs := newHarness(t, 20, 5)
	v := hs.view()
	checkFrame(t, v, 20, 5)
	if !strings.Contains(v, "terminal too small") {
		t.Fatalf("no notice at 20x5:\n%s", v)
	}
	golden(t, "too_small_20x5", v)
	// Keys still work while the notice is up, and growing restores the view.
	hs.press("tab", "enter", "down", "enter", "x", "n", "/", "a")
	hs.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	if v := hs.view(); strings.Contains(v, "too small") || !strings.Contains(v, "participants 6") {
		t.Fatalf("view after resize:\n%s", v)
	}
}

func TestColourFollowsEnvironment(t *testing.T) {
	cases := []struct {
		name    string
		env     []string
		wantESC bool
	}{
		// The first case proves that the check can fail: colours do appear.
		{"truecolor", []string{"TERM=xterm-256color", "COLORTERM=truecolor"}, true},
		{"no_color", []string{"TERM=xterm-256color", "COLORTERM=truecolor", "NO_COLOR=1"}, false},
		{"dumb", []string{"TERM=dumb"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			r := newRenderer(&out, tc.env, termenv.WithTTY(true))
			r.SetHasDarkBackground(true)
			m := NewModel(&fakeSource{}, &fakeActions{}, Options{Renderer: r, Logs: fixedLogs()})
			m.Update(tea.WindowSizeMsg{Width: 120, Height: 30})
			m.Update(snapshotMsg{snap: fixtureAt(0)})
			for _, k := range []string{"", "down", "enter", "enter", "5"} {
				if k != "" {
					m.Update(keyMsg(k))
				}
				v := m.View()
				if got := strings.ContainsRune(v, '\x1b'); got != tc.wantESC {
					t.Fatalf("after %q: escape codes present = %v, want %v:\n%q", k, got, tc.wantESC, v)
				}
			}
		})
	}
}

func TestActions(t *testing.T) {
	cases := []struct {
		name   string
		keys   []string
		want   []string
		status string
		quit   bool
		logged string // in the action's log line
	}{
		{name: "kick confirmed", keys: []string{"down", "enter", "down", "x", "y"}, want: []string{"kick standup p-bob"}, status: "Removed bob from standup",
			logged: "action=kick viewer=ssh:SHA256:testkey conference=standup participant=p-bob"},
		{name: "kick cancelled", keys: []string{"down", "enter", "x", "n"}, status: "Cancelled"},
		{name: "kick cancelled by esc", keys: []string{"down", "enter", "x", "esc"}, status: "Cancelled"},
		{name: "other keys do not confirm", keys: []string{"down", "enter", "x", "enter", " ", "q", "x"}},
		{name: "kick from participant view", keys: []string{"down", "enter", "enter", "x", "y"}, want: []string{"kick standup p-alice"}},
		{name: "cap layer", keys: []string{"down", "enter", "c", "h", "y"}, want: []string{`cap standup p-alice "h"`},
			logged: "action=cap_layer viewer=ssh:SHA256:testkey conference=standup participant=p-alice rid=h"},
		{name: "remove cap", keys: []string{"down", "enter", "end", "c", "n", "y"}, want: []string{`cap standup p-dave ""`}},
		{name: "cap cancelled at choice", keys: []string{"down", "enter", "c", "esc", "y"}},
		{name: "cap cancelled at confirmation", keys: []string{"down", "enter", "c", "f", "n"}},
		{name: "mute", keys: []string{"down", "enter", "m", "y"}, want: []string{"mute standup p-alice true"}},
		{name: "unmute a muted participant", keys: []string{"down", "enter", "end", "m", "y"}, want: []string{"mute standup p-dave false"}},
		{name: "record", keys: []string{"down", "enter", "R", "y"}, want: []string{"record standup console"}, status: "Recording standup",
			logged: "action=start_recording viewer=ssh:SHA256:testkey conference=standup"},
		{name: "stop recording", keys: []string{"enter", "R", "y"}, want: []string{"stop recording lobby"}, status: "Stopped recording lobby"},
		{name: "record cancelled", keys: []string{"down", "enter", "R", "n"}},
		{name: "drain", keys: []string{"D", "y"}, want: []string{"drain true"}, status: "Draining"},
		{name: "drain cancelled", keys: []string{"D", "n"}},
		{name: "quit", keys: []string{"q", "y"}, quit: true},
		{name: "quit cancelled", keys: []string{"q", "n"}},
		{name: "ctrl+c twice quits", keys: []string{"ctrl+c", "ctrl+c"}, quit: true},
		{name: "ctrl+c does not confirm an action", keys: []string{"D", "ctrl+c"}},
		{name: "filter text is not a command", keys: []string{"down", "enter", "/", "x", "q", "D", "esc"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, 100, 30, fixtureAt(0))
			hs.press(tc.keys...)
			got := hs.act.got()
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("actions = %q, want %q", got, tc.want)
			}
			if hs.quit != tc.quit {
				t.Errorf("quit = %v, want %v", hs.quit, tc.quit)
			}
			if tc.status != "" && !strings.Contains(hs.view(), tc.status) {
				t.Errorf("status %q not shown:\n%s", tc.status, hs.view())
			}
			logs := hs.log.String()
			for range tc.want {
				if !strings.Contains(logs, "viewer=ssh:SHA256:testkey") {
					t.Errorf("action not logged with the viewer: %q", logs)
				}
			}
			if !strings.Contains(logs, tc.logged) {
				t.Errorf("action log lacks %q: %q", tc.logged, logs)
			}
			if len(tc.want) == 0 && strings.Contains(logs, "console action") {
				t.Errorf("an action was logged but none should have run: %q", logs)
			}
		})
	}
}

func TestActionFailureIsShown(t *testing.T) {
	hs := newHarness(t, 100, 30, fixtureAt(0))
	hs.act.err = fmt.Errorf("room is closing")
	hs.press("D", "y")
	if v := hs.view(); !strings.Contains(v, "Failed: room is closing") {
		t.Fatalf("failure not shown:\n%s", v)
	}
	if !strings.Contains(hs.log.String(), "console action failed") {
		t.Fatalf("failure not logged: %q", hs.log.String())
	}
}

func TestNavigation(t *testing.T) {
	hs := newHarness(t, 100, 30, fixtureAt(0))
	steps := []struct {
		keys []string
		want viewID
	}{
		{nil, viewConferences},
		{[]string{"tab"}, viewRoom},
		{[]string{"tab", "tab", "tab"}, viewConferences + 4},
		{[]string{"tab"}, viewConferences},
		{[]string{"shift+tab"}, viewLog},
		{[]string{"3"}, viewParticipant},
		{[]string{"esc"}, viewRoom},
		{[]string{"esc"}, viewConferences},
		{[]string{"enter", "enter"}, viewParticipant},
		{[]string{"9"}, viewParticipant},
	}
	for i, s := range steps {
		hs.press(s.keys...)
		if hs.m.active != s.want {
			t.Fatalf("step %d (%v): view %s, want %s", i, s.keys, viewNames[hs.m.active], viewNames[s.want])
		}
	}
}

// A selected participant who leaves is reported, not silently replaced.
func TestParticipantLeaves(t *testing.T) {
	hs := newHarness(t, 100, 30, fixtureAt(0))
	hs.press("down", "enter", "down", "enter")
	if v := hs.view(); !strings.Contains(v, "Participant bob") {
		t.Fatalf("not showing bob:\n%s", v)
	}
	s := fixtureAt(1)
	c, _ := s.Find("standup")
	c.Participants = c.Participants[:1] // dave only
	hs.send(snapshotMsg{snap: s})
	if v := hs.view(); !strings.Contains(v, "p-bob has left standup") {
		t.Fatalf("departure not shown:\n%s", v)
	}
}

// Names come from clients; escape sequences in them must not reach the
// terminal.
func TestHostileNamesAreCleaned(t *testing.T) {
	s := fixtureAt(0)
	c, _ := s.Find("lobby")
	c.Participants[0].Name = "evil\x1b[2J\x1b]0;pwned\x07"
	hs := newHarness(t, 120, 30, s)
	for _, keys := range [][]string{nil, {"enter"}, {"enter"}} {
		hs.press(keys...)
		if v := hs.view(); strings.ContainsRune(v, '\x1b') || strings.ContainsRune(v, '\x07') {
			t.Fatalf("control characters reached the view: %q", v)
		}
	}
}
