package console

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/switchyard/switchyard/node/snapshot"
)

var subscriptionColumns = []column{
	{title: "FROM", min: 10, max: 20, prio: 0},
	{title: "KIND", min: 5, prio: 0},
	{title: "FWD", min: 3, prio: 0},
	{title: "TARGET", min: 6, prio: 0},
	{title: "BITRATE", min: 7, prio: 1, right: true},
	{title: "MAX H", min: 5, prio: 2, right: true},
	{title: "FPS", min: 7, prio: 3, right: true},     // forwarded/the layer's
	{title: "FREEZES", min: 9, prio: 1, right: true}, // count and total time
	{title: "REASON", min: 20, max: 32, prio: 0},
}

// e2eColumns: HOPS reads client+relay+peer and adds up to COMPUTED.
var e2eColumns = []column{
	{title: "PEER", min: 10, max: 20, prio: 0},
	{title: "NODE", min: 6, max: 12, prio: 2},
	{title: "PATH", min: 9, max: 20, prio: 1},
	{title: "HOPS", min: 12, max: 16, prio: 1},
	{title: "COMPUTED", min: 8, prio: 0, right: true},
	{title: "MEASURED", min: 8, prio: 0, right: true},
}

// participantView explains one participant: what it publishes, what it
// receives and why each subscription is on its layer, its round trips to
// everyone else, and its last minute.
type participantView struct {
	s      *state
	width  int
	height int
	scroll int
}

func newParticipantView(s *state) *participantView { return &participantView{s: s} }

func (v *participantView) Init() tea.Cmd { return nil }

func (v *participantView) SetSize(w, h int) { v.width, v.height = w, h }

func (v *participantView) Help() []key.Binding {
	return []key.Binding{
		key.NewBinding(key.WithHelp("↑/↓", "scroll")),
		keyKick, keyCap, keyMute,
	}
}

func (v *participantView) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	// The upper bound is applied in View, which knows how long the page is.
	if n, ok := listCursor(km, v.scroll, 1<<30, v.height-1); ok {
		v.scroll = n
		return nil
	}
	c, p, ok := v.s.participant()
	if !ok {
		return nil
	}
	return participantActions(km, c.Name, p)
}

func (v *participantView) View() string {
	st := v.s.st
	c, p, ok := v.s.participant()
	if !ok {
		if c == nil || v.s.pid == "" {
			return st.Dim.Render("No participant selected: pick one in view 2 and press enter.")
		}
		return st.Dim.Render(fmt.Sprintf("Participant %s has left %s. Press esc to go back.", clean(v.s.pid), clean(c.Name)))
	}
	lines := v.lines(c, p)
	// Scrolling stops when the last line reaches the bottom.
	v.scroll = max(0, min(v.scroll, len(lines)-v.height))
	return strings.Join(lines[v.scroll:], "\n")
}

func (v *participantView) lines(c *snapshot.Conference, p *snapshot.Participant) []string {
	st, now := v.s.st, v.s.snap.Taken
	name := p.Name
	if name == "" {
		name = p.ID
	}
	var out []string
	out = append(out, fitSegments([]segment{
		{st.Section.Render("Participant " + clean(name)), 0},
		{"id " + clean(p.ID), 1},
		{"in " + clean(c.Name), 0},
		{"region " + dash(clean(p.Region)), 0},
		{"node " + dash(clean(p.Node)), 0},
		{dash(clean(p.State)), 1},
		{"joined " + age(now, p.Joined) + " ago", 3},
	}, v.width, " · "))

	out = append(out, fitSegments([]segment{
		{"rtt " + render(st.rttStyle(p.RTTMs), fmtMs(p.RTTMs)), 0},
		{"jitter " + fmtMs(p.JitterMs), 2},
		{"loss ↑" + render(st.lossStyle(p.LossUpPct), fmtPct(p.LossUpPct)) + " ↓" + render(st.lossStyle(p.LossDownPct), fmtPct(p.LossDownPct)), 0},
		{"up " + fmtRate(p.BitrateUp) + "b/s", 1},
		{"down " + fmtRate(p.BitrateDown) + "b/s", 1},
		{"estimate " + fmtRate(p.EstimateBps) + "b/s", 1},
		{rtxText(st, p), 2},
	}, v.width, "  "))

	audio := "no audio"
	switch {
	case p.AudioMuted:
		audio = st.Bad.Render("audio muted by operator")
	case p.MicOff:
		audio = st.Warn.Render("mic off")
	case p.Audio && p.Speaking:
		audio = st.Speaking.Render(fmt.Sprintf("audio: speaking (level %.2f)", p.AudioLevel))
	case p.Audio:
		audio = fmt.Sprintf("audio: on (level %.2f)", p.AudioLevel)
	}
	capText := "no layer cap"
	if p.LayerCap != "" {
		capText = st.Warn.Render("layer cap " + clean(p.LayerCap))
	}
	info := []segment{{audio, 0}, {capText, 0}}
	if p.CameraOff {
		info = append(info, segment{st.Warn.Render("camera off"), 0})
	}
	if p.Sharing {
		info = append(info, segment{st.Speaking.Render("sharing screen"), 0})
	}
	if p.Recording {
		info = append(info, segment{st.Bad.Render("● recording"), 0})
	}
	if p.Remote {
		info = append(info, segment{st.Warn.Render("⇄ remote: hosted by node " + dash(clean(p.Node))), 0})
	}
	switch p.Kind {
	case "whip":
		info = append(info, segment{"publishes over WHIP", 0})
	case "whep":
		info = append(info, segment{"watches over WHEP", 0})
	}
	if p.E2EE {
		info = append(info, segment{st.Speaking.Render("end-to-end encrypted"), 0})
	}
	out = append(out, fitSegments(info, v.width, " · "))
	out = append(out, "published "+v.layersDetail(p.Layers))

	out = append(out, "", st.Section.Render(fmt.Sprintf("Subscriptions (%d)", len(p.Subs))))
	if len(p.Subs) == 0 {
		out = append(out, "  "+st.Dim.Render("Receives nothing yet."))
	} else {
		l := layoutColumns(subscriptionColumns, v.width)
		out = append(out, l.header(st, nil))
		subs := slices.Clone(p.Subs)
		slices.SortStableFunc(subs, func(a, b snapshot.Subscription) int {
			return cmp.Or(cmp.Compare(a.PublisherName, b.PublisherName), cmp.Compare(a.Publisher, b.Publisher), cmp.Compare(a.Kind, b.Kind))
		})
		for _, s := range subs {
			out = append(out, l.row(st, v.subCells(s), false))
		}
	}

	out = append(out, "", st.Section.Render(fmt.Sprintf("End-to-end RTT (%d)", len(p.E2E))))
	if len(p.E2E) == 0 {
		out = append(out, "  "+st.Dim.Render("Nobody else in the conference."))
	} else {
		l := layoutColumns(e2eColumns, v.width)
		out = append(out, l.header(st, nil))
		es := slices.Clone(p.E2E)
		slices.SortStableFunc(es, func(a, b snapshot.E2E) int {
			return cmp.Or(cmp.Compare(a.PeerName, b.PeerName), cmp.Compare(a.Peer, b.Peer))
		})
		for _, e := range es {
			peer, node := e.PeerName, ""
			if q, ok := c.Find(e.Peer); ok {
				node = q.Node
				if q.Remote {
					peer += " ⇄"
				}
			}
			if peer == "" {
				peer = e.Peer
			}
			out = append(out, l.row(st, []cell{
				{text: peer},
				{text: dash(node)},
				{text: dash(e.Path)},
				{text: fmtHops(e)},
				{text: fmtMs(e.ComputedMs), st: st.rttStyle(e.ComputedMs)},
				{text: fmtMs(e.MeasuredMs), st: st.rttStyle(e.MeasuredMs)},
			}, false))
		}
	}
	out = append(out, "", st.Section.Render("Last minute"))
	out = append(out, v.sparks(c.Name, p)...)

	for i := range out {
		out[i] = clip(out[i], v.width)
	}
	return out
}

func (v *participantView) layersDetail(ls []snapshot.Layer) string {
	st := v.s.st
	if len(ls) == 0 {
		return st.Dim.Render("no video")
	}
	sorted := slices.Clone(ls)
	slices.SortStableFunc(sorted, func(a, b snapshot.Layer) int { return cmp.Compare(ridRank(a.RID), ridRank(b.RID)) })
	parts := make([]string, len(sorted))
	for i, l := range sorted {
		size := ""
		if l.Width > 0 {
			size = fmt.Sprintf(" %dx%d", l.Width, l.Height)
		}
		if l.Active {
			parts[i] = clean(l.RID) + "● " + fmtRate(l.Bitrate) + "b/s" + size
		} else {
			parts[i] = st.Dim.Render(clean(l.RID) + "○ paused" + size)
		}
	}
	return strings.Join(parts, "   ")
}

func (v *participantView) subCells(s snapshot.Subscription) []cell {
	st := v.s.st
	from := s.PublisherName
	if from == "" {
		from = s.Publisher
	}
	fwd := cell{text: dash(s.Forwarded)}
	if s.Kind == "video" && s.Forwarded != s.Target {
		fwd.st = &st.Warn
	}
	maxH := "-"
	if s.MaxHeight > 0 {
		maxH = fmt.Sprintf("%d", s.MaxHeight)
	}
	fps, freezes := cell{text: "-"}, cell{text: "-"}
	if s.Kind == "video" {
		fps.text = fmt.Sprintf("%.0f/%.0f", s.FPS, s.LayerFPS)
		freezes.text = "0"
		if s.Freezes > 0 {
			freezes = cell{text: fmt.Sprintf("%d %.1fs", s.Freezes, s.FreezeMs/1000), st: &st.Warn}
		}
	}
	var reason *lipgloss.Style
	switch s.Reason {
	case snapshot.ReasonBandwidth, snapshot.ReasonLastN, snapshot.ReasonKeyframe, snapshot.ReasonOperatorCap, snapshot.ReasonMuted:
		reason = &st.Warn
	}
	return []cell{
		{text: from},
		{text: s.Kind},
		fwd,
		{text: dash(s.Target)},
		{text: fmtRate(s.Bitrate)},
		{text: maxH},
		fps,
		freezes,
		{text: dash(s.Reason), st: reason},
	}
}

// sparks draws the participant's last minute: bitrate each way and loss each
// way, one line each.
func (v *participantView) sparks(room string, p *snapshot.Participant) []string {
	st := v.s.st
	h := v.s.hist.get(room, p.ID)
	if h == nil {
		return []string{"  " + st.Dim.Render("No history yet.")}
	}
	const label, value = 8, 16
	w := min(historySecs, v.width-2-label-1-value)
	type line struct {
		name  string
		s     *series
		floor float64
		unit  func(float64) string
	}
	rate := func(x float64) string { return fmtRate(int64(x)) + "b/s" }
	lines := []line{
		{"up", &h.up, 1000, rate},
		{"down", &h.down, 1000, rate},
		// Loss is scaled to at least 5% so that a tenth of a percent
		// does not look like a wall.
		{"loss ↑", &h.lossUp, lossBadPct, fmtPct},
		{"loss ↓", &h.lossDn, lossBadPct, fmtPct},
	}
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		spark, _ := sparkline(l.s, v.s.hist.now, w, l.floor)
		vals, ok := l.s.window(v.s.hist.now)
		peak := 0.0
		for i := range vals {
			if ok[i] {
				peak = max(peak, vals[i])
			}
		}
		out = append(out, "  "+fit(l.name, label, false)+st.Spark.Render(spark)+" max "+l.unit(peak))
	}
	return out
}

// rtxText shows the packets resent to a participant of this node against
// those it asked for, and those refused: many refused is a receiver NACKing
// more than its link explains.
func rtxText(st *Styles, p *snapshot.Participant) string {
	if p.Remote {
		return "" // its own node repairs its downlink
	}
	s := fmt.Sprintf("rtx %d/%d", p.Retransmits, p.NACKsIn)
	if p.RetransmitsRefused > 0 {
		s += " " + st.Warn.Render(fmt.Sprintf("(%d refused)", p.RetransmitsRefused))
	}
	return s
}
