package console

import (
	"sort"
	"strings"

	"github.com/charmbracelet/lipgloss"
)

// column describes one table column. When the terminal is narrow, columns
// with the highest prio are dropped first; spare width goes to columns whose
// max exceeds their min.
type column struct {
	title string
	min   int
	max   int // 0 means min
	prio  int
	right bool
}

// cell is one table cell: plain text plus an optional style, applied after
// the text is cut to the column width so that escape codes are never cut.
type cell struct {
	text string
	st   *lipgloss.Style
}

// tableLayout is the set of visible columns and their widths for one width.
type tableLayout struct {
	cols   []column
	idx    []int // visible column indices, in declared order
	widths []int // width of each visible column
	width  int   // total width including the cursor gutter
}

const gutter = 2 // "> " marks the cursor row, so it reads without colour

func layoutColumns(cols []column, width int) tableLayout {
	order := make([]int, len(cols))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return cols[order[a]].prio < cols[order[b]].prio })

	avail := width - gutter
	keep := make([]bool, len(cols))
	used := 0
	for _, i := range order {
		w := cols[i].min
		if used > 0 {
			w++ // separator
		}
		if used+w > avail {
			// Later columns may be narrower and still fit, but skipping over a
			// column would make the priority order meaningless.
			break
		}
		keep[i] = true
		used += w
	}
	l := tableLayout{cols: cols}
	for i, c := range cols {
		if keep[i] {
			l.idx = append(l.idx, i)
			l.widths = append(l.widths, c.min)
		}
	}
	spare := avail - used
	for _, i := range order {
		if spare <= 0 || !keep[i] {
			continue
		}
		for j, ci := range l.idx {
			if ci != i {
				continue
			}
			grow := min(spare, max(0, cols[i].max-cols[i].min))
			l.widths[j] += grow
			spare -= grow
		}
	}
	l.width = gutter
	for j, w := range l.widths {
		if j > 0 {
			l.width++
		}
		l.width += w
	}
	return l
}

// header prints the column titles; marks maps a column index to a suffix such
// as a sort arrow.
func (l tableLayout) header(st *Styles, marks map[int]string) string {
	cells := make([]cell, len(l.cols))
	for i, c := range l.cols {
		cells[i] = cell{text: c.title + marks[i]}
	}
	return render(&st.TableHeader, l.line(cells, false, nil))
}

// row prints one row. The cursor row is printed plain inside the Selected
// style, since per-cell colours inside a reversed bar are unreadable.
func (l tableLayout) row(st *Styles, cells []cell, selected bool) string {
	if selected {
		return render(&st.Selected, l.line(cells, true, nil))
	}
	return l.line(cells, false, st)
}

func (l tableLayout) line(cells []cell, cursor bool, st *Styles) string {
	var b strings.Builder
	if cursor {
		b.WriteString("> ")
	} else {
		b.WriteString("  ")
	}
	for j, ci := range l.idx {
		if j > 0 {
			b.WriteByte(' ')
		}
		var c cell
		if ci < len(cells) {
			c = cells[ci]
		}
		text := fit(clean(c.text), l.widths[j], l.cols[ci].right)
		if st != nil && c.st != nil {
			// Style only the text, not the padding, so columns stay aligned
			// even if a style adds width (it never should, but cheap to keep).
			trimmed := strings.TrimRight(text, " ")
			lead := len(text) - len(strings.TrimLeft(text, " "))
			if l.cols[ci].right {
				text = text[:lead] + c.st.Render(text[lead:])
			} else {
				text = c.st.Render(trimmed) + text[len(trimmed):]
			}
		}
		b.WriteString(text)
	}
	if cursor {
		// Pad so that the selection bar spans the whole table.
		return fit(b.String(), l.width, false)
	}
	return strings.TrimRight(b.String(), " ")
}

// scrollWindow returns the first visible row so that cursor stays in a
// window of rows lines.
func scrollWindow(cursor, total, rows, prevTop int) int {
	if rows <= 0 || total <= rows {
		return 0
	}
	top := prevTop
	if cursor < top {
		top = cursor
	}
	if cursor >= top+rows {
		top = cursor - rows + 1
	}
	return max(0, min(top, total-rows))
}
