package record

import (
	"fmt"
	"slices"
	"testing"
)

const msNS = int64(1e6)

// jin is one packet pushed: its sequence number and arrival in ms.
type jin struct {
	seq uint16
	at  int64
}

// jout is one packet emitted; a gap before it is written "!seq".
type jout string

func TestJitter(t *testing.T) {
	tests := []struct {
		name     string
		capacity int
		in       []jin
		flush    bool
		want     []jout
		refused  []uint16 // pushes that return false
		lost     uint64
	}{
		{
			name: "in order goes straight through",
			in:   []jin{{10, 0}, {11, 1}, {12, 2}},
			want: []jout{"10", "11", "12"},
		},
		{
			name: "swapped pair is put back in order",
			in:   []jin{{10, 0}, {12, 1}, {11, 2}, {13, 3}},
			want: []jout{"10", "11", "12", "13"},
		},
		{
			name: "hole filled before the delay",
			in:   []jin{{1, 0}, {3, 10}, {4, 20}, {5, 89}, {2, 89}},
			want: []jout{"1", "2", "3", "4", "5"},
		},
		{
			name: "hole given up once the delay has passed",
			in:   []jin{{1, 0}, {3, 10}, {4, 50}, {5, 90}, {6, 91}},
			want: []jout{"1", "!3", "4", "5", "6"},
			lost: 1,
		},
		{
			name:    "packet of a hole given up is late",
			in:      []jin{{1, 0}, {3, 10}, {4, 95}, {2, 96}},
			want:    []jout{"1", "!3", "4"},
			refused: []uint16{2},
			lost:    1,
		},
		{
			name:    "duplicate held and duplicate emitted are refused",
			in:      []jin{{1, 0}, {3, 1}, {3, 2}, {1, 3}, {2, 4}},
			want:    []jout{"1", "2", "3"},
			refused: []uint16{3, 1},
		},
		{
			name:     "packet beyond the capacity pushes the held ones out",
			capacity: 4,
			in:       []jin{{1, 0}, {3, 1}, {4, 2}, {9, 3}, {10, 4}},
			want:     []jout{"1", "!3", "4", "!9", "10"},
			lost:     1 + 4,
		},
		{
			name: "wrap around 65535",
			in:   []jin{{65534, 0}, {0, 1}, {65535, 2}, {1, 3}},
			want: []jout{"65534", "65535", "0", "1"},
		},
		{
			name: "restarted numbering far behind resyncs",
			in:   []jin{{30000, 0}, {30001, 1}, {100, 2}, {101, 3}},
			want: []jout{"30000", "30001", "!100", "101"},
		},
		{
			name:  "flush emits what waits, with its gaps",
			in:    []jin{{1, 0}, {3, 1}, {4, 2}, {7, 3}},
			flush: true,
			want:  []jout{"1", "!3", "4", "!7"},
			lost:  3,
		},
		{
			name:  "two holes: each waits the delay from when it is reached",
			in:    []jin{{1, 0}, {3, 0}, {5, 0}, {6, 80}, {7, 150}, {8, 160}},
			want:  []jout{"1", "!3", "!5", "6", "7", "8"},
			lost:  2,
			flush: false,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			capacity := tc.capacity
			if capacity == 0 {
				capacity = 64
			}
			j := newJitter[uint16](capacity, 80*msNS)
			var got []jout
			emit := func(v uint16, gap bool) {
				s := fmt.Sprint(v)
				if gap {
					s = "!" + s
				}
				got = append(got, jout(s))
			}
			var refused []uint16
			for _, p := range tc.in {
				if !j.push(p.seq, p.at*msNS, p.seq, emit) {
					refused = append(refused, p.seq)
				}
			}
			if tc.flush {
				j.flush(emit)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("emitted %v, want %v", got, tc.want)
			}
			if !slices.Equal(refused, tc.refused) {
				t.Errorf("refused %v, want %v", refused, tc.refused)
			}
			if j.Lost() != tc.lost {
				t.Errorf("lost %d, want %d", j.Lost(), tc.lost)
			}
		})
	}
}

// A jitter buffer never holds more than its capacity, whatever comes in.
func TestJitterBounded(t *testing.T) {
	j := newJitter[int](16, 80*msNS)
	emitted := 0
	for i := range 5000 {
		seq := uint16(i * 7919 % 65536) // jumps all over
		j.push(seq, int64(i), i, func(int, bool) { emitted++ })
		if j.held > len(j.ring) {
			t.Fatalf("holds %d in %d slots", j.held, len(j.ring))
		}
	}
	j.flush(func(int, bool) { emitted++ })
	if j.held != 0 || emitted == 0 {
		t.Fatalf("held %d after flush, emitted %d", j.held, emitted)
	}
}
