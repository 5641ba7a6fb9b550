package console

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/switchyard/switchyard/node/snapshot"
)

// Columns of the participant table; the sort keys index into it.
const (
	colSpeak = iota
	colName
	colRegion
	colNode
	colRTT
	colE2E
	colLossUp
	colLossDown
	colUp
	colDown
	colLayers
	colCap
)

var participantColumns = []column{
	colSpeak:    {title: " ", min: 1, prio: 0},
	colName:     {title: "NAME", min: 10, max: 22, prio: 0},
	colRegion:   {title: "REGION", min: 9, max: 14, prio: 3},
	colNode:     {title: "NODE", min: 6, max: 12, prio: 5},
	colRTT:      {title: "RTT", min: 6, prio: 1, right: true},
	colE2E:      {title: "E2E", min: 6, prio: 6, right: true},
	colLossUp:   {title: "LOSS↑", min: 6, prio: 2, right: true},
	colLossDown: {title: "LOSS↓", min: 6, prio: 2, right: true},
	colUp:       {title: "UP", min: 6, prio: 8, right: true},
	colDown:     {title: "DOWN", min: 6, prio: 7, right: true},
	colLayers:   {title: "LAYERS q/h/f", min: 20, max: 26, prio: 4},
	colCap:      {title: "CAP", min: 3, prio: 9},
}

// sortKeys are the columns `s` cycles through, in order.
var sortKeys = []int{colName, colRegion, colNode, colRTT, colE2E, colLossUp, colLossDown, colUp, colDown}

var (
	keySort    = key.NewBinding(key.WithKeys("s"), key.WithHelp("s/S", "sort/reverse"))
	keyReverse = key.NewBinding(key.WithKeys("S"))
	keyFilter  = key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter"))
)

// roomView is the conference detail: one row per participant.
type roomView struct {
	s      *state
	width  int
	height int
	cur    int
	top    int

	sortKey int  // index into sortKeys
	desc    bool // descending
	filter  string
	editing bool // reading filter text
}

func newRoomView(s *state) *roomView { return &roomView{s: s} }

func (v *roomView) Init() tea.Cmd { return nil }

func (v *roomView) SetSize(w, h int) { v.width, v.height = w, h }

func (v *roomView) Capturing() bool { return v.editing }

func (v *roomView) Help() []key.Binding {
	if v.editing {
		return []key.Binding{
			key.NewBinding(key.WithHelp("enter", "apply")),
			key.NewBinding(key.WithHelp("esc", "clear")),
		}
	}
	return []key.Binding{keyUp, keyDown, keyEnter, keySort, keyFilter, keyKick, keyCap, keyMute, keyRecord}
}

// worstE2E is the longest end-to-end round trip from p, preferring measured
// values over computed ones.
func worstE2E(p *snapshot.Participant) float64 {
	w := 0.0
	for _, e := range p.E2E {
		v := e.MeasuredMs
		if v <= 0 {
			v = e.ComputedMs
		}
		w = max(w, v)
	}
	return w
}

func (v *roomView) rows(c *snapshot.Conference) []*snapshot.Participant {
	f := strings.ToLower(v.filter)
	var rows []*snapshot.Participant
	for i := range c.Participants {
		p := &c.Participants[i]
		if f != "" && !strings.Contains(strings.ToLower(p.Name+" "+p.ID+" "+p.Region+" "+p.Node), f) {
			continue
		}
		rows = append(rows, p)
	}
	col := sortKeys[v.sortKey]
	slices.SortStableFunc(rows, func(a, b *snapshot.Participant) int {
		r := compareBy(col, a, b)
		if v.desc {
			r = -r
		}
		if r != 0 {
			return r
		}
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return rows
}

func compareBy(col int, a, b *snapshot.Participant) int {
	switch col {
	case colRegion:
		return cmp.Compare(a.Region, b.Region)
	case colNode:
		return cmp.Compare(a.Node, b.Node)
	case colRTT:
		return cmp.Compare(a.RTTMs, b.RTTMs)
	case colE2E:
		return cmp.Compare(worstE2E(a), worstE2E(b))
	case colLossUp:
		return cmp.Compare(a.LossUpPct, b.LossUpPct)
	case colLossDown:
		return cmp.Compare(a.LossDownPct, b.LossDownPct)
	case colUp:
		return cmp.Compare(a.BitrateUp, b.BitrateUp)
	case colDown:
		return cmp.Compare(a.BitrateDown, b.BitrateDown)
	}
	return cmp.Compare(a.Name, b.Name)
}

func (v *roomView) cursor(rows []*snapshot.Participant) int {
	return followCursor(rows, &v.cur, func(p *snapshot.Participant) bool { return p.ID == v.s.pid })
}

func (v *roomView) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		switch msg.(type) {
		case snapshotMsg, shownMsg:
			v.selectDefault()
		}
		return nil
	}
	if v.editing {
		v.edit(km)
		return nil
	}
	switch {
	case key.Matches(km, keyFilter):
		v.editing = true
		return nil
	case key.Matches(km, keySort):
		v.sortKey = (v.sortKey + 1) % len(sortKeys)
		// Numbers sort worst first: the operator is looking for trouble.
		v.desc = sortKeys[v.sortKey] >= colRTT
		return nil
	case key.Matches(km, keyReverse):
		v.desc = !v.desc
		return nil
	}
	c, ok := v.s.conference()
	if !ok {
		return nil
	}
	if key.Matches(km, keyRecord) {
		return recordAction(c)
	}
	rows := v.rows(c)
	if len(rows) == 0 {
		return nil
	}
	cur := v.cursor(rows)
	if n, ok := listCursor(km, cur, len(rows), v.height-2); ok {
		v.cur, v.s.pid = n, rows[n].ID
		return nil
	}
	v.s.pid = rows[cur].ID
	if key.Matches(km, keyEnter) {
		return navigate(viewParticipant)
	}
	return participantActions(km, c.Name, rows[cur])
}

// selectDefault puts the cursor on the first row when nothing is selected,
// so that the participant view always has someone to show.
func (v *roomView) selectDefault() {
	c, ok := v.s.conference()
	if !ok || v.s.pid != "" {
		return
	}
	if rows := v.rows(c); len(rows) > 0 {
		v.cur, v.s.pid = 0, rows[0].ID
	}
}

func (v *roomView) edit(km tea.KeyMsg) {
	switch km.Type {
	case tea.KeyEnter:
		v.editing = false
	case tea.KeyEsc:
		v.editing, v.filter = false, ""
	case tea.KeyBackspace:
		if v.filter != "" {
			_, n := utf8.DecodeLastRuneInString(v.filter)
			v.filter = v.filter[:len(v.filter)-n]
		}
	case tea.KeyRunes, tea.KeySpace:
		v.filter += clean(string(km.Runes))
	}
}

func (v *roomView) View() string {
	st := v.s.st
	c, ok := v.s.conference()
	if !ok {
		if v.s.room == "" {
			return st.Dim.Render("No conference selected: pick one in view 1 and press enter.")
		}
		return st.Dim.Render(fmt.Sprintf("Conference %s has ended. Press esc to go back.", clean(v.s.room)))
	}
	rows := v.rows(c)
	remote := 0
	for i := range c.Participants {
		if c.Participants[i].Remote {
			remote++
		}
	}
	title := []segment{
		{st.Section.Render("Conference " + clean(c.Name)), 0},
		{plural(len(c.Participants), "participant"), 0},
		{"nodes " + dash(clean(strings.Join(c.Nodes, ","))), 2},
		{fmt.Sprintf("in %sb/s out %sb/s", fmtRate(c.BitrateIn), fmtRate(c.BitrateOut)), 3},
	}
	if c.Recording != nil {
		title = append(title, segment{st.Bad.Render("● REC " + age(v.s.snap.Taken, c.Recording.Since)), 0})
	} else if c.RecordingError != "" {
		title = append(title, segment{st.Bad.Render("recording failed: " + clean(c.RecordingError)), 1})
	}
	if remote > 0 {
		title = append(title, segment{fmt.Sprintf("⇄ %d on other nodes", remote), 1})
	}
	switch {
	case v.editing:
		title = append(title, segment{st.Prompt.Render("filter: " + v.filter + "_"), 0})
	case v.filter != "":
		title = append(title, segment{st.Prompt.Render(fmt.Sprintf("filter: %s (%d shown)", v.filter, len(rows))), 0})
	}
	var b strings.Builder
	b.WriteString(fitSegments(title, v.width, " · "))
	l := layoutColumns(participantColumns, v.width)
	arrow := "▲"
	if v.desc {
		arrow = "▼"
	}
	b.WriteString("\n" + l.header(st, map[int]string{sortKeys[v.sortKey]: arrow}))
	if len(rows) == 0 {
		b.WriteString("\n  " + st.Dim.Render("No participant matches the filter."))
		return b.String()
	}
	cur := v.cursor(rows)
	page := v.height - 2
	v.top = scrollWindow(cur, len(rows), page, v.top)
	for i := v.top; i < len(rows) && i < v.top+page; i++ {
		b.WriteString("\n" + l.row(st, v.cells(rows[i]), i == cur))
	}
	return b.String()
}

func (v *roomView) cells(p *snapshot.Participant) []cell {
	st := v.s.st
	cells := make([]cell, len(participantColumns))
	switch {
	case p.AudioMuted:
		cells[colSpeak] = cell{text: "×", st: &st.Bad}
	case p.Speaking:
		cells[colSpeak] = cell{text: "●", st: &st.Speaking}
	}
	name := p.Name
	if name == "" {
		name = p.ID
	}
	if p.Remote {
		name += " ⇄"
	}
	if p.Kind != "" {
		name += " (" + p.Kind + ")" // a WHIP publisher or WHEP viewer
	}
	e2e := worstE2E(p)
	cells[colName] = cell{text: name}
	cells[colRegion] = cell{text: dash(p.Region)}
	cells[colNode] = cell{text: dash(p.Node)}
	if p.Remote {
		cells[colNode].st = &st.Dim
	}
	cells[colRTT] = cell{text: fmtMs(p.RTTMs), st: st.rttStyle(p.RTTMs)}
	cells[colE2E] = cell{text: fmtMs(e2e), st: st.rttStyle(e2e)}
	cells[colLossUp] = cell{text: fmtPct(p.LossUpPct), st: st.lossStyle(p.LossUpPct)}
	cells[colLossDown] = cell{text: fmtPct(p.LossDownPct), st: st.lossStyle(p.LossDownPct)}
	cells[colUp] = cell{text: fmtRate(p.BitrateUp)}
	cells[colDown] = cell{text: fmtRate(p.BitrateDown)}
	cells[colLayers] = cell{text: layersText(p.Layers)}
	cells[colCap] = cell{text: dash(p.LayerCap)}
	return cells
}

// layersText shows each published layer as rid, ● active or ○ paused, and
// its bitrate, in q/h/f order whatever order the snapshot lists them in.
func layersText(ls []snapshot.Layer) string {
	if len(ls) == 0 {
		return "-"
	}
	sorted := slices.Clone(ls)
	slices.SortStableFunc(sorted, func(a, b snapshot.Layer) int { return cmp.Compare(ridRank(a.RID), ridRank(b.RID)) })
	parts := make([]string, len(sorted))
	for i, l := range sorted {
		if l.Active {
			parts[i] = l.RID + "●" + fmtRate(l.Bitrate)
		} else {
			parts[i] = l.RID + "○"
		}
	}
	return strings.Join(parts, " ")
}

func ridRank(rid string) int {
	switch rid {
	case "q":
		return 0
	case "h":
		return 1
	case "f":
		return 2
	}
	return 3
}
