// Package linkrate estimates what one relay link between two nodes carries, from what the link shows.
//
// An Estimator is a pure state machine fed one Sample per tick (a ping
// interval or so) by the sending node: the bytes it put on the link, the
// far side's count of what arrived (loss, and the rate it arrived at), the
// one-way delay or round trip against its recent minimum (a standing
// queue), NACKs, and the link's configured rate when it is emulated. It
// answers with a capacity in bits per second, or 0 while nothing says the
// link has a limit.
//
// The rule is AIMD-like, built so that random loss and a draining queue do
// not ratchet the estimate down:
//
//   - a standing queue, loss with a queue, or heavy loss on its own that
//     lasts is congestion; the estimate is cut to a little under the rate the far
//     side received at (what a saturated bottleneck delivers), never raised
//     by a cut;
//   - after a cut, another needs the queue not to be draining, or loss with
//     a queue; heavy loss alone that persists after sending less is the
//     link's own loss, not a limit, and does not cut again;
//   - a clean link used near its estimate grows it slowly;
//   - when more is wanted than the estimate lets through (Sample.Demand),
//     the estimate is raised to it now and then to see whether the limit
//     went away, with a back-off that doubles each time it had not;
//   - a configured rate is the starting estimate and a ceiling it never
//     passes.
package linkrate

import (
	"time"
)

// Config tunes an Estimator; New fills zero fields with the defaults below.
type Config struct {
	// Window is how much recent history rates and loss are taken over.
	Window time.Duration
	// LossCut is the loss that is congestion even without a queue (a
	// bottleneck with a small buffer).
	LossCut float64
	// LossQueued is the loss that is congestion when a queue stands too;
	// below it a link is clean.
	LossQueued float64
	// QueueMin is the least queueing delay counted as a queue; the
	// threshold is the larger of it and a quarter of the base round trip.
	QueueMin time.Duration
	// Beta scales the received rate into the estimate on a cut.
	Beta float64
	// Growth is the estimate's growth per second on a clean link used near
	// it (at least UsedFraction of it).
	Growth       float64
	UsedFraction float64
	// ProbeAfter is the wait after a cut before the estimate is first
	// raised to the demand; each probe that ends in a cut doubles it, up
	// to ProbeMax. A probe that lasts ProbeHold without a cut succeeded.
	ProbeAfter, ProbeMax, ProbeHold time.Duration
	// ProbeMargin scales the demand into a probe's estimate, so that what
	// is wanted fits with room.
	ProbeMargin float64
	// Floor is the least estimate: audio always crosses.
	Floor int64
	// BaseWindow is how long a minimum delay is remembered as the base.
	BaseWindow time.Duration
}

// Defaults.
const (
	DefaultWindow       = time.Second
	DefaultLossCut      = 0.10
	DefaultLossQueued   = 0.02
	DefaultQueueMin     = 30 * time.Millisecond
	DefaultBeta         = 0.9
	DefaultGrowth       = 0.05
	DefaultUsedFraction = 0.75
	DefaultProbeAfter   = 20 * time.Second
	DefaultProbeMax     = 5 * time.Minute
	DefaultProbeHold    = 4 * time.Second
	DefaultProbeMargin  = 1.2
	DefaultFloor        = 64_000
	DefaultBaseWindow   = 30 * time.Second
)

func (c *Config) fill() {
	set := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	setF := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	set(&c.Window, DefaultWindow)
	set(&c.QueueMin, DefaultQueueMin)
	set(&c.ProbeAfter, DefaultProbeAfter)
	set(&c.ProbeMax, DefaultProbeMax)
	set(&c.ProbeHold, DefaultProbeHold)
	set(&c.BaseWindow, DefaultBaseWindow)
	setF(&c.LossCut, DefaultLossCut)
	setF(&c.LossQueued, DefaultLossQueued)
	setF(&c.Beta, DefaultBeta)
	setF(&c.Growth, DefaultGrowth)
	setF(&c.UsedFraction, DefaultUsedFraction)
	setF(&c.ProbeMargin, DefaultProbeMargin)
	if c.Floor <= 0 {
		c.Floor = DefaultFloor
	}
}

// Sample is what one tick saw of the link. Counts are since the previous
// sample; a field left zero is unknown.
type Sample struct {
	At time.Time
	// Configured is the link's known rate in bits per second (an emulated
	// link's cascade.links rate); 0: none.
	Configured int64
	// Sent and SentPackets are the bytes and datagrams this node put on
	// the link, as they cross it (sealed).
	Sent, SentPackets uint64
	// Expected and Received are the far side's count of this node's
	// datagrams (Expected from their sequence numbers); both 0 when no
	// report came.
	Expected, Received uint64
	// Delivered bytes arrived at the far side over DeliveredFor of its own
	// clock.
	Delivered    uint64
	DeliveredFor time.Duration
	// OneWay is the far side's clock at a ping's arrival minus this node's
	// at its sending: its offset is arbitrary, its rise over the minimum
	// is queueing on the way there. Valid when HasOneWay.
	OneWay    time.Duration
	HasOneWay bool
	// RTT is the latest round trip (the queue's fallback when there is no
	// one-way figure).
	RTT time.Duration
	// NACKed counts packets the far side asked for again (the loss's
	// fallback when it sends no report).
	NACKed uint64
	// Demand is what the link would carry if nothing were held back, bits
	// per second; 0 when nothing is held back.
	Demand int64
}

// State says why the estimate is what it is; it reads as plain words.
type State uint8

// States.
const (
	Unlimited  State = iota // no sign of a limit
	Configured              // the configured rate, and nothing lower seen
	Steady                  // clean, holding
	Growing                 // clean and used near the estimate
	Queue                   // cut: a queue stands on the way
	Loss                    // cut: the far side misses datagrams
	Lossy                   // loss without a queue: holding, not cutting
	Draining                // after a cut, waiting for the queue to drain
	Probing                 // raised to what is wanted, to see if it fits
)

var stateNames = [...]string{
	Unlimited:  "no limit seen",
	Configured: "configured rate",
	Steady:     "steady",
	Growing:    "growing",
	Queue:      "cut: queue",
	Loss:       "cut: loss",
	Lossy:      "random loss: holding",
	Draining:   "draining",
	Probing:    "probing",
}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// Estimate is an Estimator's answer.
type Estimate struct {
	// Bps is the capacity in bits per second; 0: no limit seen.
	Bps   int64
	State State
	// The figures it came from, over the window: the far side's loss, the
	// queueing delay, what was sent and what arrived (bits/s; 0 unknown).
	Loss         float64
	Queue        time.Duration
	SentBps      int64
	DeliveredBps int64

	recentDelivered int64 // over the last half window
}

const ring = 32

type entry struct {
	dt                 time.Duration
	sent, sentPkts     uint64
	expected, received uint64
	delivered          uint64
	deliveredFor       time.Duration
	nacked             uint64
}

// base keeps the minimum of a delay over a sliding window, in buckets.
type base struct {
	mins  [6]time.Duration
	set   [6]bool
	start time.Time // of the current bucket
	i     int
}

func (b *base) add(now time.Time, d time.Duration, window time.Duration) {
	span := window / time.Duration(len(b.mins))
	if b.start.IsZero() {
		b.start = now
	}
	for now.Sub(b.start) >= span {
		b.i = (b.i + 1) % len(b.mins)
		b.set[b.i] = false
		b.start = b.start.Add(span)
		if now.Sub(b.start) >= window {
			b.start = now
			b.set = [6]bool{}
		}
	}
	if !b.set[b.i] || d < b.mins[b.i] {
		b.mins[b.i], b.set[b.i] = d, true
	}
}

func (b *base) min() (time.Duration, bool) {
	var m time.Duration
	ok := false
	for i := range b.mins {
		if b.set[i] && (!ok || b.mins[i] < m) {
			m, ok = b.mins[i], true
		}
	}
	return m, ok
}

// Estimator is one link's capacity estimate. The zero value is not ready:
// use New. It is not safe for concurrent use and does not allocate.
type Estimator struct {
	cfg Config

	last       time.Time
	hist       [ring]entry
	n, head    int
	owd, rtt   base
	queueTicks int // fresh delay figures in a row over the threshold
	lastQueue  time.Duration
	queueThr   time.Duration
	cleanTicks int
	heavyTicks int // ticks in a row with heavy loss over the window

	est        int64
	configured int64
	state      State

	episode    bool          // a cut happened and the link has not been clean since
	holdUntil  time.Time     // no cut before this
	queueAtCut time.Duration // queueing delay at the last cut
	backoff    time.Duration
	nextProbe  time.Time
	probeUntil time.Time // a probe is under way until then
	probeFrom  int64     // the estimate before the probe
}

// New returns an estimator with no limit known.
func New(cfg Config) *Estimator {
	cfg.fill()
	return &Estimator{cfg: cfg, backoff: cfg.ProbeAfter}
}

// Estimate is the latest answer, as Update returned it.
func (e *Estimator) Estimate() int64 { return e.est }

// Update takes one tick's sample and returns the estimate.
func (e *Estimator) Update(s Sample) Estimate {
	c := &e.cfg
	if s.Configured != e.configured {
		// A new configured rate (or none) replaces what was learnt: the
		// operator knows the link better than the history does.
		*e = Estimator{cfg: e.cfg, backoff: c.ProbeAfter, configured: max(s.Configured, 0), owd: e.owd, rtt: e.rtt}
		e.est = e.configured
	}
	if e.last.IsZero() || !s.At.After(e.last) {
		// The first sample, or a clock that did not move: its counts
		// cover no known interval.
		e.last = s.At
		return Estimate{Bps: e.est, State: e.steadyState()}
	}
	dt := s.At.Sub(e.last)
	e.last = s.At
	e.push(entry{dt: dt, sent: s.Sent, sentPkts: s.SentPackets, expected: s.Expected, received: s.Received,
		delivered: s.Delivered, deliveredFor: s.DeliveredFor, nacked: s.NACKed})

	out, covered := e.window()
	if q, thr, fresh := e.queue(s); fresh {
		// Ticks without a fresh figure (its pong not back yet) leave the
		// queue as it was last seen.
		e.lastQueue, e.queueThr = q, thr
		if q >= thr {
			e.queueTicks++
		} else {
			e.queueTicks = 0
		}
	}
	queue, thr := e.lastQueue, e.queueThr
	out.Queue = queue
	queued := e.queueTicks > 0
	// A queue counts when this node fills it: more goes in than comes out
	// at the far side. A queue that does not grow by what this node sends
	// is a longer path, or someone else's traffic, and sending less would
	// not drain it. Without a report of what arrived, the queue alone.
	ownQueue := out.DeliveredBps <= 0 || float64(out.SentBps) > 1.05*float64(out.DeliveredBps)
	standing := e.queueTicks >= 2 && ownQueue
	someQueue := thr > 0 && queue >= thr/2

	// Heavy loss without a queue counts when it lasts: random loss of a
	// few percent reaches the threshold in one window now and then.
	if out.Loss >= c.LossCut {
		e.heavyTicks++
	} else {
		e.heavyTicks = 0
	}
	heavy := e.heavyTicks >= 3
	congested := standing || (out.Loss >= c.LossQueued && someQueue) || heavy
	now := s.At
	probing := !e.probeUntil.IsZero()
	if probing && !now.Before(e.probeUntil) {
		// The probe held: the link carries what was wanted.
		e.probeUntil = time.Time{}
		e.backoff = c.ProbeAfter
		probing = false
	}

	switch {
	case covered < c.Window/2:
		// Too little since the start or the last cut to judge the link
		// by: one short tick is noise.
		e.cleanTicks = 0
		e.state = e.steadyState()
		if e.episode {
			e.state = Draining
		}
	case congested:
		e.cleanTicks = 0
		if now.Before(e.holdUntil) {
			e.state = Draining
			break
		}
		if e.episode {
			// A second cut in one episode only if sending less did not
			// help: the queue is not draining, or loss still comes with
			// a queue. Heavy loss alone that outlived a cut is the
			// link's own.
			draining := queue < e.queueAtCut
			if !(standing && !draining) && !(out.Loss >= c.LossQueued && someQueue) {
				e.state = Draining
				if !queued && out.Loss >= c.LossQueued {
					e.state = Lossy
				}
				break
			}
		}
		e.cut(now, out, queue, queued, probing)
	case out.Loss >= c.LossQueued:
		// Loss without a queue: not a limit, but no reason to grow.
		e.cleanTicks = 0
		e.state = Lossy
	case queued:
		// A queue this node does not fill (a longer path, someone
		// else's traffic), or one not yet standing: no cut, no growth.
		e.cleanTicks = 0
		e.state = e.steadyState()
		if e.episode {
			e.state = Draining
		}
	default:
		e.cleanTicks++
		if e.cleanTicks >= 2 {
			e.episode = false
		}
		e.state = e.steadyState()
		if e.est > 0 && out.SentBps >= int64(c.UsedFraction*float64(e.est)) {
			grown := e.est + max(int64(float64(e.est)*c.Growth*dt.Seconds()), 1)
			e.est = e.capped(grown)
			if e.est == grown {
				e.state = Growing
			}
		}
		if e.est > 0 && s.Demand > 0 && !probing && e.cleanTicks >= 4 && !now.Before(e.nextProbe) {
			target := e.capped(int64(float64(s.Demand) * c.ProbeMargin))
			if target > e.est {
				e.probeFrom, e.est = e.est, target
				e.probeUntil = now.Add(c.ProbeHold)
				e.state = Probing
			}
		}
		if probing {
			e.state = Probing
		}
	}
	out.Bps, out.State = e.est, e.state
	return out
}

// cut lowers the estimate to what the far side received, a little under.
func (e *Estimator) cut(now time.Time, w Estimate, queue time.Duration, queued, probing bool) {
	c := &e.cfg
	// What arrived lately: over a whole window it may mix in the moments
	// before the queue, when less was sent than the link carries.
	target := max(w.DeliveredBps, w.recentDelivered)
	if target <= 0 {
		target = int64(float64(w.SentBps) * (1 - w.Loss))
	}
	next := int64(float64(target) * c.Beta)
	if e.est > 0 {
		next = min(next, e.est)
	}
	if probing {
		// The probe found the limit: back to at most where it started,
		// and wait longer before the next.
		next = min(next, e.probeFrom)
		e.backoff = min(2*e.backoff, c.ProbeMax)
		e.probeUntil = time.Time{}
	}
	e.est = e.capped(max(next, c.Floor))
	e.episode = true
	e.holdUntil = now.Add(c.Window)
	e.queueAtCut = queue
	e.nextProbe = now.Add(e.backoff)
	e.state = Loss
	if queued {
		e.state = Queue
	}
	// Rates and loss from before the cut say nothing about after it.
	e.n = 0
}

func (e *Estimator) steadyState() State {
	switch {
	case e.est == 0:
		return Unlimited
	case e.est == e.configured && !e.episode:
		return Configured
	}
	return Steady
}

// capped applies the configured ceiling.
func (e *Estimator) capped(v int64) int64 {
	if e.configured > 0 {
		return min(v, e.configured)
	}
	return v
}

func (e *Estimator) push(x entry) {
	e.hist[e.head] = x
	e.head = (e.head + 1) % ring
	e.n = min(e.n+1, ring)
}

// window sums the most recent samples covering the window, and says how
// much time they cover.
func (e *Estimator) window() (Estimate, time.Duration) {
	var (
		sum       entry
		recent    uint64 // delivered over the last half window
		recentFor time.Duration
	)
	for i := 0; i < e.n && sum.dt < e.cfg.Window; i++ {
		x := e.hist[(e.head-1-i+ring)%ring]
		if sum.dt < e.cfg.Window/2 {
			recent += x.delivered
			recentFor += x.deliveredFor
		}
		sum.dt += x.dt
		sum.sent += x.sent
		sum.sentPkts += x.sentPkts
		sum.expected += x.expected
		sum.received += x.received
		sum.delivered += x.delivered
		sum.deliveredFor += x.deliveredFor
		sum.nacked += x.nacked
	}
	var w Estimate
	if sum.dt > 0 {
		w.SentBps = int64(float64(sum.sent) * 8 / sum.dt.Seconds())
	}
	if sum.deliveredFor >= e.cfg.Window/2 {
		w.DeliveredBps = int64(float64(sum.delivered) * 8 / sum.deliveredFor.Seconds())
	}
	if recentFor >= e.cfg.Window/4 {
		w.recentDelivered = int64(float64(recent) * 8 / recentFor.Seconds())
	}
	const minPackets = 20 // fewer say nothing about a fraction
	switch {
	case sum.expected >= minPackets:
		if sum.expected > sum.received {
			w.Loss = float64(sum.expected-sum.received) / float64(sum.expected)
		}
	case sum.expected == 0 && sum.sentPkts >= minPackets && sum.nacked > 0:
		// No reports from the far side: its NACKs stand in.
		w.Loss = min(float64(sum.nacked)/float64(sum.sentPkts), 1)
	}
	return w, sum.dt
}

// queue is the queueing delay on the way to the far side and the threshold
// it counts from; fresh is false when the sample brings no new figure.
func (e *Estimator) queue(s Sample) (q, thr time.Duration, fresh bool) {
	c := &e.cfg
	thr = c.QueueMin
	if s.RTT > 0 {
		e.rtt.add(s.At, s.RTT, c.BaseWindow)
	}
	baseRTT, haveRTT := e.rtt.min()
	if haveRTT {
		thr = max(thr, baseRTT/4)
	}
	if s.HasOneWay {
		e.owd.add(s.At, s.OneWay, c.BaseWindow)
		m, _ := e.owd.min()
		return s.OneWay - m, thr, true
	}
	if _, have := e.owd.min(); have {
		// This tick had no fresh one-way figure; the round trip would
		// mix in the way back. Wait for the next.
		return 0, thr, false
	}
	if s.RTT > 0 && haveRTT {
		return s.RTT - baseRTT, thr, true
	}
	return 0, thr, false
}
