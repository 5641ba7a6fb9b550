// Package freeze tells video freezes from a stream of frame times, as
// WebRTC's statistics define them (freezeCount, totalFreezesDuration): a
// gap between two frames longer than three average frame intervals, and
// longer than the average by 150 ms, is a freeze lasting the whole gap.
//
// A Detector is a pure state machine: the node feeds it the frames it
// forwards to a receiver, the Go client the frames it receives.
package freeze

// minExtra is how much longer than the average interval a gap must be
// (150 ms), so that a low frame rate is not a series of freezes.
const minExtra = int64(150e6)

// avgWeight is the weight of a new interval in the average (1/16): the
// average follows a changed frame rate within a second or so.
const avgShift = 4

// Detector counts freezes in a stream of frame times (ns, any epoch, not
// decreasing). The zero value is ready. Not safe for concurrent use; it
// never allocates.
type Detector struct {
	last   int64 // time of the previous frame; 0 before the first
	avg    int64 // average interval between frames (not freezes), ns
	frames uint64
	count  uint64
	total  int64 // ns
}

// Frame records a frame at time at and reports whether the gap before it
// was a freeze.
func (d *Detector) Frame(at int64) bool {
	d.frames++
	if d.last == 0 {
		d.last = at
		return false
	}
	gap := at - d.last
	d.last = at
	if gap < 0 {
		return false
	}
	if d.avg == 0 {
		d.avg = gap
		return false
	}
	if gap > 3*d.avg && gap > d.avg+minExtra {
		d.count++
		d.total += gap
		return true // a freeze does not move the average
	}
	d.avg += (gap - d.avg) >> avgShift
	return false
}

// Stats are a Detector's counts.
type Stats struct {
	Frames      uint64
	Freezes     uint64
	FreezeNanos int64 // total duration of the freezes
	LastFrame   int64 // time of the latest frame; 0 before the first
	AvgInterval int64 // average interval between frames, ns
}

// Stats returns the counts so far.
func (d *Detector) Stats() Stats {
	return Stats{Frames: d.frames, Freezes: d.count, FreezeNanos: d.total, LastFrame: d.last, AvgInterval: d.avg}
}
