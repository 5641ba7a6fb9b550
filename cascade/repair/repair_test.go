package repair

import (
	"slices"
	"testing"
	"time"
)

const ms = int64(time.Millisecond)

func TestTracker(t *testing.T) {
	type step struct {
		reset    bool     // Reset before the arrivals
		push     []uint16 // arrivals at this step
		at       int64    // ms
		due      []uint16 // what Due returns after the arrivals
		repaired int      // arrivals that filled a gap
	}
	tests := []struct {
		name           string
		steps          []step
		repaired, lost uint64
	}{
		{"in order", []step{{push: []uint16{1, 2, 3, 4}, due: nil}}, 0, 0},
		{"one gap then repair", []step{
			{push: []uint16{10, 11, 13}, at: 0, due: []uint16{12}},
			{at: 10, due: nil}, // asked 10 ms ago: not yet
			{push: []uint16{12}, at: 30, repaired: 1, due: nil},
		}, 1, 0},
		{"retry after the interval", []step{
			{push: []uint16{1, 4}, at: 0, due: []uint16{2, 3}},
			{at: 50, due: []uint16{2, 3}},
			{push: []uint16{3}, at: 60, repaired: 1},
			{at: 100, due: []uint16{2}},
		}, 1, 0},
		{"gives up after MaxTries", []step{
			{push: []uint16{1, 3}, at: 0, due: []uint16{2}},
			{at: 50, due: []uint16{2}},
			{at: 100, due: []uint16{2}},
			{at: 150, due: []uint16{2}},
			{at: 200, due: nil},
			{at: 260, due: nil},
		}, 0, 1},
		{"too old", []step{
			{push: []uint16{1, 3}, at: 0, due: []uint16{2}},
			{at: 1100, due: nil},
		}, 0, 1},
		{"wraps", []step{{push: []uint16{65534, 65535, 1}, due: []uint16{0}}}, 0, 0},
		{"pause and resume is not loss", []step{{push: []uint16{100, 101, 5000, 5001}, due: nil}}, 0, 0},
		{"duplicate and late non-gap", []step{{push: []uint16{5, 6, 6, 4}, due: nil}}, 0, 0},
		{"resume drops pending", []step{
			{push: []uint16{1, 3}, at: 0, due: []uint16{2}},
			{push: []uint16{3000}, at: 5, due: nil},
		}, 0, 1},
		{"a short pause announced by Reset is not loss", []step{
			{push: []uint16{10, 11}, at: 0},
			{reset: true, push: []uint16{60, 61}, at: 500, due: nil},
		}, 0, 0},
		{"Reset gives up on what was pending", []step{
			{push: []uint16{1, 3}, at: 0, due: []uint16{2}},
			{reset: true, push: []uint16{20, 22}, at: 10, due: []uint16{21}},
		}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr Tracker
			for i, s := range tt.steps {
				if s.reset {
					tr.Reset()
				}
				rep := 0
				for _, q := range s.push {
					if tr.Push(q, s.at*ms) {
						rep++
					}
				}
				if rep != s.repaired {
					t.Fatalf("step %d: %d repairs, want %d", i, rep, s.repaired)
				}
				got := tr.Due(nil, s.at*ms, 40*time.Millisecond)
				if !slices.Equal(got, s.due) {
					t.Fatalf("step %d: due %v, want %v", i, got, s.due)
				}
			}
			if tr.Repaired != tt.repaired || tr.Lost != tt.lost {
				t.Fatalf("repaired %d lost %d, want %d %d", tr.Repaired, tr.Lost, tt.repaired, tt.lost)
			}
		})
	}
}

func TestTrackerBounded(t *testing.T) {
	var tr Tracker
	tr.Push(0, 0)
	// Many gaps: never more than MaxMissing tracked.
	for s := uint16(2); s < 4000; s += 2 {
		tr.Push(s, 0)
	}
	if tr.Pending() > MaxMissing {
		t.Fatalf("%d pending", tr.Pending())
	}
	if tr.Lost == 0 {
		t.Fatal("overflow not counted as lost")
	}
}

func BenchmarkPush(b *testing.B) {
	b.ReportAllocs()
	var tr Tracker
	buf := make([]uint16, 0, 64)
	for i := 0; i < b.N; i++ {
		s := uint16(i)
		if i%50 != 7 { // one loss in fifty
			tr.Push(s, int64(i)*ms)
		}
		if i%10 == 0 {
			buf = tr.Due(buf[:0], int64(i)*ms, 40*time.Millisecond)
		}
	}
}
