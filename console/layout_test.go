package console

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/switchyard/switchyard/node/snapshot"
)

func TestLayoutColumnsDropsByPriority(t *testing.T) {
	cols := []column{
		{title: "A", min: 10, max: 20, prio: 0},
		{title: "B", min: 5, prio: 2},
		{title: "C", min: 5, prio: 1},
		{title: "D", min: 5, prio: 3},
	}
	cases := []struct {
		width  int
		titles string
		widths []int
	}{
		{width: 12, titles: "A", widths: []int{10}},
		{width: 18, titles: "AC", widths: []int{10, 5}},
		{width: 24, titles: "ABC", widths: []int{10, 5, 5}},
		{width: 30, titles: "ABCD", widths: []int{10, 5, 5, 5}},
		{width: 40, titles: "ABCD", widths: []int{20, 5, 5, 5}},
		{width: 100, titles: "ABCD", widths: []int{20, 5, 5, 5}},
	}
	for _, tc := range cases {
		l := layoutColumns(cols, tc.width)
		var titles strings.Builder
		for _, i := range l.idx {
			titles.WriteString(cols[i].title)
		}
		if titles.String() != tc.titles || !slices.Equal(l.widths, tc.widths) {
			t.Errorf("width %d: columns %s %v, want %s %v", tc.width, titles.String(), l.widths, tc.titles, tc.widths)
		}
		if l.width > tc.width {
			t.Errorf("width %d: table is %d wide", tc.width, l.width)
		}
	}
}

func TestFitAndClip(t *testing.T) {
	cases := []struct {
		in    string
		width int
		right bool
		want  string
	}{
		{"abc", 5, false, "abc  "},
		{"abc", 5, true, "  abc"},
		{"abcdef", 4, false, "abc…"},
		{"●●●●●", 3, false, "●●…"},
		{"", 2, false, "  "},
		{"abc", 0, false, ""},
	}
	for _, tc := range cases {
		if got := fit(tc.in, tc.width, tc.right); got != tc.want {
			t.Errorf("fit(%q, %d, %v) = %q, want %q", tc.in, tc.width, tc.right, got, tc.want)
		}
	}
}

func TestFormatters(t *testing.T) {
	cases := []struct{ got, want string }{
		{fmtRate(0), "0"}, {fmtRate(999), "999"}, {fmtRate(32_500), "32k"}, {fmtRate(1_450_000), "1.4M"},
		{fmtRate(25_000_000), "25M"}, {fmtRate(2_500_000_000), "2.5G"},
		{fmtPct(0), "0%"}, {fmtPct(0.44), "0.4%"}, {fmtPct(12.6), "13%"},
		{fmtMs(0), "-"}, {fmtMs(0.4), "<1ms"}, {fmtMs(41.6), "42ms"},
		{fmtDuration(59 * time.Second), "59s"}, {fmtDuration(61 * time.Second), "1m01s"},
		{fmtDuration(3725 * time.Second), "1h02m"}, {fmtDuration(50 * time.Hour), "2d02h"},
		{clean("ok name"), "ok name"}, {clean("a\x1b[2Jb\x07\u009b"), "a?[2Jb??"},
	}
	for i, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("case %d: got %q, want %q", i, tc.got, tc.want)
		}
	}
}

func TestSparkline(t *testing.T) {
	h := newHistory()
	base := fixtureBase
	// Bitrate rises by one step a second for 8 seconds; then a gap of 2s.
	for i := 0; i < 8; i++ {
		s := snapshot.Snapshot{Taken: base.Add(time.Duration(i) * time.Second), Conferences: []snapshot.Conference{{
			Name: "r", Participants: []snapshot.Participant{{ID: "p", BitrateUp: int64(i+1) * 1000, LossUpPct: float64(i)}},
		}}}
		h.add(&s)
	}
	h.now = base.Add(9 * time.Second).Unix()
	ph := h.get("r", "p")
	if ph == nil {
		t.Fatal("no history")
	}
	got, peak := sparkline(&ph.up, h.now, historySecs, 0)
	if peak != 8000 {
		t.Errorf("peak %v, want 8000", peak)
	}
	// 50 seconds before the first sample are blank, then the ramp, then
	// the two seconds without snapshots.
	want := strings.Repeat(" ", 50) + "▁▂▃▄▅▆▇█" + "  "
	if got != want {
		t.Errorf("sparkline\n got %q\nwant %q", got, want)
	}
	// Squeezed to 6 cells, each cell shows the largest of its 10 seconds.
	if got, _ := sparkline(&ph.up, h.now, 6, 0); got != "     █" {
		t.Errorf("squeezed sparkline %q", got)
	}
	if w := ansi.StringWidth(got); w != historySecs {
		t.Errorf("width %d", w)
	}
	// A floor keeps small values small.
	if got, _ := sparkline(&ph.lossUp, h.now, 6, 70); got != "     ▁" {
		t.Errorf("floored sparkline %q", got)
	}
	// A participant gone for longer than the window is forgotten.
	later := snapshot.Snapshot{Taken: base.Add(2 * time.Minute)}
	h.add(&later)
	if h.get("r", "p") != nil {
		t.Error("history of a participant gone for two minutes was kept")
	}
}

func TestSeriesKeepMax(t *testing.T) {
	var s series
	s.put(100, 3, true)
	s.put(100, 1, true)
	s.put(101, 1, false)
	s.put(101, 5, false)
	s.put(101, 2, false)
	vals, ok := s.window(101)
	if !ok[historySecs-2] || vals[historySecs-2] != 3 {
		t.Errorf("keepMax second: %v %v", vals[historySecs-2], ok[historySecs-2])
	}
	if !ok[historySecs-1] || vals[historySecs-1] != 2 {
		t.Errorf("last-value second: %v", vals[historySecs-1])
	}
	// A slot reused after a minute does not show the old value.
	if _, ok := s.window(100 + historySecs); ok[historySecs-1] {
		t.Error("stale slot read as current")
	}
}

func TestStallGuardClosesStalledViewer(t *testing.T) {
	w := &blockingWriter{release: make(chan struct{})}
	g := &stallGuard{w: w, timeout: time.Millisecond, onStall: func() { close(w.release) }}
	// Without the guard this Write would block forever.
	if _, err := g.Write([]byte("frame")); err == nil {
		t.Fatal("write to a closed viewer succeeded")
	}
	ok := &stallGuard{w: &strings.Builder{}, timeout: time.Hour, onStall: func() { t.Error("stall reported for a reading viewer") }}
	if n, err := ok.Write([]byte("frame")); n != 5 || err != nil {
		t.Fatalf("write = %d, %v", n, err)
	}
}

type blockingWriter struct{ release chan struct{} }

func (b *blockingWriter) Write(p []byte) (int, error) {
	<-b.release
	return 0, errClosedViewer
}

var errClosedViewer = errorString("viewer closed")

type errorString string

func (e errorString) Error() string { return string(e) }
