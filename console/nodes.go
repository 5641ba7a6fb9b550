package console

import (
	"errors"
	"fmt"
	"strconv"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/switchyard/switchyard/node/snapshot"
)

// errNoState is reported for a node whose Source returns an empty snapshot:
// a closed node has nothing left to show.
var errNoState = errors.New("the node returned no state (stopped?)")

// nodeState is what the console keeps of one node while another is shown,
// so that switching back shows its history at once.
type nodeState struct {
	snap snapshot.Snapshot
	have bool
	hist *history
	err  error // why the node is down; nil while it answers
}

// takeSnapshot asks src for its state. A node that has failed must show as
// down, not end the console, so a panic in its Source is caught here.
func takeSnapshot(src Source) (snap snapshot.Snapshot, err error) {
	if src == nil {
		return snap, errors.New("no source for this node")
	}
	defer func() {
		if r := recover(); r != nil {
			snap, err = snapshot.Snapshot{}, fmt.Errorf("snapshot failed: %v", r)
		}
	}()
	if h, ok := src.(Health); ok {
		if err := h.Err(); err != nil {
			return snap, err
		}
	}
	snap = src.Snapshot()
	if snap.Taken.IsZero() && snap.Node.ID == "" && snap.Node.Started.IsZero() {
		return snapshot.Snapshot{}, errNoState
	}
	return snap, nil
}

// keepSelection keeps the selected conference and participant after a node
// switch when the new node has them too (a cascaded conference spans
// nodes), and otherwise lets the views pick their first rows.
func (m *root) keepSelection() {
	c, ok := m.s.conference()
	if !ok {
		m.s.room, m.s.pid = "", ""
		return
	}
	if _, ok := c.Find(m.s.pid); !ok {
		m.s.pid = ""
	}
}

// switchNode shows node i and starts taking its snapshots.
func (m *root) switchNode(i int) tea.Cmd {
	if len(m.nodes) < 2 || i == m.cur {
		return nil
	}
	m.cur, m.gen, m.fresh = i, m.gen+1, true
	ns := &m.per[i]
	m.s.snap, m.s.have, m.s.hist = ns.snap, ns.have, ns.hist
	// The last action's result was about the other node.
	m.status, m.failed = "", false
	m.layout()
	return tea.Batch(m.fetch(), m.comps[m.active].Update(shownMsg{}))
}

// nodeLabel names the shown node: its id once known, else the name it was
// given.
func (m *root) nodeLabel() string {
	if m.s.have && m.s.snap.Node.ID != "" {
		return clean(m.s.snap.Node.ID)
	}
	if n := m.nodes[m.cur].Name; n != "" {
		return clean(n)
	}
	return fmt.Sprintf("node %d", m.cur+1)
}

// banner says that the shown node is down, and whether its last state is
// still on screen.
func (m *root) banner() string {
	ns := m.per[m.cur]
	if ns.err == nil {
		return ""
	}
	text := "Node " + m.nodeLabel() + " is not answering: " + clean(ns.err.Error())
	if ns.have {
		text += ". Its last state is shown."
	}
	return m.s.st.Error.Render(text)
}

// runAction calls an action; a node that has been closed under the console
// may panic, and that must fail the action, not end every viewer's console.
func runAction(run func(Actions) error, act Actions) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("action failed: %v", r)
		}
	}()
	return run(act)
}

// peersText counts the peers, as up/all when some are down.
func peersText(ps []snapshot.Peer) string {
	up := 0
	for _, p := range ps {
		if p.Alive {
			up++
		}
	}
	if up == len(ps) {
		return strconv.Itoa(len(ps))
	}
	// Short, so that the header keeps its other figures at 80 columns; the
	// Cascade view says which are down.
	return fmt.Sprintf("%d/%d", up, len(ps))
}
