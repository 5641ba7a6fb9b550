package dedup

import (
	"math/rand/v2"
	"testing"
)

func TestWindow(t *testing.T) {
	type add struct {
		seq  uint16
		want bool
	}
	// seqRun returns adds for n consecutive new sequence numbers from start.
	seqRun := func(start uint16, n int) []add {
		out := make([]add, n)
		for i := range out {
			out[i] = add{start + uint16(i), true}
		}
		return out
	}
	rejectRun := func(start uint16, n int) []add {
		out := make([]add, n)
		for i := range out {
			out[i] = add{start + uint16(i), false}
		}
		return out
	}
	cat := func(parts ...[]add) []add {
		var out []add
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name                   string
		adds                   []add
		wantRecv, wantExpected uint64
	}{
		{
			name: "in order",
			adds: seqRun(100, 5), wantRecv: 5, wantExpected: 5,
		},
		{
			name:     "loss",
			adds:     []add{{1, true}, {2, true}, {5, true}, {6, true}},
			wantRecv: 4, wantExpected: 6,
		},
		{
			name:     "reordering fills the gap",
			adds:     []add{{1, true}, {3, true}, {2, true}, {5, true}, {4, true}},
			wantRecv: 5, wantExpected: 5,
		},
		{
			name:     "duplicates are rejected and not counted",
			adds:     []add{{1, true}, {2, true}, {2, false}, {1, false}, {3, true}, {2, false}, {3, false}},
			wantRecv: 3, wantExpected: 3,
		},
		{
			name:     "RTX retransmission of a lost packet is accepted once",
			adds:     []add{{10, true}, {12, true}, {13, true}, {11, true}, {11, false}},
			wantRecv: 4, wantExpected: 4,
		},
		{
			name:     "reordered ahead of the first packet",
			adds:     []add{{50, true}, {48, true}, {49, true}, {48, false}},
			wantRecv: 3, wantExpected: 3,
		},
		{
			name:     "wraparound",
			adds:     cat(seqRun(65530, 6), []add{{1, true}, {0, true}, {65535, false}, {2, true}}),
			wantRecv: 9, wantExpected: 9,
		},
		{
			name:     "wraparound with loss",
			adds:     []add{{65534, true}, {3, true}},
			wantRecv: 2, wantExpected: 6,
		},
		{
			name:     "exactly MaxAge behind is accepted, one more is not",
			adds:     []add{{0, true}, {MaxAge + 1, true}, {1, true}, {0, false}, {1, false}},
			wantRecv: 3, wantExpected: MaxAge + 2,
		},
		{
			name:     "duplicate after a jump larger than the bitmap",
			adds:     []add{{0, true}, {5000, true}, {5000, false}, {4999, true}, {0, false}},
			wantRecv: 3, wantExpected: 5001,
		},
		{
			name:     "a bit reused after the window moved is not mistaken for a duplicate",
			adds:     cat(seqRun(0, 3000), []add{{2999 - 2048, false}, {3000 + 48, true}, {3000 + 48 - 2048, false}}),
			wantRecv: 3001, wantExpected: 3049,
		},
		{
			// The restart lands more than 32768 away, so it first looks
			// too old; 40000 was dropped then and is new when it reappears.
			name: "restarted sequence numbers resynchronise",
			adds: cat(seqRun(0, 10), rejectRun(40000, resyncAfter-1), []add{{40000 + resyncAfter - 1, true}},
				seqRun(40000+resyncAfter, 5), []add{{40000, true}, {40000, false}}),
			wantRecv: 10 + 1 + 5 + 1, wantExpected: 10 + resyncAfter + 5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w Window
			for i, a := range tt.adds {
				if got := w.Add(a.seq); got != a.want {
					t.Fatalf("add %d: Add(%d) = %v, want %v", i, a.seq, got, a.want)
				}
			}
			recv, exp := w.Counts()
			if recv != tt.wantRecv || exp != tt.wantExpected {
				t.Errorf("Counts() = %d, %d, want %d, %d", recv, exp, tt.wantRecv, tt.wantExpected)
			}
		})
	}
}

// TestWindowAgainstModel compares the bitmap with a plain set over long
// random runs of loss, reordering and duplicates across many wraps.
func TestWindowAgainstModel(t *testing.T) {
	for seed := range uint64(10) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var w Window
		seen := map[int64]bool{}
		var next, highest, first int64 = int64(rng.IntN(65536)), -1, -1
		var received uint64
		for i := range 200000 {
			var ext int64
			switch r := rng.IntN(100); {
			case r < 80 || highest < 0:
				ext = next
				next++
			case r < 85:
				next += int64(rng.IntN(60))
				ext = next
				next++
			default:
				// A duplicate or late packet, sometimes beyond MaxAge.
				ext = highest - int64(rng.IntN(1500))
			}
			want := !seen[ext] && (highest < 0 || highest-ext <= MaxAge)
			if got := w.Add(uint16(ext)); got != want {
				t.Fatalf("seed %d, add %d: Add(%d) (extended %d, newest %d) = %v, want %v",
					seed, i, uint16(ext), ext, highest, got, want)
			}
			if want {
				seen[ext] = true
				received++
				if first < 0 || ext < first {
					first = ext
				}
			}
			highest = max(highest, ext)
			if i%1000 == 0 {
				for e := range seen {
					if highest-e > 4*MaxAge {
						delete(seen, e)
					}
				}
			}
		}
		recv, exp := w.Counts()
		if recv != received || exp != uint64(highest-first+1) {
			t.Fatalf("seed %d: Counts() = %d, %d, want %d, %d", seed, recv, exp, received, highest-first+1)
		}
	}
}

func TestAddAllocs(t *testing.T) {
	var w Window
	seq := uint16(0)
	allocs := testing.AllocsPerRun(1000, func() {
		w.Add(seq)
		w.Add(seq - 2)
		seq++
	})
	if allocs != 0 {
		t.Errorf("Add allocates %v per run", allocs)
	}
}

func BenchmarkAdd(b *testing.B) {
	var w Window
	seq := uint16(0)
	b.ReportAllocs()
	for b.Loop() {
		w.Add(seq)
		seq++
	}
}

func FuzzWindow(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 0, 2, 0, 1})
	f.Add([]byte{0xff, 0xfe, 0xff, 0xff, 0, 0, 0, 1})
	f.Add([]byte{0, 0, 0x80, 0, 0, 0, 0x40, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var w Window
		for i := 0; i+1 < len(data); i += 2 {
			seq := uint16(data[i])<<8 | uint16(data[i+1])
			// A rejected packet may be accepted next time by a
			// resynchronisation; an accepted one never twice.
			if w.Add(seq) && w.Add(seq) {
				t.Fatalf("Add(%d) accepted twice in a row", seq)
			}
			recv, exp := w.Counts()
			if recv > exp {
				t.Fatalf("received %d > expected %d", recv, exp)
			}
			if recv == 0 {
				t.Fatal("nothing received after an Add")
			}
		}
	})
}
