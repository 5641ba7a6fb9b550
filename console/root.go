package console

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
)

// The smallest terminal the console draws in; below it, a notice.
const (
	minWidth  = 40
	minHeight = 10
	// chrome is the header (2 lines) plus the status and help lines.
	chrome = 4
)

var (
	keyQuit  = key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit"))
	keyNext  = key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab/1-5", "views"))
	keyPrev  = key.NewBinding(key.WithKeys("shift+tab"))
	keyBack  = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back"))
	keyDrain = key.NewBinding(key.WithKeys("D"), key.WithHelp("D", "drain"))
	// Brackets, because tab and the digits already move between views.
	keyNodeNext = key.NewBinding(key.WithKeys("]"), key.WithHelp("[/]", "node"))
	keyNodePrev = key.NewBinding(key.WithKeys("["))
)

// root is the console's top-level model: it takes snapshots, draws the
// header and footer, runs confirmations and delegates the rest to the active
// view.
type root struct {
	opts   Options
	nodes  []NodeView  // at least one
	per    []nodeState // one per node, what the console last saw of it
	cur    int         // index of the node shown
	gen    int         // bumped at each switch, so replies from the old node are dropped
	fresh  bool        // no snapshot of the shown node since the switch
	s      *state
	comps  [viewCount]Component
	active viewID
	width  int
	height int

	confirm *confirmMsg     // pending confirmation, if any
	choose  *chooseLayerMsg // pending layer choice, if any
	status  string
	failed  bool // status reports an error

	// tick schedules the next snapshot; tests replace it to step by hand.
	tick func(time.Duration) tea.Cmd
}

func newRoot(src Source, act Actions, opts Options) *root {
	nodes := opts.Nodes
	if len(nodes) == 0 {
		nodes = []NodeView{{Source: src, Actions: act}}
	}
	per := make([]nodeState, len(nodes))
	for i := range per {
		per[i].hist = newHistory()
	}
	s := &state{hist: per[0].hist, st: newStyles(opts.Renderer), logs: opts.Logs}
	m := &root{opts: opts, nodes: nodes, per: per, s: s}
	m.comps = [viewCount]Component{
		viewConferences: newConferencesView(s),
		viewRoom:        newRoomView(s),
		viewParticipant: newParticipantView(s),
		viewCascade:     newCascadeView(s),
		viewLog:         newLogView(s),
	}
	m.tick = func(d time.Duration) tea.Cmd {
		gen := m.gen
		return tea.Tick(d, func(time.Time) tea.Msg { return tickMsg{gen: gen} })
	}
	return m
}

// fetch takes a snapshot of the shown node off the event loop.
func (m *root) fetch() tea.Cmd {
	src, gen := m.nodes[m.cur].Source, m.gen
	return func() tea.Msg {
		snap, err := takeSnapshot(src)
		return snapshotMsg{snap: snap, err: err, gen: gen}
	}
}

func (m *root) Init() tea.Cmd {
	cmds := []tea.Cmd{m.fetch()}
	for _, c := range m.comps {
		cmds = append(cmds, c.Init())
	}
	return tea.Batch(cmds...)
}

func (m *root) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return m, nil
	case snapshotMsg:
		if msg.gen != m.gen {
			// From the node shown before a switch; the switch started its own
			// chain of ticks.
			return m, nil
		}
		return m, m.snapshot(msg)
	case tickMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		// The next tick is armed only when this snapshot arrives, so a slow
		// Source never has two snapshots in flight.
		return m, m.fetch()
	case navigateMsg:
		return m, m.show(msg.view)
	case confirmMsg:
		m.confirm, m.choose = &msg, nil
		return m, nil
	case chooseLayerMsg:
		m.choose, m.confirm = &msg, nil
		return m, nil
	case actionDoneMsg:
		m.status, m.failed = msg.desc, msg.err != nil
		if msg.err != nil {
			m.status = "Failed: " + msg.err.Error()
		}
		return m, nil
	case tea.KeyMsg:
		return m, m.key(msg)
	}
	return m, m.comps[m.active].Update(msg)
}

// layout sizes the views to the body's height.
func (m *root) layout() {
	for _, c := range m.comps {
		c.SetSize(m.width, max(0, m.bodyHeight()))
	}
}

// bodyHeight is what the chrome leaves to the view: it loses a line to the
// hint, when there is one, and one to the banner while the shown node is
// down.
func (m *root) bodyHeight() int {
	h := m.height - chrome
	if m.opts.Hint != "" {
		h--
	}
	if m.per[m.cur].err != nil {
		h--
	}
	return h
}

func (m *root) snapshot(msg snapshotMsg) tea.Cmd {
	ns := &m.per[m.cur]
	next := m.tick(m.opts.Refresh)
	if msg.err != nil {
		if ns.err == nil {
			m.opts.Logger.Warn("console: node not answering", "node", m.nodeLabel(), "viewer", m.opts.Viewer, "err", msg.err)
		}
		// The last state stays on screen under the banner: it is what the
		// operator knew when the node went.
		ns.err = msg.err
		m.layout()
		return next
	}
	if ns.err != nil {
		ns.err = nil
		m.layout()
	}
	m.s.snap, m.s.have = msg.snap, true
	if m.s.snap.Taken.IsZero() {
		m.s.snap.Taken = time.Now()
	}
	m.s.hist.add(&m.s.snap)
	ns.snap, ns.have = m.s.snap, true
	if m.fresh {
		m.fresh = false
		m.keepSelection()
	}
	cmds := []tea.Cmd{next}
	for _, c := range m.comps {
		cmds = append(cmds, c.Update(msg))
	}
	return tea.Batch(cmds...)
}

func (m *root) key(msg tea.KeyMsg) tea.Cmd {
	if m.confirm != nil {
		return m.answer(msg)
	}
	if m.choose != nil {
		return m.chooseLayer(msg)
	}
	if c, ok := m.comps[m.active].(capturer); ok && c.Capturing() {
		return m.comps[m.active].Update(msg)
	}
	switch {
	case key.Matches(msg, keyQuit):
		prompt := "Quit the console and stop the node?"
		if strings.HasPrefix(m.opts.Viewer, "ssh:") {
			prompt = "Close this session? The node keeps running."
		}
		m.confirm = &confirmMsg{prompt: prompt, quit: true}
		return nil
	case key.Matches(msg, keyNodeNext):
		return m.switchNode((m.cur + 1) % len(m.nodes))
	case key.Matches(msg, keyNodePrev):
		return m.switchNode((m.cur + len(m.nodes) - 1) % len(m.nodes))
	case key.Matches(msg, keyNext):
		return m.show((m.active + 1) % viewCount)
	case key.Matches(msg, keyPrev):
		return m.show((m.active + viewCount - 1) % viewCount)
	case key.Matches(msg, keyDrain):
		on := !m.s.snap.Node.Draining
		which, named := "this node", ""
		if len(m.nodes) > 1 {
			// Several nodes share this console: say which one the action hits.
			which = "node " + m.nodeLabel()
			named = " " + which
		}
		prompt, done := "Drain "+which+"? New participants are refused; those here stay.", "Draining"+named+": new participants are refused"
		if !on {
			prompt, done = "Stop draining "+which+" and accept new participants again?", "No longer draining"+named
		}
		m.confirm = &confirmMsg{
			prompt: prompt, action: "drain", done: done, attrs: []any{"on", on},
			run: func(a Actions) error { return a.SetDraining(on) },
		}
		return nil
	case key.Matches(msg, keyBack):
		switch m.active {
		case viewParticipant:
			return m.show(viewRoom)
		case viewRoom:
			return m.show(viewConferences)
		}
		return nil
	}
	if s := msg.String(); len(s) == 1 && s[0] >= '1' && s[0] < '1'+byte(viewCount) {
		n, _ := strconv.Atoi(s)
		return m.show(viewID(n - 1))
	}
	return m.comps[m.active].Update(msg)
}

func (m *root) show(v viewID) tea.Cmd {
	m.active = v
	return m.comps[v].Update(shownMsg{})
}

// answer handles a key while a confirmation is shown. Only an explicit "y"
// runs the action: enter or space are too easy to hit by habit.
func (m *root) answer(msg tea.KeyMsg) tea.Cmd {
	c := *m.confirm
	switch msg.String() {
	case "y", "Y":
	case "ctrl+c":
		if !c.quit {
			return nil
		}
	case "n", "N", "esc":
		m.confirm = nil
		m.status, m.failed = "Cancelled", false
		return nil
	default:
		return nil
	}
	m.confirm = nil
	if c.quit {
		m.opts.Logger.Info("console closed", "viewer", m.opts.Viewer)
		return tea.Quit
	}
	m.status, m.failed = "Working…", false
	return m.run(c)
}

func (m *root) chooseLayer(msg tea.KeyMsg) tea.Cmd {
	c := *m.choose
	var rid string
	switch msg.String() {
	case "q", "h", "f":
		rid = msg.String()
	case "n", "0":
	case "esc":
		m.choose = nil
		m.status, m.failed = "Cancelled", false
		return nil
	default:
		return nil
	}
	m.choose = nil
	prompt := fmt.Sprintf("Cap the video %s receives in %s at layer %s?", c.name, c.room, rid)
	done := fmt.Sprintf("%s now receives at most layer %s", c.name, rid)
	if rid == "" {
		prompt = fmt.Sprintf("Remove the layer cap on the video %s receives in %s?", c.name, c.room)
		done = fmt.Sprintf("Removed the layer cap of %s", c.name)
	}
	room, pid := c.room, c.pid
	m.confirm = &confirmMsg{
		prompt: prompt, action: "cap_layer", done: done,
		attrs: []any{"conference", room, "participant", pid, "rid", rid},
		run:   func(a Actions) error { return a.CapLayer(room, pid, rid) },
	}
	return nil
}

// run calls a confirmed action off the event loop and logs it with the
// viewer, so that every operator action over SSH is attributable.
func (m *root) run(c confirmMsg) tea.Cmd {
	act, log, viewer := m.nodes[m.cur].Actions, m.opts.Logger, m.opts.Viewer
	attrs := append([]any{"action", c.action, "viewer", viewer}, c.attrs...)
	if len(m.nodes) > 1 {
		attrs = append(attrs, "node", m.nodeLabel())
	}
	return func() tea.Msg {
		var err error
		if act == nil || c.run == nil {
			err = errors.New("actions are not available in this console")
		} else {
			err = runAction(c.run, act)
		}
		if err != nil {
			log.Warn("console action failed", append(attrs, "err", err)...)
			return actionDoneMsg{desc: c.action, err: err}
		}
		log.Info("console action", attrs...)
		return actionDoneMsg{desc: c.done}
	}
}

func (m *root) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	if m.width < minWidth || m.height < minHeight {
		notice := fmt.Sprintf("terminal too small\n%dx%d, need %dx%d", m.width, m.height, minWidth, minHeight)
		return strings.Join(frame(notice, m.width, m.height), "\n")
	}
	lines := make([]string, 0, m.height)
	lines = append(lines, clip(m.headerLine(), m.width), clip(m.tabsLine(), m.width))
	if m.opts.Hint != "" {
		lines = append(lines, clip(m.s.st.Hint.Render(clean(m.opts.Hint)), m.width))
	}
	if b := m.banner(); b != "" {
		lines = append(lines, clip(b, m.width))
	}
	body := "Waiting for the node's first snapshot…"
	if m.s.have {
		body = m.comps[m.active].View()
	}
	lines = append(lines, frame(body, m.width, m.bodyHeight())...)
	lines = append(lines, clip(m.statusLine(), m.width), clip(m.helpLine(), m.width))
	return strings.Join(lines, "\n")
}

func (m *root) headerLine() string {
	st, n := m.s.st, m.s.snap.Node
	kv := func(k, v string) string { return st.HeaderKey.Render(k) + " " + st.HeaderValue.Render(v) }
	// At 80 columns every figure fits only without units on the rates.
	unit := ""
	if m.width >= 100 {
		unit = "b/s"
	}
	label := m.nodeLabel()
	if len(m.nodes) > 1 {
		label = fmt.Sprintf("%d/%d %s", m.cur+1, len(m.nodes), label)
	}
	segs := []segment{
		{kv("node", label), 0},
		{st.HeaderValue.Render(dash(clean(n.Region))), 1},
	}
	if m.per[m.cur].err != nil {
		segs = append(segs, segment{st.Bad.Render("DOWN"), 0})
	}
	if n.Draining {
		segs = append(segs, segment{st.Draining.Render("DRAINING"), 0})
	}
	segs = append(segs,
		segment{kv("up", fmtDuration(time.Duration(n.UptimeSec*float64(time.Second)))), 2},
		segment{kv("cpu", fmt.Sprintf("%.0f%%", n.CPUPercent)), 2},
		segment{kv("in", fmtRate(n.BitrateIn)+unit), 1},
		segment{kv("out", fmtRate(n.BitrateOut)+unit), 1},
		segment{kv("participants", strconv.Itoa(n.Participants)), 0},
		segment{kv("peers", peersText(n.Peers)), 1},
		segment{kv("conferences", strconv.Itoa(n.Conferences)), 3},
	)
	return fitSegments(segs, m.width, "  ")
}

func (m *root) tabsLine() string {
	st := m.s.st
	parts := make([]string, viewCount)
	for i := range viewCount {
		label := fmt.Sprintf("%d %s", i+1, viewNames[i])
		if i == m.active {
			parts[i] = st.TabActive.Render("[" + label + "]")
		} else {
			parts[i] = st.Tab.Render(" " + label + " ")
		}
	}
	line := strings.Join(parts, " ")
	// The product name goes at the right when there is room for it.
	title := st.Title.Render("switchyard")
	if pad := m.width - ansi.StringWidth(line) - ansi.StringWidth(title) - 1; pad >= 1 {
		line += strings.Repeat(" ", pad) + title
	}
	return line
}

func (m *root) statusLine() string {
	st := m.s.st
	switch {
	case m.confirm != nil:
		return st.Prompt.Render(clean(m.confirm.prompt) + "  [y] yes  [n] no")
	case m.choose != nil:
		return st.Prompt.Render("Cap the video " + clean(m.choose.name) + " receives at: [q] low  [h] half  [f] full  [n] no cap")
	case m.failed:
		return st.Error.Render(clean(m.status))
	case m.status != "":
		return st.Status.Render(clean(m.status))
	}
	return ""
}

func (m *root) helpLine() string {
	st := m.s.st
	item := func(b key.Binding) string {
		h := b.Help()
		return st.HelpKey.Render(h.Key) + " " + st.HelpDesc.Render(h.Desc)
	}
	if m.confirm != nil || m.choose != nil {
		return item(key.NewBinding(key.WithHelp("esc", "cancel")))
	}
	var segs []segment
	for _, b := range m.comps[m.active].Help() {
		segs = append(segs, segment{item(b), 1})
	}
	if m.active == viewRoom || m.active == viewParticipant {
		segs = append(segs, segment{item(keyBack), 1})
	}
	if len(m.nodes) > 1 {
		segs = append(segs, segment{item(keyNodeNext), 0})
	}
	segs = append(segs,
		segment{item(keyNext), 0},
		segment{item(keyDrain), 2},
		segment{item(keyQuit), 0},
	)
	return fitSegments(segs, m.width, "  ")
}
