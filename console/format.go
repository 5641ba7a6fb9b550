package console

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// fmtRate prints bits/s compactly so that rate columns stay narrow.
func fmtRate(bps int64) string {
	switch {
	case bps <= 0:
		return "0"
	case bps < 1000:
		return fmt.Sprintf("%d", bps)
	case bps < 1_000_000:
		return fmt.Sprintf("%dk", bps/1000)
	case bps < 10_000_000:
		return fmt.Sprintf("%.1fM", float64(bps)/1e6)
	case bps < 1_000_000_000:
		return fmt.Sprintf("%dM", bps/1_000_000)
	default:
		return fmt.Sprintf("%.1fG", float64(bps)/1e9)
	}
}

func fmtPct(p float64) string {
	switch {
	case p <= 0:
		return "0%"
	case p < 10:
		return fmt.Sprintf("%.1f%%", p)
	default:
		return fmt.Sprintf("%.0f%%", p)
	}
}

// fmtMs prints a round-trip time; 0 means "not measured", so it prints a dash.
func fmtMs(ms float64) string {
	switch {
	case ms <= 0:
		return "-"
	case ms < 1:
		return "<1ms"
	default:
		return fmt.Sprintf("%.0fms", ms)
	}
}

func fmtDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, (s%3600)/60)
	default:
		return fmt.Sprintf("%dd%02dh", s/86400, (s%86400)/3600)
	}
}

// age prints how long ago t was at now, or a dash when t is unknown.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return fmtDuration(now.Sub(t))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Thresholds where a value turns from fine to worrying to bad.
const (
	lossWarnPct = 1
	lossBadPct  = 5
	rttWarnMs   = 150
	rttBadMs    = 300
)

func (s *Styles) grade(v, warn, bad float64) *lipgloss.Style {
	switch {
	case v >= bad:
		return &s.Bad
	case v >= warn:
		return &s.Warn
	case v > 0:
		return &s.Good
	}
	return nil
}

func (s *Styles) lossStyle(p float64) *lipgloss.Style { return s.grade(p, lossWarnPct, lossBadPct) }
func (s *Styles) rttStyle(ms float64) *lipgloss.Style { return s.grade(ms, rttWarnMs, rttBadMs) }

func render(st *lipgloss.Style, s string) string {
	if st == nil || s == "" {
		return s
	}
	return st.Render(s)
}

// clip cuts a line to width cells. Lines are cut, never wrapped: a wrapped
// table row would push every row under it out of place.
func clip(s string, width int) string {
	if width <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= width {
		return s
	}
	return ansi.Truncate(s, width, "…")
}

// fit cuts or pads plain text to exactly width cells.
func fit(s string, width int, right bool) string {
	s = clip(s, width)
	pad := width - ansi.StringWidth(s)
	if pad <= 0 {
		return s
	}
	if right {
		return strings.Repeat(" ", pad) + s
	}
	return s + strings.Repeat(" ", pad)
}

// wrapWords breaks prose (not tables) into lines of at most width cells.
func wrapWords(text string, width int) []string {
	var lines []string
	for _, para := range strings.Split(text, "\n") {
		line := ""
		for _, w := range strings.Fields(para) {
			switch {
			case line == "":
				line = w
			case ansi.StringWidth(line)+1+ansi.StringWidth(w) <= width:
				line += " " + w
			default:
				lines = append(lines, line)
				line = w
			}
		}
		lines = append(lines, clip(line, width))
	}
	return lines
}

// segment is one item of a line that drops low-priority items to fit.
type segment struct {
	text string // already styled
	prio int    // lower stays longer
}

// fitSegments keeps the segments that fit in width, in priority order, and
// prints them in their original order.
func fitSegments(segs []segment, width int, sep string) string {
	keep := make([]bool, len(segs))
	used := 0
	for prio := 0; prio <= maxPrio(segs); prio++ {
		for i, s := range segs {
			if s.prio != prio || s.text == "" {
				continue
			}
			w := ansi.StringWidth(s.text)
			if used > 0 {
				w += len(sep)
			}
			if used+w > width {
				continue
			}
			keep[i] = true
			used += w
		}
	}
	var b strings.Builder
	for i, s := range segs {
		if !keep[i] {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(sep)
		}
		b.WriteString(s.text)
	}
	return b.String()
}

func maxPrio(segs []segment) int {
	m := 0
	for _, s := range segs {
		m = max(m, s.prio)
	}
	return m
}

// frame makes text exactly height lines, each cut to width, so the screen
// never scrolls and the renderer only repaints lines that changed.
func frame(text string, width, height int) []string {
	lines := strings.Split(text, "\n")
	if len(lines) > height {
		lines = lines[:height]
	}
	for i := range lines {
		lines[i] = clip(lines[i], width)
	}
	for len(lines) < height {
		lines = append(lines, "")
	}
	return lines
}

// clean makes text from the network safe to print: participant names and log
// messages come from clients, and a stray escape sequence in one would
// repaint the operator's terminal.
func clean(s string) string {
	ok := true
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\uFFFD' {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\uFFFD' {
			return '?'
		}
		return r
	}, s)
}

// renderLines styles each line on its own: lipgloss pads a multi-line block
// to its widest line, which would leave trailing blanks on every line.
func renderLines(st *lipgloss.Style, lines []string) string {
	for i, l := range lines {
		lines[i] = render(st, l)
	}
	return strings.Join(lines, "\n")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// fmtBytes prints a byte count in decimal units, compactly for table cells.
func fmtBytes(n uint64) string {
	switch {
	case n == 0:
		return "0"
	case n < 1000:
		return fmt.Sprintf("%dB", n)
	case n < 1_000_000:
		return fmt.Sprintf("%dk", n/1000)
	case n < 10_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n < 1_000_000_000:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n < 10_000_000_000:
		return fmt.Sprintf("%.1fG", float64(n)/1e9)
	default:
		return fmt.Sprintf("%dG", n/1_000_000_000)
	}
}

// fmtDelta prints how far a measured round trip is from the computed one,
// signed, so an operator sees at a glance whether the hops explain it.
func fmtDelta(measured, computed float64) string {
	if measured <= 0 || computed <= 0 {
		return "-"
	}
	return fmt.Sprintf("%+.0fms", measured-computed)
}
