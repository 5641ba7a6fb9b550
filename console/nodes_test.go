package console

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/switchyard/switchyard/internal/syncbuf"
	"github.com/switchyard/switchyard/node/snapshot"
)

// secondNode is the cascade as n2 sees it: standup, with carol at home and
// the others relayed from n1.
func secondNode() snapshot.Snapshot {
	s := withPeers(fixtureAt(0))
	s.Node.ID, s.Node.Region, s.Node.Participants, s.Node.Conferences = "n2", "ap-south", 4, 1
	s.Node.Peers = []snapshot.Peer{{ID: "n1", Region: "eu-west", Alive: true, RTTMs: 228, Conferences: []string{"standup"}}}
	standup, _ := s.Find("standup")
	for i := range standup.Participants {
		p := &standup.Participants[i]
		p.Remote = p.Node != "n2"
	}
	s.Conferences = []snapshot.Conference{*standup}
	return s
}

// sickSource is a node that has stopped: Err says why, or Snapshot panics.
type sickSource struct {
	mu    sync.Mutex
	err   error
	panic bool
	snap  snapshot.Snapshot
}

func (s *sickSource) Snapshot() snapshot.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.panic {
		panic("node closed")
	}
	return s.snap
}

func (s *sickSource) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

type nodesHarness struct {
	*harness
	acts []*fakeActions
}

// newNodesHarness drives a console over several nodes; the first node's
// snapshot is fetched through its Source as a program would.
func newNodesHarness(t *testing.T, w, h int, srcs ...Source) *nodesHarness {
	t.Helper()
	nh := &nodesHarness{harness: &harness{t: t, log: &syncbuf.Buffer{}}}
	var nodes []NodeView
	for i, src := range srcs {
		a := &fakeActions{}
		nh.acts = append(nh.acts, a)
		nodes = append(nodes, NodeView{Name: fmt.Sprintf("node-%d", i+1), Source: src, Actions: a})
	}
	opts := Options{
		Renderer: plainRenderer(),
		Logs:     fixedLogs(),
		Logger:   slog.New(slog.NewTextHandler(nh.log, nil)),
		Viewer:   "local",
		Nodes:    nodes,
	}
	// src and act must be ignored when Nodes is set.
	nh.act = &fakeActions{}
	nh.m = NewModel(&fakeSource{snap: fixtureAt(99)}, nh.act, opts).(*root)
	nh.m.tick = func(time.Duration) tea.Cmd { return nil }
	nh.send(tea.WindowSizeMsg{Width: w, Height: h})
	nh.send(nh.m.fetch()())
	return nh
}

func headerOf(v string) string { return strings.SplitN(v, "\n", 2)[0] }

func TestNodeSwitching(t *testing.T) {
	nh := newNodesHarness(t, 100, 30, &fakeSource{snap: withPeers(fixtureAt(0))}, &fakeSource{snap: secondNode()}, &fakeSource{snap: fixtureAt(0)})
	steps := []struct {
		keys   []string
		header string
	}{
		{nil, "node 1/3 n1"},
		{[]string{"]"}, "node 2/3 n2"},
		{[]string{"]"}, "node 3/3 n1"},
		{[]string{"]"}, "node 1/3 n1"},
		{[]string{"["}, "node 3/3 n1"},
		{[]string{"[", "["}, "node 1/3 n1"},
		{[]string{"]"}, "node 2/3 n2"},
	}
	for i, s := range steps {
		nh.press(s.keys...)
		if h := headerOf(nh.view()); !strings.Contains(h, s.header) {
			t.Fatalf("step %d (%v): header %q, want %q", i, s.keys, h, s.header)
		}
	}
	if v := nh.view(); !strings.Contains(v, "ap-south") || !strings.Contains(v, "[/] node") {
		t.Errorf("node 2's view or the switch key's help missing:\n%s", v)
	}

	// Actions go to the node shown, and the log says which.
	nh.press("D")
	if v := nh.view(); !strings.Contains(v, "Drain node n2?") {
		t.Fatalf("drain prompt does not name the node:\n%s", v)
	}
	nh.press("y")
	if got := nh.acts[1].got(); len(got) != 1 || got[0] != "drain true" {
		t.Errorf("node 2 actions %q, want [drain true]", got)
	}
	for i, a := range []*fakeActions{nh.acts[0], nh.acts[2], nh.act} {
		if got := a.got(); len(got) != 0 {
			t.Errorf("actions %d got %q; only node 2's should run", i, got)
		}
	}
	if !strings.Contains(nh.log.String(), "node=n2") {
		t.Errorf("action not logged with the node: %s", nh.log.String())
	}

	// A reply from the node shown before the switch is dropped.
	nh.send(snapshotMsg{snap: fixtureAt(5), gen: 0})
	if h := headerOf(nh.view()); !strings.Contains(h, "node 2/3 n2") {
		t.Errorf("stale snapshot replaced the shown node: %q", h)
	}
	nh.send(tickMsg{gen: 0})
	if h := headerOf(nh.view()); !strings.Contains(h, "node 2/3 n2") {
		t.Errorf("stale tick fetched from the old node: %q", h)
	}
}

// The conference and participant selected on one node stay selected on the
// next when it hosts them too, as a cascaded conference does.
func TestNodeSwitchKeepsSelection(t *testing.T) {
	nh := newNodesHarness(t, 100, 30, &fakeSource{snap: fixtureAt(0)}, &fakeSource{snap: secondNode()})
	nh.press("down", "enter", "down", "enter") // bob in standup
	nh.press("]")
	v := nh.view()
	if !strings.Contains(v, "Participant bob") || !strings.Contains(v, "⇄ remote: hosted by node n1") {
		t.Fatalf("bob not kept on n2, or not marked remote there:\n%s", v)
	}
	// lobby is only on n1: on n2 the selection falls back to standup.
	nh.press("[", "1", "up", "]", "2")
	if v := nh.view(); !strings.Contains(v, "Conference standup") {
		t.Fatalf("no fallback to a conference n2 has:\n%s", v)
	}
}

func TestSingleNodeHasNoSwitch(t *testing.T) {
	hs := newHarness(t, 120, 30, fixtureAt(0))
	hs.press("]", "[")
	v := hs.view()
	if !strings.HasPrefix(v, "node n1  ") || strings.Contains(v, "[/]") {
		t.Fatalf("single node console shows switching:\n%s", v)
	}
}

func TestNodeDown(t *testing.T) {
	cases := []struct {
		name   string
		src    *sickSource
		banner string
	}{
		{"health error", &sickSource{err: errors.New("node closed"), snap: secondNode()}, "Node node-2 is not answering: node closed"},
		{"panicking source", &sickSource{panic: true}, "Node node-2 is not answering: snapshot failed: node closed"},
		{"empty snapshot", &sickSource{}, "Node node-2 is not answering: the node returned no state"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nh := newNodesHarness(t, 100, 30, &fakeSource{snap: fixtureAt(0)}, tc.src)
			nh.press("]")
			v := nh.view()
			checkFrame(t, v, 100, 30)
			if !strings.Contains(v, tc.banner) || !strings.Contains(headerOf(v), "DOWN") {
				t.Fatalf("down node not shown as down:\n%s", v)
			}
			if !strings.Contains(v, "Waiting for the node's first snapshot") {
				t.Errorf("a node never seen shows state:\n%s", v)
			}
			// Keys still work, and actions reach that node.
			nh.press("D", "y")
			if got := nh.acts[1].got(); len(got) != 1 {
				t.Errorf("actions on the down node: %q", got)
			}
			// The other node is unaffected.
			nh.press("[")
			if v := nh.view(); strings.Contains(v, "not answering") || strings.Contains(headerOf(v), "DOWN") {
				t.Errorf("node 1 shown as down:\n%s", v)
			}
		})
	}
}

// A node that goes down keeps its last state on screen under the banner,
// and the banner goes when it answers again.
func TestNodeDownAndBack(t *testing.T) {
	src := &sickSource{snap: withPeers(fixtureAt(0))}
	nh := newNodesHarness(t, 80, 24, src, &fakeSource{snap: secondNode()})
	nh.press("4")
	src.mu.Lock()
	src.err = errors.New("relay: node stopped")
	src.mu.Unlock()
	nh.send(nh.m.fetch()())
	v := nh.view()
	checkFrame(t, v, 80, 24)
	if !strings.Contains(v, "not answering: relay: node stopped. Its last state is shown.") || !strings.Contains(v, "ap-south") {
		t.Fatalf("last state not kept under the banner:\n%s", v)
	}
	golden(t, "node_down_80x24", v)
	if n := strings.Count(nh.log.String(), "node not answering"); n != 1 {
		t.Errorf("down logged %d times, want once", n)
	}
	nh.send(nh.m.fetch()())
	if n := strings.Count(nh.log.String(), "node not answering"); n != 1 {
		t.Errorf("down logged %d times after a second failed snapshot, want once", n)
	}
	src.mu.Lock()
	src.err = nil
	src.mu.Unlock()
	nh.send(nh.m.fetch()())
	if v := nh.view(); strings.Contains(v, "not answering") || strings.Contains(headerOf(v), "DOWN") {
		t.Fatalf("banner stays after the node answers:\n%s", v)
	}
}

func TestNodeWithoutActions(t *testing.T) {
	nh := newNodesHarness(t, 100, 30, &fakeSource{snap: fixtureAt(0)}, &fakeSource{snap: secondNode()})
	nh.m.nodes[1].Actions = nil
	nh.press("]", "D", "y")
	if v := nh.view(); !strings.Contains(v, "Failed: actions are not available") {
		t.Fatalf("missing actions not reported:\n%s", v)
	}
}

func TestGoldenNodeSwitch(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			nh := newNodesHarness(t, sz[0], sz[1], &fakeSource{snap: withPeers(fixtureAt(0))}, &fakeSource{snap: secondNode()})
			nh.press("down", "enter", "]")
			v := nh.view()
			checkFrame(t, v, sz[0], sz[1])
			for _, want := range []string{"node 2/2 n2", "Conference standup", "carol ", "alice ⇄", "[/] node"} {
				if !strings.Contains(v, want) {
					t.Errorf("view lacks %q:\n%s", want, v)
				}
			}
			golden(t, fmt.Sprintf("nodes_switch_%dx%d", sz[0], sz[1]), v)
		})
	}
}

// The banner and the node counter keep every line within the terminal.
func TestNodeViewsFitEveryWidth(t *testing.T) {
	for w := minWidth; w <= 200; w += 9 {
		for _, h := range []int{minHeight, 24} {
			down := &sickSource{err: errors.New(strings.Repeat("very long failure ", 20)), snap: secondNode()}
			nh := newNodesHarness(t, w, h, &fakeSource{snap: withPeers(fixtureAt(0))}, down)
			for _, keys := range [][]string{nil, {"4"}, {"]"}, {"2"}, {"3"}, {"["}} {
				nh.press(keys...)
				checkFrame(t, nh.view(), w, h)
			}
		}
	}
}
