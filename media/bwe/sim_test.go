package bwe

import (
	"math/rand/v2"
	"testing"
)

// link is a bottleneck for the simulation: random loss, then a FIFO queue
// drained at rate (tail drop when full), then a fixed delay each way.
type link struct {
	rate      func(t int64) float64 // bits/s, 0 for unlimited
	loss      float64
	delay     int64 // one way, ns
	jitter    int64 // ns, uniform ±; packets keep their order
	lastArr   int64
	queue     int // bytes
	rng       *rand.Rand
	busyUntil int64
	inQueue   []qpkt
}

type qpkt struct {
	leave int64
	size  int
}

// send returns the packet's arrival time, or false when it is lost.
func (l *link) send(now int64, size int) (int64, bool) {
	if l.rng.Float64() < l.loss {
		return 0, false
	}
	r := l.rate(now)
	if r == 0 {
		return l.jittered(now + l.delay), true
	}
	held := 0
	kept := l.inQueue[:0]
	for _, q := range l.inQueue {
		if q.leave > now {
			kept = append(kept, q)
			held += q.size
		}
	}
	l.inQueue = kept
	if held+size > l.queue {
		return 0, false
	}
	start := max(now, l.busyUntil)
	l.busyUntil = start + int64(float64(size*8)/r*1e9)
	l.inQueue = append(l.inQueue, qpkt{leave: l.busyUntil, size: size})
	return l.jittered(l.busyUntil + l.delay), true
}

// jittered spreads an arrival by the jitter, never before the previous one.
func (l *link) jittered(at int64) int64 {
	if l.jitter > 0 {
		at += l.rng.Int64N(2*l.jitter+1) - l.jitter
	}
	at = max(at, l.lastArr)
	l.lastArr = at
	return at
}

type simResult struct {
	targets  []int64 // once per 100 ms
	sentBps  []float64
	probes   int
	recovery int64 // ns from the lift to the target reaching want, -1 never
}

// simulate runs a sender that sends min(want, estimate) of media, probes as
// the prober says, and gets feedback every 100 ms, for dur.
func simulate(t *testing.T, l *link, want int64, dur, liftAt int64) simResult {
	t.Helper()
	e := New(Config{Initial: 300_000, Min: 50_000, Max: 10_000_000})
	var pr Prober
	type sent struct {
		p       Packet
		arrival int64
		ok      bool
	}
	var inflight []sent
	var pending [][]Packet // feedback on its way back
	var pendingAt []int64
	var seq int64
	var res simResult
	res.recovery = -1
	var cluster Cluster
	var clusterEnd int64
	var mediaDebt, padDebt float64
	var sentBytes int
	const tick = int64(1e6)
	for now := int64(0); now < dur; now += tick {
		mediaRate := float64(min(want, e.Target()))
		if c, ok := pr.Plan(now, e.Target(), want, e.Usage(), e.Loss()); ok {
			cluster, clusterEnd = c, now+c.Duration
			res.probes++
		}
		probe := 0
		padRate := 0.0
		if now < clusterEnd {
			probe = cluster.ID
			padRate = max(0, float64(cluster.Rate)-mediaRate)
		}
		mediaDebt += mediaRate * float64(tick) / 1e9 / 8
		padDebt += padRate * float64(tick) / 1e9 / 8
		emit := func(size int) {
			seq++
			arr, ok := l.send(now, size)
			inflight = append(inflight, sent{Packet{Seq: seq, SendTime: now, Size: size, Probe: probe}, arr, ok})
			sentBytes += size
		}
		for mediaDebt >= 1200 {
			mediaDebt -= 1200
			emit(1200)
		}
		for padDebt >= 300 {
			padDebt -= 300
			emit(300)
		}
		if now%(100*tick) == 0 && len(inflight) > 0 {
			// The receiver reports up to the newest packet that arrived.
			last := -1
			for i, s := range inflight {
				if s.ok && s.arrival <= now {
					last = i
				}
			}
			if last >= 0 {
				fb := make([]Packet, 0, last+1)
				for _, s := range inflight[:last+1] {
					p := s.p
					if s.ok && s.arrival <= now {
						p.Received, p.Arrival = true, s.arrival
					}
					fb = append(fb, p)
				}
				inflight = append(inflight[:0], inflight[last+1:]...)
				pending = append(pending, fb)
				pendingAt = append(pendingAt, now+l.delay)
			}
			res.targets = append(res.targets, e.Target())
			res.sentBps = append(res.sentBps, float64(sentBytes)*8*10)
			sentBytes = 0
			if liftAt > 0 && now >= liftAt && res.recovery < 0 && e.Target() >= want {
				res.recovery = now - liftAt
			}
		}
		for len(pending) > 0 && pendingAt[0] <= now {
			e.SetRTT(2 * l.delay)
			e.OnFeedback(now, pending[0])
			pending, pendingAt = pending[1:], pendingAt[1:]
		}
	}
	return res
}

func meanFrom(xs []int64, from int) float64 {
	var s float64
	for _, x := range xs[from:] {
		s += float64(x)
	}
	return s / float64(len(xs)-from)
}

func TestSimulatedPaths(t *testing.T) {
	const sec = int64(1e9)
	unlimited := func(int64) float64 { return 0 }
	capped := func(c float64) func(int64) float64 { return func(int64) float64 { return c } }
	cases := []struct {
		name     string
		l        link
		want     int64
		dur      int64
		liftAt   int64
		lo, hi   float64 // bounds on the mean estimate over the last half, bits/s
		recovery int64   // the lifted cap must be recovered within this, 0 for no lift
	}{
		{name: "clean, wants 2.5M", l: link{rate: unlimited, delay: 20e6}, want: 2_500_000, dur: 30 * sec,
			lo: 2_500_000, hi: 10_000_000},
		{name: "3% random loss, no cap: loss alone does not cut", l: link{rate: unlimited, loss: 0.03, delay: 20e6},
			want: 2_500_000, dur: 30 * sec, lo: 2_500_000, hi: 10_000_000},
		{name: "cap 400k + 3% loss", l: link{rate: capped(400_000), loss: 0.03, delay: 15e6, queue: 64 << 10},
			want: 2_500_000, dur: 60 * sec, lo: 250_000, hi: 480_000},
		{name: "cap 1M", l: link{rate: capped(1_000_000), delay: 20e6, queue: 64 << 10},
			want: 2_500_000, dur: 60 * sec, lo: 700_000, hi: 1_200_000},
		{name: "150 ms RTT", l: link{rate: unlimited, delay: 75e6}, want: 2_500_000, dur: 30 * sec,
			lo: 2_500_000, hi: 10_000_000},
		{name: "150 ms RTT, 5 ms jitter", l: link{rate: unlimited, delay: 75e6, jitter: 5e6}, want: 2_500_000, dur: 30 * sec,
			lo: 2_500_000, hi: 10_000_000},
		{name: "30 ms RTT, 5 ms jitter, 2% loss", l: link{rate: unlimited, delay: 15e6, jitter: 5e6, loss: 0.02}, want: 2_500_000, dur: 30 * sec,
			lo: 2_500_000, hi: 10_000_000},
		{name: "cap 1M, 5 ms jitter", l: link{rate: capped(1_000_000), delay: 15e6, jitter: 5e6, queue: 64 << 10},
			want: 2_500_000, dur: 60 * sec, lo: 700_000, hi: 1_200_000},
		{name: "20% loss cuts", l: link{rate: unlimited, loss: 0.2, delay: 20e6}, want: 2_500_000, dur: 30 * sec,
			lo: 50_000, hi: 1_000_000},
		{name: "cap 300k lifted at 20 s", l: link{rate: func(t int64) float64 {
			if t < 20*sec {
				return 300_000
			}
			return 0
		}, delay: 20e6, queue: 64 << 10}, want: 2_500_000, dur: 40 * sec, liftAt: 20 * sec,
			lo: 2_500_000, hi: 10_000_000, recovery: 5 * sec},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := c.l
			l.rng = rand.New(rand.NewPCG(1, 2))
			r := simulate(t, &l, c.want, c.dur, c.liftAt)
			mean := meanFrom(r.targets, len(r.targets)/2)
			t.Logf("mean estimate over the second half %.0f kbit/s, probes %d, recovery %.1f s", mean/1000, r.probes, float64(r.recovery)/1e9)
			if testing.Verbose() {
				for i := 0; i < len(r.targets); i += 10 {
					t.Logf("t=%2ds target %5d kbit/s sent %5.0f kbit/s", i/10, r.targets[i]/1000, r.sentBps[i]/1000)
				}
			}
			if mean < c.lo || mean > c.hi {
				t.Errorf("mean estimate %.0f, want within [%.0f, %.0f]", mean, c.lo, c.hi)
			}
			if c.recovery > 0 && (r.recovery < 0 || r.recovery > c.recovery) {
				t.Errorf("recovered to %d bit/s %.1f s after the lift, want within %.1f s", c.want, float64(r.recovery)/1e9, float64(c.recovery)/1e9)
			}
		})
	}
}
