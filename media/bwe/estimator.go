package bwe

import "math"

// Config bounds an Estimator.
type Config struct {
	Initial int64 // bits/s before any feedback
	Min     int64
	Max     int64
}

const (
	ackedWindow      = 500e6 // ns of arrivals the acknowledged rate is measured over
	increaseRate     = 1.08  // per second, far from the link's known capacity
	decreaseFactor   = 0.85
	heavyLoss        = 0.10 // loss above which the loss-based part cuts
	lossWindowPkts   = 40   // packets a loss figure needs
	defaultRTT       = 100e6
	maxProbeClusters = 4
	owdBuckets       = 5
	// minQueueDelay is how much the one-way delay must stand above its
	// recent floor before an overuse signal lowers the rate: a delay spike
	// that is already gone (a scheduler hiccup, a Wi-Fi retry) is not a
	// queue.
	minQueueDelay = 20e6 // ns
)

// Estimator is the send-side bandwidth estimate towards one receiver. It is
// not safe for concurrent use; the caller serialises feedback and reads.
type Estimator struct {
	cfg    Config
	target float64 // bits/s

	trend trend
	rtt   int64 // ns, smoothed

	// The acknowledged rate: packets received within ackedWindow of the
	// newest arrival.
	acked      []Packet
	ackedBytes int
	ackedBps   float64

	// The link's capacity as seen at past decreases: mean and variance of
	// the acknowledged rate then, in kbit/s (libwebrtc's link capacity
	// estimator), for choosing additive over multiplicative increase.
	capMean, capVar float64
	capKnown        bool

	// One-way delay (arrival minus send, clocks apart by a constant):
	// the smallest over the last few seconds in one-second buckets, and
	// the latest, smoothed. Their difference is the queue at the
	// bottleneck, the evidence an overuse signal needs.
	owdMin     [owdBuckets]int64
	owdBucket  int64 // send time / 1 s of the current bucket
	owdNow     float64
	owdStarted bool

	lastChange   int64 // ns, the latest rate update
	lastDecrease int64
	usage        Usage

	// Loss over the latest lossWindowPkts or more packets.
	lossSent, lossLost int
	loss               float64
	lastLossCut        int64

	probes      [maxProbeClusters]probeStats
	newestProbe int // probe cluster of the newest reported packet
	lastSeq     int64
	haveSeq     bool
	reported    int64 // packets reported, for tests and figures
}

// probeStats accumulates one probe cluster's feedback.
type probeStats struct {
	id                   int
	firstSend, lastSend  int64
	firstArr, lastArr    int64
	sentBytes, recvBytes int
	firstRecvSize        int
	lastSendSize         int
	received, lost       int
	done                 bool
	planned              float64 // bits/s the cluster was sent at, 0 when not told
}

// New returns an estimator starting at cfg.Initial.
func New(cfg Config) *Estimator {
	if cfg.Min <= 0 {
		cfg.Min = 50_000
	}
	if cfg.Max < cfg.Min {
		cfg.Max = cfg.Min
	}
	cfg.Initial = min(max(cfg.Initial, cfg.Min), cfg.Max)
	return &Estimator{cfg: cfg, target: float64(cfg.Initial), trend: newTrend(), rtt: defaultRTT}
}

// Target is the estimate, bits/s.
func (e *Estimator) Target() int64 { return int64(e.target) }

// Acked is the rate the receiver acknowledged lately, bits/s.
func (e *Estimator) Acked() int64 { return int64(e.ackedBps) }

// Loss is the fraction of packets lost lately, as feedback reports it.
func (e *Estimator) Loss() float64 { return e.loss }

// Usage is what the delay trend says lately; overuse only with a standing
// queue behind it.
func (e *Estimator) Usage() Usage { return e.usage }

// SetRTT gives the round trip time to the receiver, ns.
func (e *Estimator) SetRTT(rtt int64) {
	if rtt > 0 {
		e.rtt = rtt
	}
}

// OnFeedback takes one feedback report's packets, in sequence order, at now
// (ns, the node's clock) and updates the estimate.
func (e *Estimator) OnFeedback(now int64, pkts []Packet) {
	if len(pkts) == 0 {
		return
	}
	if e.lastChange == 0 {
		e.lastChange = now
	}
	for _, p := range pkts {
		if e.haveSeq && p.Seq <= e.lastSeq {
			continue // reported before
		}
		e.lastSeq, e.haveSeq = p.Seq, true
		e.reported++
		e.newestProbe = p.Probe
		e.lossSent++
		if p.Probe != 0 {
			e.probeAdd(p)
		}
		if !p.Received {
			e.lossLost++
			continue
		}
		e.usage = e.trend.add(p)
		e.owdAdd(p)
		e.ackAdd(p)
	}
	if e.lossSent >= lossWindowPkts {
		e.loss = float64(e.lossLost) / float64(e.lossSent)
		e.lossSent, e.lossLost = 0, 0
	}
	if e.usage == UsageOver && e.QueueDelay() < minQueueDelay {
		// A trend without a standing queue (a scheduler stall, jitter
		// that a no-reordering path turns into delay steps) is noise:
		// neither a cut nor a reason to stop probing.
		e.usage = UsageNormal
	}
	e.updateDelayBased(now)
	e.updateLossBased(now)
	e.applyProbes()
	e.target = min(max(e.target, float64(e.cfg.Min)), float64(e.cfg.Max))
}

// owdAdd tracks the one-way delay's floor and its latest value.
func (e *Estimator) owdAdd(p Packet) {
	owd := p.Arrival - p.SendTime
	b := p.SendTime / 1e9
	switch {
	case !e.owdStarted:
		for i := range e.owdMin {
			e.owdMin[i] = owd
		}
		e.owdBucket, e.owdNow, e.owdStarted = b, float64(owd), true
	case b > e.owdBucket:
		for k := e.owdBucket + 1; k <= b && k <= e.owdBucket+owdBuckets; k++ {
			e.owdMin[k%owdBuckets] = owd
		}
		e.owdBucket = b
	}
	i := e.owdBucket % owdBuckets
	e.owdMin[i] = min(e.owdMin[i], owd)
	e.owdNow = 0.7*e.owdNow + 0.3*float64(owd)
}

// QueueDelay is how far the one-way delay stands above its floor of the
// last few seconds, ns.
func (e *Estimator) QueueDelay() int64 {
	if !e.owdStarted {
		return 0
	}
	floor := e.owdMin[0]
	for _, m := range e.owdMin[1:] {
		floor = min(floor, m)
	}
	return int64(e.owdNow) - floor
}

func (e *Estimator) ackAdd(p Packet) {
	e.acked = append(e.acked, p)
	e.ackedBytes += p.Size
	newest := p.Arrival
	i := 0
	for i < len(e.acked) && newest-e.acked[i].Arrival > ackedWindow {
		e.ackedBytes -= e.acked[i].Size
		i++
	}
	if i > 0 {
		e.acked = append(e.acked[:0], e.acked[i:]...)
	}
	span := newest - e.acked[0].Arrival
	if len(e.acked) >= 5 && span > 0 {
		// Over at least a quarter of the window, so that a burst does not
		// read as a high rate.
		span = max(span, ackedWindow/4)
		e.ackedBps = float64(e.ackedBytes-e.acked[0].Size) * 8 / (float64(span) / 1e9)
	}
}

// updateDelayBased is the AIMD rate control on the delay trend's signal.
func (e *Estimator) updateDelayBased(now int64) {
	dt := float64(now-e.lastChange) / 1e9
	e.lastChange = now
	switch e.usage {
	case UsageOver:
		// At most once per round trip: the queue the last cut should
		// drain needs that long to show it.
		if now-e.lastDecrease < e.rtt+100e6 || e.ackedBps == 0 {
			return
		}
		e.noteCapacity(e.ackedBps)
		next := decreaseFactor * e.ackedBps
		if next < e.target {
			e.target = next
		}
		e.lastDecrease = now
	case UsageUnder:
		// Hold: a queue is draining, the rate that built it is known.
	default:
		if e.capKnown && e.ackedBps/1000 > e.capMean+3*math.Sqrt(e.capVar*e.capMean) {
			e.capKnown = false // the link got faster than we knew
		}
		next := e.target
		if e.capKnown {
			// Near the known capacity: one packet more per response time.
			resp := float64(e.rtt+100e6) / 1e9
			next += 1200 * 8 / resp * min(dt, 1)
		} else {
			next *= math.Pow(increaseRate, min(dt, 1))
		}
		// No increase far above what actually arrives: without traffic
		// to fill it, a higher estimate is a guess (probes test it). An
		// estimate already above stays: a receiver sent little stays
		// entitled to what it was shown to carry.
		if limit := 1.5*e.ackedBps + 10_000; e.ackedBps > 0 && next > limit {
			next = max(limit, e.target)
		}
		e.target = next
	}
}

// noteCapacity updates the link's capacity from an acknowledged rate at a
// decrease.
func (e *Estimator) noteCapacity(bps float64) {
	k := bps / 1000
	if !e.capKnown {
		e.capMean, e.capVar, e.capKnown = k, 0.4, true
		return
	}
	const a = 0.05
	if k < e.capMean-3*math.Sqrt(e.capVar*e.capMean) {
		e.capMean = k // far below: the link got slower
	} else {
		e.capMean = (1-a)*e.capMean + a*k
	}
	norm := max(e.capMean, 1)
	e.capVar = (1-a)*e.capVar + a*(e.capMean-k)*(e.capMean-k)/norm
	e.capVar = min(max(e.capVar, 0.4), 2.5)
}

// updateLossBased cuts the estimate on heavy loss only, at most once per
// round trip and a bit.
func (e *Estimator) updateLossBased(now int64) {
	if e.loss <= heavyLoss || now-e.lastLossCut < e.rtt+300e6 {
		return
	}
	e.target *= 1 - 0.5*e.loss
	e.lastLossCut = now
}
