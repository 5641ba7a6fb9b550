package console

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/switchyard/switchyard/node/snapshot"
)

var conferenceColumns = []column{
	{title: "CONFERENCE", min: 12, max: 28, prio: 0},
	{title: "USERS", min: 5, prio: 0, right: true},
	{title: "NODES", min: 8, max: 24, prio: 4},
	{title: "IN", min: 6, prio: 2, right: true},
	{title: "OUT", min: 6, prio: 2, right: true},
	{title: "SPEAKER", min: 10, max: 20, prio: 1},
	{title: "MAX LOSS", min: 8, prio: 1, right: true},
	{title: "AGE", min: 7, prio: 3, right: true},
}

// conferencesView lists every room on the node, one row each.
type conferencesView struct {
	s      *state
	width  int
	height int
	cur    int // last cursor row, kept when the selected room ends
	top    int
}

func newConferencesView(s *state) *conferencesView { return &conferencesView{s: s} }

func (v *conferencesView) Init() tea.Cmd { return nil }

func (v *conferencesView) SetSize(w, h int) { v.width, v.height = w, h }

func (v *conferencesView) Help() []key.Binding {
	return []key.Binding{keyUp, keyDown, keyEnter}
}

// rows returns the conferences sorted by name, so rows keep their places
// from one snapshot to the next.
func (v *conferencesView) rows() []*snapshot.Conference {
	cs := v.s.snap.Conferences
	rows := make([]*snapshot.Conference, len(cs))
	for i := range cs {
		rows[i] = &cs[i]
	}
	sort.SliceStable(rows, func(a, b int) bool { return rows[a].Name < rows[b].Name })
	return rows
}

// cursor finds the selected room; when it has gone, the cursor stays on the
// row where it was.
func (v *conferencesView) cursor(rows []*snapshot.Conference) int {
	return followCursor(rows, &v.cur, func(c *snapshot.Conference) bool { return c.Name == v.s.room })
}

// followCursor keeps the cursor on the row that matches selected; when that
// row has gone, the cursor stays where it was, within the rows.
func followCursor[T any](rows []T, cur *int, selected func(T) bool) int {
	for i, r := range rows {
		if selected(r) {
			*cur = i
			return i
		}
	}
	*cur = max(0, min(*cur, len(rows)-1))
	return *cur
}

func (v *conferencesView) Update(msg tea.Msg) tea.Cmd {
	rows := v.rows()
	switch msg := msg.(type) {
	case snapshotMsg:
		if v.s.room == "" && len(rows) > 0 {
			v.s.room = rows[0].Name
		}
	case tea.KeyMsg:
		if len(rows) == 0 {
			return nil
		}
		cur := v.cursor(rows)
		if n, ok := listCursor(msg, cur, len(rows), v.height-2); ok {
			v.selectRow(rows, n)
			return nil
		}
		if key.Matches(msg, keyEnter) {
			v.selectRow(rows, cur)
			return navigate(viewRoom)
		}
	}
	return nil
}

func (v *conferencesView) selectRow(rows []*snapshot.Conference, i int) {
	v.cur = i
	if v.s.room != rows[i].Name {
		v.s.room, v.s.pid = rows[i].Name, ""
	}
}

func (v *conferencesView) View() string {
	st := v.s.st
	rows := v.rows()
	var b strings.Builder
	b.WriteString(st.Section.Render(fmt.Sprintf("Conferences (%d)", len(rows))))
	if len(rows) == 0 {
		b.WriteString("\n\n")
		b.WriteString(renderLines(&st.Dim, wrapWords("No conferences on this node yet. A conference appears here as soon as its first participant joins.", v.width-2)))
		return b.String()
	}
	l := layoutColumns(conferenceColumns, v.width)
	b.WriteString("\n" + l.header(st, nil))
	cur := v.cursor(rows)
	page := v.height - 2
	v.top = scrollWindow(cur, len(rows), page, v.top)
	for i := v.top; i < len(rows) && i < v.top+page; i++ {
		b.WriteString("\n" + l.row(st, v.cells(rows[i]), i == cur))
	}
	return b.String()
}

func (v *conferencesView) cells(c *snapshot.Conference) []cell {
	st := v.s.st
	speaker := ""
	if p, ok := c.Find(c.DominantSpeaker); ok {
		speaker = p.Name
		if speaker == "" {
			speaker = p.ID
		}
	}
	return []cell{
		{text: c.Name},
		{text: strconv.Itoa(len(c.Participants))},
		{text: dash(strings.Join(c.Nodes, ","))},
		{text: fmtRate(c.BitrateIn)},
		{text: fmtRate(c.BitrateOut)},
		{text: dash(speaker), st: &st.Speaking},
		{text: fmtPct(c.WorstLossPct), st: st.lossStyle(c.WorstLossPct)},
		{text: age(v.s.snap.Taken, c.Created)},
	}
}
