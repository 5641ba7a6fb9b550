package console

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

const demoHint = "open http://127.0.0.1:8080/r/demo?name=you in a browser"

// setHint gives a running console a hint, as if it had been opened with
// Options.Hint, and lays it out again.
func (hs *harness) setHint(hint string) {
	hs.m.opts.Hint = hint
	hs.send(tea.WindowSizeMsg{Width: hs.m.width, Height: hs.m.height})
}

func TestGoldenHint(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			hs := newHarness(t, sz[0], sz[1])
			hs.setHint(demoHint)
			v := hs.view()
			checkFrame(t, v, sz[0], sz[1])
			if strings.ContainsRune(v, '\x1b') {
				t.Error("plain renderer produced escape codes")
			}
			if got := strings.Split(v, "\n")[2]; got != demoHint {
				t.Errorf("line under the tabs is %q, want the hint", got)
			}
			golden(t, fmt.Sprintf("hint_%dx%d", sz[0], sz[1]), v)
		})
	}
}

// The hint takes one line from the body and nothing else: every view is the
// same view one line shorter plus the hint, so no view sizes itself for a
// body it does not get.
func TestHintTakesOneLine(t *testing.T) {
	for _, keys := range [][]string{nil, {"down", "enter"}, {"down", "enter", "enter", "G"}, {"4"}, {"5", "G"}} {
		for _, sz := range [][2]int{{80, 24}, {160, 48}, {minWidth, minHeight + 1}} {
			w, h := sz[0], sz[1]
			with := newHarness(t, w, h)
			with.setHint(demoHint)
			with.press(keys...)
			without := newHarness(t, w, h-1)
			without.press(keys...)
			lines := strings.Split(with.view(), "\n")
			if len(lines) != h {
				t.Fatalf("%q at %dx%d: %d lines, want %d", keys, w, h, len(lines), h)
			}
			got := strings.Join(append(lines[:2:2], lines[3:]...), "\n")
			if want := without.view(); got != want {
				t.Errorf("%q at %dx%d: the hint changed more than its line\n--- with the hint, its line removed\n%s\n--- %d lines without\n%s",
					keys, w, h, got, h-1, want)
			}
		}
	}
}

func TestHintWithNodeDown(t *testing.T) {
	down := &sickSource{err: errors.New("relay: node stopped"), snap: secondNode()}
	for w := minWidth; w <= 200; w += 9 {
		for _, h := range []int{minHeight, 24} {
			nh := newNodesHarness(t, w, h, &fakeSource{snap: withPeers(fixtureAt(0))}, down)
			nh.setHint(demoHint + strings.Repeat(" and more", 20) + "\x1b[31m\n")
			for _, keys := range [][]string{nil, {"]"}, {"2"}, {"4"}, {"["}} {
				nh.press(keys...)
				v := nh.view()
				checkFrame(t, v, w, h)
				if strings.ContainsRune(v, '\x1b') {
					t.Fatalf("the hint's escape code reached the terminal:\n%q", v)
				}
				if !strings.HasPrefix(strings.Split(v, "\n")[2], "open http") {
					t.Fatalf("no hint under the tabs at %dx%d after %q:\n%s", w, h, keys, v)
				}
			}
		}
	}
}
