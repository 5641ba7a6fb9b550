package record

import (
	"slices"
	"testing"
	"time"
)

func TestTimeline(t *testing.T) {
	type in struct {
		ts uint32
		at time.Duration
	}
	tests := []struct {
		name    string
		clock   uint32
		in      []in
		want    []int64
		rebased []bool
	}{
		{
			name:  "video at 30 fps",
			clock: 90000,
			in:    []in{{1000, 0}, {4000, 33 * time.Millisecond}, {7000, 66 * time.Millisecond}},
			want:  []int64{0, 33, 66},
		},
		{
			name:  "timestamps carry a gap the arrivals also show",
			clock: 48000,
			in:    []in{{0, 0}, {960, 20 * time.Millisecond}, {960 * 11, 200 * time.Millisecond}},
			want:  []int64{0, 20, 220},
		},
		{
			name:  "wrap of the 32-bit timestamp",
			clock: 90000,
			in:    []in{{0xffffff00, 0}, {9000 - 0x100, 100 * time.Millisecond}},
			want:  []int64{0, 100},
		},
		{
			name:    "a timestamp going back is replaced by the arrival clock",
			clock:   90000,
			in:      []in{{90000, 0}, {93000, 33 * time.Millisecond}, {10, 100 * time.Millisecond}, {3010, 133 * time.Millisecond}},
			want:    []int64{0, 33, 100, 133},
			rebased: []bool{false, false, true, false},
		},
		{
			name:    "a leap far past the time that passed is replaced",
			clock:   90000,
			in:      []in{{0, 0}, {90000 * 3600, 40 * time.Millisecond}, {90000*3600 + 3000, 73 * time.Millisecond}},
			want:    []int64{0, 40, 73},
			rebased: []bool{false, true, false},
		},
		{
			name:  "a leap the arrivals agree with stays",
			clock: 48000,
			in:    []in{{0, 0}, {48000 * 30, 30 * time.Second}},
			want:  []int64{0, 30000},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tl := newTimeline(tc.clock, int64(10*time.Second))
			var got []int64
			var rebased []bool
			for _, p := range tc.in {
				ms, r := tl.at(p.ts, int64(p.at))
				got = append(got, ms)
				rebased = append(rebased, r)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("timecodes %v, want %v", got, tc.want)
			}
			if tc.rebased == nil {
				tc.rebased = make([]bool, len(tc.in))
			}
			if !slices.Equal(rebased, tc.rebased) {
				t.Errorf("rebased %v, want %v", rebased, tc.rebased)
			}
		})
	}
}
