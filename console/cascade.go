package console

import (
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/switchyard/switchyard/node/snapshot"
)

var peerColumns = []column{
	{title: "NODE", min: 8, max: 16, prio: 0},
	{title: "REGION", min: 9, max: 14, prio: 0},
	{title: "LINK", min: 4, prio: 1},
	{title: "RTT", min: 6, prio: 0, right: true},
	{title: "LOSS", min: 6, prio: 0, right: true},
	{title: "IN", min: 6, prio: 1, right: true},
	{title: "OUT", min: 6, prio: 1, right: true},
	{title: "ADDR", min: 12, max: 22, prio: 3},
	{title: "CONFERENCES", min: 11, max: 40, prio: 2},
}

// cascadeView shows the relay links from this node to the other nodes of
// the cascade.
type cascadeView struct {
	s      *state
	width  int
	height int
	cur    int
	top    int
}

func newCascadeView(s *state) *cascadeView { return &cascadeView{s: s} }

func (v *cascadeView) Init() tea.Cmd { return nil }

func (v *cascadeView) SetSize(w, h int) { v.width, v.height = w, h }

func (v *cascadeView) Help() []key.Binding { return []key.Binding{keyUp, keyDown} }

func (v *cascadeView) Update(msg tea.Msg) tea.Cmd {
	if km, ok := msg.(tea.KeyMsg); ok {
		v.cur, _ = listCursor(km, v.cur, len(v.s.snap.Node.Peers), v.height-2)
	}
	return nil
}

func (v *cascadeView) View() string {
	st := v.s.st
	peers := slices.Clone(v.s.snap.Node.Peers)
	slices.SortStableFunc(peers, func(a, b snapshot.Peer) int { return strings.Compare(a.ID, b.ID) })
	var b strings.Builder
	b.WriteString(st.Section.Render("Cascade (" + plural(len(peers), "peer") + ")"))
	if len(peers) == 0 {
		text := "This node relays to no other node yet.\n\n" +
			"When a conference has participants on several nodes, each node forwards every published track once over a relay link to each other node, instead of once per remote participant. " +
			"Each link appears here with the peer's region, the link's round trip and loss, the bitrate each way, and the conferences it carries."
		b.WriteString("\n\n" + renderLines(&st.Dim, wrapWords(text, max(10, min(v.width-2, 78)))))
		return b.String()
	}
	l := layoutColumns(peerColumns, v.width)
	b.WriteString("\n" + l.header(st, nil))
	v.cur = max(0, min(v.cur, len(peers)-1))
	page := v.height - 2
	v.top = scrollWindow(v.cur, len(peers), page, v.top)
	for i := v.top; i < len(peers) && i < v.top+page; i++ {
		p := peers[i]
		link := cell{text: "up", st: &st.Good}
		if !p.Alive {
			link = cell{text: "down", st: &st.Bad}
		}
		b.WriteString("\n" + l.row(st, []cell{
			{text: p.ID},
			{text: dash(p.Region)},
			link,
			{text: fmtMs(p.RTTMs), st: st.rttStyle(p.RTTMs)},
			{text: fmtPct(p.LossPct), st: st.lossStyle(p.LossPct)},
			{text: fmtRate(p.BitrateIn)},
			{text: fmtRate(p.BitrateOut)},
			{text: dash(p.Addr)},
			{text: dash(strings.Join(p.Conferences, ","))},
		}, i == v.cur))
	}
	return b.String()
}
