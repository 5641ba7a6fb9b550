package console

import (
	"testing"
)

// The view is redrawn at every refresh for every viewer.
func BenchmarkView(b *testing.B) {
	for _, bc := range []struct {
		name string
		keys []string
	}{
		{"conferences", nil},
		{"conference", []string{"down", "enter"}},
		{"participant", []string{"down", "enter", "enter"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			hs := newHarness(b, 160, 48)
			hs.press(bc.keys...)
			b.ReportAllocs()
			for b.Loop() {
				_ = hs.view()
			}
		})
	}
}

// Each snapshot feeds the sparkline history.
func BenchmarkSnapshot(b *testing.B) {
	hs := newHarness(b, 160, 48, fixtureAt(0))
	snaps := make([]snapshotMsg, 120)
	for i := range snaps {
		snaps[i] = snapshotMsg{snap: fixtureAt(i)}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		hs.m.Update(snaps[i%len(snaps)])
		i++
	}
}
