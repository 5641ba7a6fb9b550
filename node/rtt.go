package node

import (
	"math"
	"slices"
)

// The round-trip time the node gives for a participant, everywhere (the
// API's rtt_ms, every console view, the figure its peers receive in control
// state and use for end-to-end sums): the round trip between the node and
// the participant as RTCP measures it (the node's sender reports echoed in
// the participant's receiver reports, RFC 3550 LSR/DLSR) on the tracks the
// node sends it. One track's report can wait behind a burst of video on a
// slow link, so the figure is the median over the tracks' latest
// measurements, smoothed over a few seconds; it is updated once a second by
// the node's ticker and read from there by every view.
type rttFilter struct {
	ms float64 // smoothed; 0 until the first measurement
}

// rttSmoothing is the weight of a new second's median: about a 5 s time
// constant at one update per second.
const rttSmoothing = 0.2

// update takes this second's per-track measurements in ms (non-positive
// and non-finite ones are ignored) and returns the smoothed figure. A
// second without measurements leaves the figure as it was.
func (f *rttFilter) update(samples []float64) float64 {
	samples = slices.DeleteFunc(samples, func(v float64) bool {
		return !(v > 0 && v < 60_000) || math.IsNaN(v)
	})
	if len(samples) == 0 {
		return f.ms
	}
	slices.Sort(samples)
	m := samples[len(samples)/2]
	if len(samples)%2 == 0 {
		m = (samples[len(samples)/2-1] + m) / 2
	}
	if f.ms == 0 {
		f.ms = m
	} else {
		f.ms += rttSmoothing * (m - f.ms)
	}
	return f.ms
}
