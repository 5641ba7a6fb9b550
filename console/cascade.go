package console

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/switchyard/switchyard/node/snapshot"
)

// Columns of the peer table. At 80 columns the link's health, load and
// savings stay; bytes per layer, emulation, address and conferences go first.
var peerColumns = []column{
	{title: "NODE", min: 6, max: 8, prio: 0},
	{title: "REGION", min: 10, max: 12, prio: 0},
	{title: "STATE", min: 5, prio: 0},
	{title: "USERS", min: 5, prio: 2, right: true},
	{title: "STRESS", min: 6, prio: 3, right: true},
	{title: "RTT", min: 6, prio: 0, right: true},
	{title: "LOSS", min: 6, prio: 0, right: true},
	{title: "IN", min: 6, prio: 1, right: true},
	{title: "OUT", min: 6, prio: 1, right: true},
	{title: "SENT q/h/f", min: 13, max: 14, prio: 4},
	{title: "SAVED", min: 5, prio: 1, right: true},
	{title: "NACK s/a/r", min: 11, max: 13, prio: 2},
	{title: "EMULATED", min: 10, max: 28, prio: 5},
	{title: "CAP", min: 6, prio: 5, right: true}, // the link's capacity estimate; marked while it holds layers back
	{title: "ADDR", min: 14, max: 22, prio: 6},
	{title: "CONFERENCES", min: 11, max: 30, prio: 7},
}

// Columns of the end-to-end table: HOPS reads client+relay+peer, which add
// up to COMPUTED; MEASURED is the clients' own ping through the node(s).
var pairColumns = []column{
	{title: "FROM", min: 8, max: 16, prio: 0},
	{title: "TO", min: 8, max: 16, prio: 0},
	{title: "PATH", min: 9, max: 24, prio: 1},
	{title: "HOPS", min: 12, max: 16, prio: 2},
	{title: "COMPUTED", min: 8, prio: 0, right: true},
	{title: "MEASURED", min: 8, prio: 0, right: true},
	{title: "Δ", min: 6, prio: 3, right: true},
}

// cascadeView shows the relay links from this node to the other nodes of
// the cascade, what the relay refused, and the end-to-end round trips of
// the selected conference hop by hop.
type cascadeView struct {
	s      *state
	width  int
	height int
	scroll int
}

func newCascadeView(s *state) *cascadeView { return &cascadeView{s: s} }

func (v *cascadeView) Init() tea.Cmd { return nil }

func (v *cascadeView) SetSize(w, h int) { v.width, v.height = w, h }

func (v *cascadeView) Help() []key.Binding {
	return []key.Binding{key.NewBinding(key.WithHelp("↑/↓", "scroll"))}
}

func (v *cascadeView) Update(msg tea.Msg) tea.Cmd {
	if km, ok := msg.(tea.KeyMsg); ok {
		// The upper bound is applied in View, which knows how long the page is.
		if n, ok := listCursor(km, v.scroll, 1<<30, v.height-1); ok {
			v.scroll = n
		}
	}
	return nil
}

func (v *cascadeView) View() string {
	n := &v.s.snap.Node
	if n.Cascade == nil && len(n.Peers) == 0 {
		return v.alone()
	}
	lines := v.lines(n)
	for i := range lines {
		lines[i] = clip(lines[i], v.width)
	}
	v.scroll = max(0, min(v.scroll, len(lines)-v.height))
	return strings.Join(lines[v.scroll:], "\n")
}

// alone explains the view on a node without a cascade, so that an operator
// learns what would be here and where to read about it.
func (v *cascadeView) alone() string {
	st := v.s.st
	text := "This node runs alone: it relays to no other node. See README: Cascade.\n\n" +
		"In a cascade, nodes in different regions share conferences: each participant joins a nearby node, and the nodes relay media to each other, " +
		"only the simulcast layers that someone behind the link needs. " +
		"Each relay link then appears here with the peer's region and load, its round trip and loss, the bytes sent per layer and what skipping unneeded layers saved, " +
		"and the NACKs repaired hop by hop; below it, the end-to-end round trip of every pair of participants, hop by hop."
	return st.Section.Render("Cascade") + "\n\n" +
		renderLines(&st.Dim, wrapWords(text, max(10, min(v.width-2, 78))))
}

func (v *cascadeView) lines(n *snapshot.Node) []string {
	st := v.s.st
	peers := slices.Clone(n.Peers)
	slices.SortStableFunc(peers, func(a, b snapshot.Peer) int { return cmp.Compare(a.ID, b.ID) })
	up := 0
	for _, p := range peers {
		if p.Alive {
			up++
		}
	}
	title := []segment{
		{st.Section.Render("Cascade"), 0},
		{fmt.Sprintf("%s, %d up", plural(len(peers), "peer"), up), 0},
	}
	if c := n.Cascade; c != nil {
		title = append(title,
			segment{"relay " + dash(clean(c.RelayAddr)), 1},
			segment{"redirects " + strconv.FormatUint(c.Redirects, 10), 2},
			segment{"gossip " + dash(clean(c.GossipAddr)), 3},
		)
	}
	out := []string{fitSegments(title, v.width, " · ")}

	if len(peers) == 0 {
		gossip := "its gossip address"
		if n.Cascade != nil && n.Cascade.GossipAddr != "" {
			gossip = clean(n.Cascade.GossipAddr)
		}
		text := "No other node has joined yet. Nodes in the join list appear here as soon as they answer on " + gossip + "."
		out = append(out, wrapStyled(&st.Dim, text, v.width)...)
	} else {
		l := layoutColumns(peerColumns, v.width)
		out = append(out, l.header(st, nil))
		for _, p := range peers {
			out = append(out, l.row(st, v.peerCells(p), false))
		}
	}
	if n.Cascade != nil {
		out = append(out, "", v.dropsLine(n.Cascade.Drops))
	}
	out = append(out, "")
	return append(out, v.pairLines()...)
}

func (v *cascadeView) peerCells(p snapshot.Peer) []cell {
	st := v.s.st
	state := cell{text: "up", st: &st.Good}
	switch {
	case !p.Alive:
		state = cell{text: "down", st: &st.Bad}
	case p.Draining:
		state = cell{text: "drain", st: &st.Warn}
	}
	var video uint64
	for _, rid := range []string{"q", "h", "f"} {
		video += p.BytesOut[rid]
	}
	saved := cell{text: "-"}
	if total := video + p.SkippedBytes; total > 0 {
		pct := float64(p.SkippedBytes) * 100 / float64(total)
		saved = cell{text: fmtPct(pct)}
		if pct > 0 {
			saved.st = &st.Good
		}
	}
	var stress *lipgloss.Style
	switch {
	case p.Stress >= 0.9:
		stress = &st.Bad
	case p.Stress >= 0.7:
		stress = &st.Warn
	}
	capacity := cell{text: "-"}
	if p.CapacityBps > 0 {
		capacity.text = fmtRate(p.CapacityBps)
	}
	if len(p.Held) > 0 {
		capacity.st = &st.Warn
	}
	emulated := cell{text: dash(p.Emulated)}
	if p.Emulated != "" {
		emulated.st = &st.Warn
	}
	return []cell{
		{text: p.ID},
		{text: dash(p.Region)},
		state,
		{text: strconv.Itoa(p.Participants)},
		{text: fmt.Sprintf("%.0f%%", p.Stress*100), st: stress},
		{text: fmtMs(p.RTTMs), st: st.rttStyle(p.RTTMs)},
		{text: fmtPct(p.LossPct), st: st.lossStyle(p.LossPct)},
		{text: fmtRate(p.BitrateIn)},
		{text: fmtRate(p.BitrateOut)},
		{text: fmtBytes(p.BytesOut["q"]) + " " + fmtBytes(p.BytesOut["h"]) + " " + fmtBytes(p.BytesOut["f"])},
		saved,
		{text: fmt.Sprintf("%d/%d/%d", p.NACKsSent, p.NACKsAnswer, p.Repaired)},
		emulated,
		capacity,
		{text: dash(p.Addr)},
		{text: dash(strings.Join(p.Conferences, ","))},
	}
}

// dropsLine lists the relay's refusals by reason, largest first: forged or
// replayed datagrams are worth noticing.
func (v *cascadeView) dropsLine(drops map[string]uint64) string {
	st := v.s.st
	type drop struct {
		reason string
		n      uint64
	}
	var ds []drop
	var total uint64
	for r, n := range drops {
		if n > 0 {
			ds = append(ds, drop{r, n})
			total += n
		}
	}
	label := st.Section.Render("Relay drops")
	if total == 0 {
		return label + "  " + st.Dim.Render("none: every datagram from the peers was accepted")
	}
	slices.SortFunc(ds, func(a, b drop) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.reason, b.reason)) })
	segs := []segment{{label + " " + st.Warn.Render(strconv.FormatUint(total, 10)) + " datagrams:", 0}}
	for i, d := range ds {
		segs = append(segs, segment{clean(d.reason) + " " + st.Warn.Render(strconv.FormatUint(d.n, 10)), 1 + i})
	}
	return strings.Replace(fitSegments(segs, v.width, " · "), ": · ", ": ", 1)
}

// pair is one pair of participants of a conference with the round trip
// between them.
type pair struct {
	from, to string
	e        snapshot.E2E
	local    bool // reported by a participant on this node
}

// pairs lists every pair of participants once, the name first in order
// first. Both ends may report the pair; the report from a participant on
// this node wins, since this node measured its hops, then one with a
// measured ping.
func pairs(c *snapshot.Conference) []pair {
	label := func(id, name string) string {
		p, ok := c.Find(id)
		if ok && p.Name != "" {
			name = p.Name
		}
		if name == "" {
			name = id
		}
		if ok && p.Remote {
			name += " ⇄"
		}
		return name
	}
	idx := make(map[[2]string]int)
	var out []pair
	for i := range c.Participants {
		p := &c.Participants[i]
		for _, e := range p.E2E {
			if e.Peer == "" || e.Peer == p.ID {
				continue
			}
			k := [2]string{p.ID, e.Peer}
			if k[1] < k[0] {
				k[0], k[1] = k[1], k[0]
			}
			cand := pair{from: label(p.ID, p.Name), to: label(e.Peer, e.PeerName), e: e, local: !p.Remote}
			j, seen := idx[k]
			if !seen {
				idx[k] = len(out)
				out = append(out, cand)
				continue
			}
			cur := out[j]
			if (cand.local && !cur.local) || (cand.local == cur.local && cur.e.MeasuredMs <= 0 && e.MeasuredMs > 0) {
				out[j] = cand
			}
		}
	}
	for i := range out {
		if out[i].to < out[i].from {
			out[i] = out[i].reversed()
		}
	}
	slices.SortStableFunc(out, func(a, b pair) int { return cmp.Or(cmp.Compare(a.from, b.from), cmp.Compare(a.to, b.to)) })
	return out
}

// reversed is the same round trip read from the other end: the hops and
// the path swap ends.
func (p pair) reversed() pair {
	p.from, p.to = p.to, p.from
	p.e.ClientMs, p.e.PeerMs = p.e.PeerMs, p.e.ClientMs
	nodes := strings.Split(p.e.Path, "→")
	slices.Reverse(nodes)
	p.e.Path = strings.Join(nodes, "→")
	return p
}

func (v *cascadeView) pairLines() []string {
	st := v.s.st
	c, ok := v.s.conference()
	if !ok {
		return []string{st.Section.Render("End-to-end RTT"), "  " + st.Dim.Render("No conference selected: pick one in view 1.")}
	}
	ps := pairs(c)
	out := []string{fitSegments([]segment{
		{st.Section.Render("End-to-end RTT in " + clean(c.Name)), 0},
		{plural(len(ps), "pair"), 0},
		{st.Dim.Render("hops: client to its node + node to node + node to peer"), 1},
	}, v.width, " · ")}
	if len(ps) == 0 {
		return append(out, "  "+st.Dim.Render("No round trips reported yet: they need two participants."))
	}
	l := layoutColumns(pairColumns, v.width)
	out = append(out, l.header(st, nil))
	for _, p := range ps {
		out = append(out, l.row(st, []cell{
			{text: p.from},
			{text: p.to},
			{text: dash(p.e.Path)},
			{text: fmtHops(p.e)},
			{text: fmtMs(p.e.ComputedMs), st: st.rttStyle(p.e.ComputedMs)},
			{text: fmtMs(p.e.MeasuredMs), st: st.rttStyle(p.e.MeasuredMs)},
			{text: fmtDelta(p.e.MeasuredMs, p.e.ComputedMs)},
		}, false))
	}
	return out
}

// fmtHops prints the three hops of a round trip as client+relay+peer in
// whole milliseconds; the relay hop is 0 when both ends share a node.
func fmtHops(e snapshot.E2E) string {
	if e.ClientMs <= 0 && e.RelayMs <= 0 && e.PeerMs <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f+%.0f+%.0f", e.ClientMs, e.RelayMs, e.PeerMs)
}

// wrapStyled wraps prose to the view's width and styles each line.
func wrapStyled(st *lipgloss.Style, text string, width int) []string {
	lines := wrapWords(text, max(10, min(width-2, 78)))
	for i, l := range lines {
		lines[i] = "  " + render(st, l)
	}
	return lines
}
