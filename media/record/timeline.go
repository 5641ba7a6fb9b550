package record

// timeline turns the RTP timestamps of a track's frames, in the order they are
// written, into block timecodes in milliseconds from the first frame. RTP
// timestamps carry the time, gaps included; the arrival clock only steps in
// where they cannot be right: a timestamp that goes backwards, or leaps
// further ahead than the time that passed plus maxLeap (a sender that
// restarted or garbage). Timecodes never decrease.
type timeline struct {
	clock   int64 // ticks per second
	maxLeap int64 // ns

	started     bool
	lastTS      uint32
	ticks       int64 // ticks from the first frame to the last one
	lastArrival int64
}

func newTimeline(clockRate uint32, maxLeap int64) *timeline {
	return &timeline{clock: int64(clockRate), maxLeap: maxLeap}
}

// at returns the timecode of a frame with timestamp ts that arrived at
// arrival ns, and whether the timestamp was replaced by the arrival clock.
func (t *timeline) at(ts uint32, arrival int64) (ms int64, rebased bool) {
	if !t.started {
		t.started, t.lastTS, t.lastArrival = true, ts, arrival
		return 0, false
	}
	d := int64(int32(ts - t.lastTS))
	elapsed := max(arrival-t.lastArrival, 0)
	if d < 0 || d*1e9/t.clock > elapsed+t.maxLeap {
		d = elapsed / 1e3 * t.clock / 1e6
		rebased = true
	}
	t.ticks += d
	t.lastTS, t.lastArrival = ts, arrival
	return t.ticks * 1000 / t.clock, rebased
}
