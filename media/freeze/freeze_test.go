package freeze

import "testing"

const ms = int64(1e6)

// frames returns n frame times every interval from start.
func frames(start, interval int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = start + int64(i)*interval
	}
	return out
}

func TestDetector(t *testing.T) {
	cat := func(parts ...[]int64) []int64 {
		var out []int64
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name        string
		times       []int64
		freezes     uint64
		freezeTotal int64
	}{
		{"steady 30 fps", frames(1, 33*ms, 90), 0, 0},
		{"one 500 ms gap at 30 fps", cat(frames(1, 33*ms, 30), frames(1+29*33*ms+500*ms, 33*ms, 30)), 1, 500 * ms},
		{"a 120 ms gap is a hiccup, not a freeze (under avg+150 ms)", cat(frames(1, 33*ms, 30), frames(1+29*33*ms+120*ms, 33*ms, 30)), 0, 0},
		{"5 fps: 400 ms is under three intervals... but not 700 ms", cat(frames(1, 200*ms, 10), frames(1+9*200*ms+400*ms, 200*ms, 5), frames(1+9*200*ms+400*ms+4*200*ms+700*ms, 200*ms, 5)), 1, 700 * ms},
		{"two freezes add up", cat(frames(1, 33*ms, 30), frames(1+29*33*ms+400*ms, 33*ms, 30), frames(1+29*33*ms+400*ms+29*33*ms+1000*ms, 33*ms, 3)), 2, 1400 * ms},
		{"a freeze does not teach the average", cat(frames(1, 33*ms, 30), frames(1+29*33*ms+300*ms, 33*ms, 2), frames(1+29*33*ms+300*ms+33*ms+300*ms, 33*ms, 2)), 2, 600 * ms},
		{"time going back is ignored", []int64{100 * ms, 133 * ms, 120 * ms, 166 * ms}, 0, 0},
		{"a single frame", []int64{5}, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d Detector
			for _, at := range tc.times {
				d.Frame(at)
			}
			s := d.Stats()
			if s.Freezes != tc.freezes || s.FreezeNanos != tc.freezeTotal || s.Frames != uint64(len(tc.times)) {
				t.Fatalf("%d freezes, %d ms in all, %d frames; want %d, %d ms, %d",
					s.Freezes, s.FreezeNanos/ms, s.Frames, tc.freezes, tc.freezeTotal/ms, len(tc.times))
			}
		})
	}
}

func TestDetectorDoesNotAllocate(t *testing.T) {
	var d Detector
	at := int64(1)
	if n := testing.AllocsPerRun(1000, func() { at += 33 * ms; d.Frame(at) }); n != 0 {
		t.Fatalf("%v allocations per frame", n)
	}
}
