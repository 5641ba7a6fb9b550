package node

// The send-side bandwidth estimate towards one participant, and its probes.

import (
	"sync"
	"time"

	"github.com/switchyard/switchyard/media/bwe"
	"github.com/switchyard/switchyard/media/twcc"
)

// bandwidth is one PeerConnection's estimator, fed by the transport-wide
// feedback of everything the node sends it, and its prober.
type bandwidth struct {
	sender *twcc.Sender

	mu      sync.Mutex
	est     *bwe.Estimator
	prober  bwe.Prober
	fed     bool // feedback has arrived
	probing bool // a cluster is being sent
}

func newBandwidth(initial, maxBitrate int) *bandwidth {
	return &bandwidth{
		sender: twcc.NewSender(),
		est:    bwe.New(bwe.Config{Initial: int64(initial), Min: 100_000, Max: int64(maxBitrate)}),
	}
}

// OnFeedback implements twcc.Handler.
func (b *bandwidth) OnFeedback(now int64, pkts []bwe.Packet) {
	b.mu.Lock()
	b.est.OnFeedback(now, pkts)
	b.fed = true
	b.mu.Unlock()
}

// Target is the estimate, bits/s.
func (b *bandwidth) Target() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.est.Target()
}

// setRTT gives the estimator the participant's round trip.
func (b *bandwidth) setRTT(rtt time.Duration) {
	b.mu.Lock()
	b.est.SetRTT(int64(rtt))
	b.mu.Unlock()
}

// padder sends padding towards the participant; a video down track with
// RTX. It returns the bytes it sent, 0 when it cannot pad.
type padder interface {
	SendPadding(bytes int) int
}

// probeSlice is how often a probe cluster's padding is topped up.
const probeSlice = 5 * time.Millisecond

// maybeProbe starts a probe cluster when the prober says one is due: want
// is what the participant's subscriptions would take unhindered, sending
// what the node sends it now (bits/s), pad where the padding goes.
func (b *bandwidth) maybeProbe(want, sending int64, pad padder) {
	if pad == nil {
		return
	}
	b.mu.Lock()
	if !b.fed || b.probing {
		b.mu.Unlock()
		return
	}
	c, ok := b.prober.Plan(twcc.Now(), b.est.Target(), want, b.est.Usage(), b.est.Loss())
	if ok {
		b.probing = true
		b.est.ProbeStarted(c.ID, c.Rate)
	}
	b.mu.Unlock()
	if !ok {
		return
	}
	go b.probe(c, sending, pad)
}

// probe sends one cluster: padding on top of the media, so that together
// they make the cluster's rate for its duration, in slices.
func (b *bandwidth) probe(c bwe.Cluster, sending int64, pad padder) {
	defer func() {
		b.sender.SetProbe(0)
		b.mu.Lock()
		b.probing = false
		b.mu.Unlock()
	}()
	b.sender.SetProbe(c.ID)
	padRate := c.Rate - sending
	if padRate <= 0 {
		return
	}
	end := time.Now().Add(time.Duration(c.Duration))
	start := time.Now()
	sent := 0
	for now := start; now.Before(end); now = time.Now() {
		// Catch up to where the rate says the padding should be.
		due := int(float64(padRate) / 8 * now.Add(probeSlice).Sub(start).Seconds())
		if due > sent {
			n := pad.SendPadding(due - sent)
			if n == 0 {
				return
			}
			sent += n
		}
		time.Sleep(probeSlice)
	}
}
