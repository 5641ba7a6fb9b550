package relay

import "testing"

func TestReplayWindow(t *testing.T) {
	type step struct {
		seq  uint64
		want bool
	}
	const base = 1 << 40
	tests := []struct {
		name  string
		steps []step
	}{
		{"in order", []step{{base, true}, {base + 1, true}, {base + 2, true}}},
		{"duplicate", []step{{base, true}, {base + 1, true}, {base + 1, false}, {base, false}}},
		{"reordered within window", []step{{base + 10, true}, {base + 3, true}, {base + 7, true}, {base + 3, false}, {base + 11, true}}},
		{"oldest in window", []step{{base + 2000, true}, {base + 2000 - ReplayWindowSize + 1, true}, {base + 2000 - ReplayWindowSize, false}}},
		{"far behind", []step{{base + 5000, true}, {base, false}}},
		{"jump clears stale bits", []step{{base, true}, {base + ReplayWindowSize, true}, {base, false}, {base + 1, true}}},
		{"big jump then late arrivals", []step{{base, true}, {base + 100000, true}, {base + 99999, true}, {base + 99999, false}, {base + 1, false}}},
		{"ring slot reused", []step{{base, true}, {base + 1, true}, {base + ReplayWindowSize + 1, true}, {base + ReplayWindowSize + 1, false}}},
		{"starts anywhere", []step{{7, true}, {0, true}, {0, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w ReplayWindow
			for i, s := range tt.steps {
				if c := w.Check(s.seq); c != s.want {
					t.Fatalf("step %d: Check(%d) = %v, want %v", i, s.seq-base, c, s.want)
				}
				if a := w.Accept(s.seq); a != s.want {
					t.Fatalf("step %d: Accept(%d) = %v, want %v", i, s.seq-base, a, s.want)
				}
			}
		})
	}
}

// TestReplayWindowAgainstModel checks the bitmap against a plain set over a
// long pseudo-random stream of late, early and repeated sequences.
func TestReplayWindowAgainstModel(t *testing.T) {
	var w ReplayWindow
	seen := map[uint64]bool{}
	var top uint64
	x := uint64(1)
	for i := range 200000 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		var seq uint64
		switch x % 8 {
		case 0:
			seq = top + x%3000 // ahead, sometimes past the window
		default:
			seq = top - min(top, x%1500) // behind, sometimes past the window
		}
		want := !seen[seq] && (i == 0 || seq > top || top-seq < ReplayWindowSize)
		if got := w.Accept(seq); got != want {
			t.Fatalf("step %d: Accept(%d) with top %d = %v, want %v", i, seq, top, got, want)
		}
		if want {
			seen[seq] = true
			top = max(top, seq)
		}
	}
}
