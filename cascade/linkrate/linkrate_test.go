package linkrate

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// phase is a stretch of time with one link and one sender.
type phase struct {
	dur time.Duration
	// The bottleneck: bits/s (0: none), its buffer in bytes, one-way
	// delay, random loss.
	capacity int64
	queueMax float64
	delay    time.Duration
	loss     float64
	// configured is the rate the estimator is told; noReports hides the far
	// side's reports (an older peer): only NACKs and the round trip remain.
	configured int64
	noReports  bool
}

// Layer costs of the sender (q, h, f) and its audio, bits/s on the link.
var layerCost = [3]int64{120_000, 430_000, 1_070_000}

const audioCost = 40_000

// sender picks the best layer that fits the estimate, as peering does for
// a peer that wants f; fixed > 0 sends that rate whatever the estimate.
type sender struct {
	fixed int64
}

func (s sender) choose(est int64) (layer int, rate, demand int64) {
	if s.fixed > 0 {
		return -1, s.fixed, 0
	}
	layer = len(layerCost) - 1
	for layer > 0 && est > 0 && audioCost+layerCost[layer] > est {
		layer--
	}
	rate = audioCost + layerCost[layer]
	if layer < len(layerCost)-1 {
		demand = audioCost + layerCost[len(layerCost)-1]
	}
	return layer, rate, demand
}

// tick is what the simulation recorded at one sample.
type tick struct {
	at       time.Duration
	est      Estimate
	layer    int
	sent     float64 // bytes
	lost     float64 // bytes
	capacity int64
}

const (
	step   = 250 * time.Millisecond
	pktLen = 1200.0
)

// simulate runs a fluid model of a FIFO bottleneck with tail drop, fed by
// the sender at the rate its layer costs, and the estimator on what the
// link shows every 250 ms (a ping interval).
func simulate(cfg Config, snd sender, phases []phase) []tick {
	e := New(cfg)
	start := time.Unix(1_000_000, 0)
	var (
		now      time.Duration
		q        float64 // bytes queued at the bottleneck
		lossAcc  float64
		out      []tick
		lastEst  int64
		clockOff = 7 * time.Second // the far side's clock offset: only changes matter
	)
	for _, ph := range phases {
		for end := now + ph.dur; now < end; now += step {
			layer, rate, demand := snd.choose(lastEst)
			sent := float64(rate) * step.Seconds() / 8
			// Random loss first, then the bottleneck.
			lossAcc += sent * ph.loss
			randomLost := lossAcc
			lossAcc = 0
			in := sent - randomLost
			var delivered, overflow float64
			if ph.capacity > 0 {
				q += in
				service := float64(ph.capacity) * step.Seconds() / 8
				delivered = min(q, service)
				q -= delivered
				if q > ph.queueMax {
					overflow = q - ph.queueMax
					q = ph.queueMax
				}
			} else {
				delivered, q = in, 0
			}
			lost := randomLost + overflow
			var queueDelay time.Duration
			if ph.capacity > 0 {
				queueDelay = time.Duration(q * 8 / float64(ph.capacity) * float64(time.Second))
			}
			exp := sent / pktLen
			s := Sample{
				At: start.Add(now + step), Configured: ph.configured,
				Sent: uint64(sent), SentPackets: uint64(exp),
				RTT:    2*ph.delay + queueDelay,
				Demand: demand,
			}
			if ph.noReports {
				s.NACKed = uint64(lost / pktLen)
			} else {
				s.Expected, s.Received = uint64(exp), uint64((sent-lost)/pktLen)
				s.Delivered, s.DeliveredFor = uint64(delivered), step
				s.OneWay, s.HasOneWay = clockOff+ph.delay+queueDelay, true
			}
			est := e.Update(s)
			lastEst = est.Bps
			out = append(out, tick{at: now + step, est: est, layer: layer, sent: sent, lost: lost, capacity: ph.capacity})
		}
	}
	return out
}

// between returns the ticks in [from, to).
func between(tr []tick, from, to time.Duration) []tick {
	var out []tick
	for _, t := range tr {
		if t.at > from && t.at <= to {
			out = append(out, t)
		}
	}
	return out
}

func lossOf(tr []tick) float64 {
	var sent, lost float64
	for _, t := range tr {
		sent += t.sent
		lost += t.lost
	}
	if sent == 0 {
		return 0
	}
	return lost / sent
}

// layers counts the ticks spent on each layer.
func layers(tr []tick) map[int]int {
	m := map[int]int{}
	for _, t := range tr {
		m[t.layer]++
	}
	return m
}

// trace prints the estimate once a second, for failures.
func trace(tr []tick) string {
	var b strings.Builder
	for i, t := range tr {
		if i%4 == 3 {
			fmt.Fprintf(&b, "%5.1fs %8d %-22s layer %2d loss %.2f queue %v\n", t.at.Seconds(), t.est.Bps, t.est.State,
				t.layer, t.est.Loss, t.est.Queue.Round(time.Millisecond))
		}
	}
	return b.String()
}

func TestEstimator(t *testing.T) {
	const (
		capKbit = 700_000
		buffer  = 64 << 10
	)
	capped := phase{capacity: capKbit, queueMax: buffer, delay: 20 * time.Millisecond}
	open := phase{delay: 20 * time.Millisecond}
	with := func(p phase, f func(*phase)) phase { f(&p); return p }
	for _, tc := range []struct {
		name   string
		snd    sender
		phases []phase
		check  func(t *testing.T, tr []tick)
	}{{
		name:   "clean link: no limit is seen",
		phases: []phase{with(open, func(p *phase) { p.dur = 30 * time.Second })},
		check: func(t *testing.T, tr []tick) {
			for _, x := range tr {
				if x.est.Bps != 0 || x.est.State != Unlimited || x.layer != 2 {
					t.Fatalf("at %v: estimate %d (%v), layer %d; want no limit and f", x.at, x.est.Bps, x.est.State, x.layer)
				}
			}
		},
	}, {
		name:   "capped link saturating: settles under the cap on a layer that fits",
		phases: []phase{with(capped, func(p *phase) { p.dur = 60 * time.Second })},
		check: func(t *testing.T, tr []tick) {
			first := -1
			for i, x := range tr {
				if x.est.Bps > 0 {
					first = i
					break
				}
			}
			if first < 0 || tr[first].at > 3*time.Second {
				t.Fatalf("no cut within 3 s of saturating a 700 kbit/s link")
			}
			late := between(tr, 10*time.Second, 60*time.Second)
			near := 0
			for _, x := range late {
				if x.est.Bps >= 450_000 && x.est.Bps <= 900_000 {
					near++
				}
			}
			// Probes (one in these 50 s) lift it for a moment.
			if near < len(late)*9/10 {
				t.Errorf("estimate near the 700 kbit/s cap in %d of %d ticks after 10 s", near, len(late))
			}
			if l := layers(late); l[1] < len(late)*8/10 {
				t.Errorf("layers after 10 s %v: want mostly h", l)
			}
			if l := lossOf(late); l > 0.02 {
				t.Errorf("loss after 10 s %.1f%%, want under 2%%", 100*l)
			}
			if l := lossOf(tr); l > 0.05 {
				t.Errorf("loss over the whole minute %.1f%%", 100*l)
			}
		},
	}, {
		name:   "random loss without a queue: no cut",
		phases: []phase{with(open, func(p *phase) { p.dur = 30 * time.Second; p.loss = 0.05 })},
		check: func(t *testing.T, tr []tick) {
			for _, x := range tr {
				if x.est.Bps != 0 {
					t.Fatalf("at %v estimate %d (%v) on a link whose only trouble is 5%% random loss", x.at, x.est.Bps, x.est.State)
				}
			}
			if tr[len(tr)-1].est.State != Lossy {
				t.Errorf("state %v, want %v", tr[len(tr)-1].est.State, Lossy)
			}
		},
	}, {
		name:   "heavy random loss: one cut, no collapse",
		phases: []phase{with(open, func(p *phase) { p.dur = 40 * time.Second; p.loss = 0.15 })},
		check: func(t *testing.T, tr []tick) {
			last := tr[len(tr)-1].est
			if last.Bps < 500_000 {
				t.Errorf("estimate %d after 40 s of 15%% random loss: it kept cutting", last.Bps)
			}
		},
	}, {
		name: "round trip step (a longer path): not a queue",
		phases: []phase{
			with(open, func(p *phase) { p.dur = 10 * time.Second }),
			with(open, func(p *phase) { p.dur = 30 * time.Second; p.delay = 120 * time.Millisecond }),
		},
		check: func(t *testing.T, tr []tick) {
			for _, x := range tr {
				if x.est.Bps != 0 {
					t.Fatalf("at %v estimate %d (%v) after the path got 100 ms longer", x.at, x.est.Bps, x.est.State)
				}
			}
		},
	}, {
		name: "round trip step on a capped link: the estimate holds",
		phases: []phase{
			with(capped, func(p *phase) { p.dur = 20 * time.Second }),
			with(capped, func(p *phase) { p.dur = 20 * time.Second; p.delay = 120 * time.Millisecond }),
		},
		check: func(t *testing.T, tr []tick) {
			before := between(tr, 15*time.Second, 20*time.Second)
			after := between(tr, 25*time.Second, 40*time.Second)
			b, a := before[len(before)-1].est.Bps, after[len(after)-1].est.Bps
			if a < b*8/10 {
				t.Errorf("estimate %d before the step, %d after: a longer path cut it", b, a)
			}
			if l := lossOf(after); l > 0.02 {
				t.Errorf("loss after the step %.1f%%", 100*l)
			}
		},
	}, {
		name: "cap lifted: a probe finds it gone",
		phases: []phase{
			with(capped, func(p *phase) { p.dur = 20 * time.Second }),
			with(open, func(p *phase) { p.dur = 60 * time.Second }),
		},
		check: func(t *testing.T, tr []tick) {
			end := between(tr, 70*time.Second, 80*time.Second)
			if l := layers(end); l[2] != len(end) {
				t.Errorf("layers in the last 10 s %v: want f once the cap is gone", l)
			}
			probed := false
			for _, x := range between(tr, 20*time.Second, 80*time.Second) {
				probed = probed || x.est.State == Probing
			}
			if !probed {
				t.Error("no probe after the cap was lifted")
			}
		},
	}, {
		name:   "cap that stays: probes back off",
		phases: []phase{with(capped, func(p *phase) { p.dur = 200 * time.Second })},
		check: func(t *testing.T, tr []tick) {
			probes := 0
			for i, x := range tr {
				if x.est.State == Probing && (i == 0 || tr[i-1].est.State != Probing) {
					probes++
				}
			}
			// 20 s, then 40, then 80: three probes in 200 s, not ten.
			if probes < 1 || probes > 4 {
				t.Errorf("%d probes in 200 s on a link whose cap stays", probes)
			}
			if l := lossOf(between(tr, 10*time.Second, 200*time.Second)); l > 0.02 {
				t.Errorf("loss with the probes %.2f%%, want under 2%%", 100*l)
			}
		},
	}, {
		name: "configured rate: the estimate from the start, and the ceiling",
		phases: []phase{
			with(capped, func(p *phase) { p.dur = 20 * time.Second; p.configured = capKbit }),
			with(open, func(p *phase) { p.dur = 10 * time.Second }),
		},
		check: func(t *testing.T, tr []tick) {
			// From the second tick: the first layer is chosen before the
			// estimator has seen a sample.
			for _, x := range between(tr, step, 20*time.Second) {
				if x.est.Bps != capKbit || x.layer != 1 {
					t.Fatalf("at %v estimate %d (%v), layer %d: want the configured 700 kbit/s and h", x.at, x.est.Bps, x.est.State, x.layer)
				}
			}
			if l := lossOf(between(tr, step, 20*time.Second)); l != 0 {
				t.Errorf("loss %.2f%% under a configured rate", 100*l)
			}
			if x := tr[len(tr)-1]; x.est.Bps != 0 || x.layer != 2 {
				t.Errorf("configured rate removed: estimate %d, layer %d; want no limit and f", x.est.Bps, x.layer)
			}
		},
	}, {
		name: "configured rate above the real cap: evidence cuts under it, growth never passes it",
		phases: []phase{with(capped, func(p *phase) {
			p.dur = 40 * time.Second
			p.configured = 2_000_000
		})},
		check: func(t *testing.T, tr []tick) {
			for _, x := range tr {
				if x.est.Bps > 2_000_000 {
					t.Fatalf("at %v estimate %d above the configured rate", x.at, x.est.Bps)
				}
			}
			if x := tr[len(tr)-1]; x.est.Bps > 900_000 || x.layer != 1 {
				t.Errorf("estimate %d, layer %d: want under the real 700 kbit/s cap, on h", x.est.Bps, x.layer)
			}
		},
	}, {
		name:   "no reports from an older peer: NACKs and the round trip stand in",
		phases: []phase{with(capped, func(p *phase) { p.dur = 40 * time.Second; p.noReports = true })},
		check: func(t *testing.T, tr []tick) {
			late := between(tr, 10*time.Second, 40*time.Second)
			if l := layers(late); l[1] < len(late)*9/10 {
				t.Errorf("layers after 10 s %v: want h but for a probe", l)
			}
			if l := lossOf(late); l > 0.02 {
				t.Errorf("loss after 10 s %.1f%%", 100*l)
			}
		},
	}, {
		name:   "sending below the estimate does not grow it",
		snd:    sender{fixed: 200_000},
		phases: []phase{with(capped, func(p *phase) { p.dur = 20 * time.Second; p.configured = 0; p.capacity = 150_000 }), with(open, func(p *phase) { p.dur = 20 * time.Second })},
		check: func(t *testing.T, tr []tick) {
			x := tr[len(tr)-1]
			if x.est.Bps == 0 || x.est.Bps > 300_000 {
				t.Errorf("estimate %d: sending 200 kbit/s proves nothing above ~%.0f", x.est.Bps, 200_000/DefaultUsedFraction)
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			tr := simulate(Config{}, tc.snd, tc.phases)
			tc.check(t, tr)
			if t.Failed() {
				t.Log("\n" + trace(tr))
			}
		})
	}
}

// TestEstimatorStepTable drives the estimator by hand, one sample at a
// time, through a cut, the drain that follows and growth.
func TestEstimatorStepTable(t *testing.T) {
	at := time.Unix(0, 0)
	// 1 Mbit/s sent, 700 kbit/s arriving: a queue growing by owd.
	over := func(owd time.Duration) Sample {
		return Sample{Sent: 31_250, SentPackets: 26, Expected: 26, Received: 26, Delivered: 21_875, DeliveredFor: step,
			OneWay: owd, HasOneWay: true, RTT: 40*time.Millisecond + owd}
	}
	clean := func(sent uint64, lost uint64) Sample {
		n := sent / 1200
		return Sample{Sent: sent, SentPackets: n, Expected: n, Received: n - lost, Delivered: sent,
			DeliveredFor: step, HasOneWay: true, RTT: 40 * time.Millisecond}
	}
	rows := []struct {
		s     Sample
		bps   int64 // -1: above the previous row's
		state State
	}{
		{clean(31_250, 0), 0, Unlimited}, // the first sample covers no interval
		{clean(31_250, 0), 0, Unlimited},
		{over(100 * time.Millisecond), 0, Unlimited},      // one tick of queue is not yet a standing queue
		{over(200 * time.Millisecond), 630_000, Queue},    // two are: 0.9 x the 700 kbit/s that arrived
		{over(300 * time.Millisecond), 630_000, Draining}, // held for a window
		{over(150 * time.Millisecond), 630_000, Draining}, // less than at the cut: no second cut
		{over(250 * time.Millisecond), 630_000, Queue},    // growing again: cut, to what arrived, not lower
		{clean(14_000, 0), 630_000, Steady},               // 448 kbit/s of 630: not near enough to grow
		{clean(18_000, 0), -1, Growing},                   // 576 of 630: grows
		{clean(18_000, 2), -2, Lossy},                     // loss without a queue: holds
	}
	e := New(Config{Window: 500 * time.Millisecond})
	var prev int64
	for i, r := range rows {
		at = at.Add(step)
		r.s.At = at
		got := e.Update(r.s)
		switch {
		case r.bps == -1 && got.Bps <= prev, r.bps == -2 && got.Bps != prev, r.bps >= 0 && got.Bps != r.bps, got.State != r.state:
			t.Errorf("row %d: %d (%v), want %d (%v) after %d", i, got.Bps, got.State, r.bps, r.state, prev)
		}
		prev = got.Bps
	}
}
