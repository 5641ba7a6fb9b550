package bwe

import "math"

// Usage is what the delay trend says of the path.
type Usage uint8

const (
	// UsageNormal: delay is steady.
	UsageNormal Usage = iota
	// UsageOver: a queue is building up, the node sends more than the
	// path carries.
	UsageOver
	// UsageUnder: a queue is draining.
	UsageUnder
)

func (u Usage) String() string {
	switch u {
	case UsageOver:
		return "overuse"
	case UsageUnder:
		return "underuse"
	}
	return "normal"
}

const (
	groupSpan      = 5e6 // ns: packets sent within this of a group's first belong to it
	trendWindow    = 20  // delay samples in the regression
	trendSmoothing = 0.9
	trendGain      = 4.0
	overuseTime    = 10e6 // ns a trend must stay over the threshold
	thresholdInit  = 12.5
	thresholdMin   = 6
	thresholdMax   = 600
	thresholdUp    = 0.0087 // adaptation when the trend is above the threshold
	thresholdDown  = 0.039  // and below it
	maxGroupGapNs  = 2e9    // a gap this long starts the trend over
)

// group is a burst of packets sent close together.
type group struct {
	firstSend, lastSend int64
	lastArrival         int64
	size                int
	valid               bool
}

// trend is the delay-gradient trend filter and overuse detector: libwebrtc's
// trendline estimator in essence, on ns timestamps.
type trend struct {
	cur, prev group

	firstArrival int64
	accumulated  float64 // ms
	smoothed     float64 // ms
	samples      [trendWindow][2]float64
	nSamples     int // in samples, up to trendWindow
	next         int // ring index
	deltas       int // delay deltas seen, for the gain

	threshold   float64
	lastAdapt   int64
	overTime    float64 // ms the trend has been over the threshold
	overCount   int
	prevTrend   float64
	usage       Usage
	initialized bool
}

func newTrend() trend { return trend{threshold: thresholdInit} }

// add feeds one received packet, in send order, and returns the usage.
func (t *trend) add(p Packet) Usage {
	if !t.cur.valid {
		t.cur = group{firstSend: p.SendTime, lastSend: p.SendTime, lastArrival: p.Arrival, size: p.Size, valid: true}
		return t.usage
	}
	if p.SendTime < t.cur.firstSend {
		return t.usage // reordered behind its group: ignore
	}
	if p.SendTime-t.cur.firstSend <= groupSpan {
		t.cur.lastSend = max(t.cur.lastSend, p.SendTime)
		t.cur.lastArrival = max(t.cur.lastArrival, p.Arrival)
		t.cur.size += p.Size
		return t.usage
	}
	// p starts a new group: the current one is complete.
	if t.prev.valid {
		sendDelta := t.cur.lastSend - t.prev.lastSend
		arrDelta := t.cur.lastArrival - t.prev.lastArrival
		if sendDelta > maxGroupGapNs || arrDelta > maxGroupGapNs || arrDelta < -maxGroupGapNs {
			t.reset()
		} else {
			t.update(float64(arrDelta-sendDelta)/1e6, float64(sendDelta)/1e6, t.cur.lastArrival)
		}
	}
	t.prev = t.cur
	t.cur = group{firstSend: p.SendTime, lastSend: p.SendTime, lastArrival: p.Arrival, size: p.Size, valid: true}
	return t.usage
}

func (t *trend) reset() {
	u := t.usage
	*t = newTrend()
	t.usage = u
}

// update takes one delay variation (ms) between groups sent sendDeltaMs
// apart, the later arriving at arrival (ns).
func (t *trend) update(delayMs, sendDeltaMs float64, arrival int64) {
	if !t.initialized {
		t.firstArrival, t.initialized = arrival, true
	}
	t.deltas++
	t.accumulated += delayMs
	t.smoothed = trendSmoothing*t.smoothed + (1-trendSmoothing)*t.accumulated
	t.samples[t.next] = [2]float64{float64(arrival-t.firstArrival) / 1e6, t.smoothed}
	t.next = (t.next + 1) % trendWindow
	if t.nSamples < trendWindow {
		t.nSamples++
	}
	slope := t.prevTrend
	if t.nSamples == trendWindow {
		if s, ok := t.slope(); ok {
			slope = s
		}
	}
	t.detect(slope, sendDeltaMs, arrival)
}

// slope is the least-squares slope of smoothed delay over arrival time.
func (t *trend) slope() (float64, bool) {
	var sx, sy float64
	for _, s := range t.samples[:t.nSamples] {
		sx += s[0]
		sy += s[1]
	}
	n := float64(t.nSamples)
	mx, my := sx/n, sy/n
	var num, den float64
	for _, s := range t.samples[:t.nSamples] {
		dx := s[0] - mx
		num += dx * (s[1] - my)
		den += dx * dx
	}
	if den == 0 {
		return 0, false
	}
	return num / den, true
}

func (t *trend) detect(slope, sendDeltaMs float64, now int64) {
	modified := float64(min(t.deltas, 60)) * slope * trendGain
	switch {
	case modified > t.threshold:
		if t.overTime < 0 {
			t.overTime = sendDeltaMs / 2
		} else {
			t.overTime += sendDeltaMs
		}
		t.overCount++
		if t.overTime > overuseTime/1e6 && t.overCount > 1 && slope >= t.prevTrend {
			t.overTime, t.overCount = 0, 0
			t.usage = UsageOver
		}
	case modified < -t.threshold:
		t.overTime, t.overCount = -1, 0
		t.usage = UsageUnder
	default:
		t.overTime, t.overCount = -1, 0
		t.usage = UsageNormal
	}
	t.prevTrend = slope
	t.adapt(modified, now)
}

// adapt moves the threshold towards the trend: slowly up, faster down, so
// that a path with jittery delay does not read as congested forever, and
// one trend spike (a delay step) does not move it at all.
func (t *trend) adapt(modified float64, now int64) {
	if t.lastAdapt == 0 {
		t.lastAdapt = now
	}
	abs := math.Abs(modified)
	if abs > t.threshold+15 {
		t.lastAdapt = now
		return
	}
	k := thresholdUp
	if abs < t.threshold {
		k = thresholdDown
	}
	dt := min(float64(now-t.lastAdapt)/1e6, 100)
	t.threshold += k * (abs - t.threshold) * dt
	t.threshold = min(max(t.threshold, thresholdMin), thresholdMax)
	t.lastAdapt = now
}
