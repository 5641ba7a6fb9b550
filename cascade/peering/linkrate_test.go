package peering

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/cascade/linkrate"
	"github.com/switchyard/switchyard/cascade/relay"
	"github.com/switchyard/switchyard/linkemu"
)

// TestEstimateFromEvidence runs the estimate on a real relay link on
// loopback, capped at 700 kbit/s by the emulator, without telling the
// estimator the rate: what it knows comes from the peer's pongs (loss,
// arrival rate, one-way delay). A sender that wants f (about 1.1 Mbit/s
// with audio) sends the best layer that fits the estimate. The estimate
// must settle under the cap, the layer on h, and the link must stop
// dropping.
func TestEstimateFromEvidence(t *testing.T) {
	if testing.Short() {
		t.Skip("15 s of real time")
	}
	const rate = 700_000
	listen := func(name string) *relay.Transport {
		k, err := relay.NewKeys(relay.NodeIDFromName(name), relay.Secret{Epoch: 1, Key: []byte("linkrate-test-secret")})
		if err != nil {
			t.Fatal(err)
		}
		tr, err := relay.Listen("127.0.0.1:0", relay.Config{Keys: k, Name: name, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tr.Close() })
		return tr
	}
	a, b := listen("us"), listen("eu")
	addr := func(tr *relay.Transport) net.Addr { return tr.LocalAddr() }
	if err := a.AddPeer(b.Self(), addr(b).(*net.UDPAddr).AddrPort(), linkemu.Params{Delay: 20 * time.Millisecond, RateBitsPerSec: rate}); err != nil {
		t.Fatal(err)
	}
	if err := b.AddPeer(a.Self(), addr(a).(*net.UDPAddr).AddrPort(), linkemu.Params{Delay: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}

	// What each layer costs on the link with audio, as the clips send it.
	cost := [3]int64{160_000, 470_000, 1_110_000}
	choose := func(est int64) int {
		l := 2
		for l > 0 && est > 0 && cost[l] > est {
			l--
		}
		return l
	}
	e := linkrate.New(linkrate.Config{})
	var (
		prev           linkCounters
		est            linkrate.Estimate
		credit         float64
		trace          []string
		layerTicks     [3]int
		overflowBefore uint64
		sentBefore     uint64
	)
	payload := make([]byte, 1000)
	pkt := relay.Packet{Type: relay.TypeRTP, Layer: 1, Conference: "c", Endpoint: "e", Payload: payload}
	start := time.Now()
	lastTick := start
	const run, settle = 15 * time.Second, 5 * time.Second
	measured := false
	for now := start; now.Sub(start) < run; now = time.Now() {
		layer := choose(est.Bps)
		credit += float64(cost[layer]) * 0.02 / 8
		for ; credit >= 1000; credit -= 1000 {
			_ = a.Send(b.Self(), &pkt)
		}
		if now.Sub(lastTick) >= linkPeriod {
			lastTick = now
			l, _ := a.Link(b.Self())
			if !measured && now.Sub(start) >= settle {
				measured = true
				overflowBefore, sentBefore = l.Emulated.Overflow, l.Emulated.Sent
			}
			l.Impairment = linkemu.Params{} // the estimator is not told the rate
			var s linkrate.Sample
			s, prev = linkSample(l, prev, 0, now)
			if layer < 2 {
				s.Demand = cost[2]
			}
			est = e.Update(s)
			if now.Sub(start) >= settle {
				layerTicks[layer]++
			}
			if len(trace) < int(now.Sub(start)/time.Second) {
				trace = append(trace, fmt.Sprintf("%ds %dk %s %s", len(trace)+1, est.Bps/1000, []string{"q", "h", "f"}[layer], est.State))
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	l, _ := a.Link(b.Self())
	overflow := float64(l.Emulated.Overflow-overflowBefore) / float64(max(l.Emulated.Sent-sentBefore, 1))
	t.Logf("link capped at %d kbit/s, estimate over time: %s", rate/1000, strings.Join(trace, ", "))
	t.Logf("after %v: layers q/h/f in %v ticks, link drops %.2f%% (%d of %d datagrams); over the whole run %d dropped of %d",
		settle, layerTicks, 100*overflow, l.Emulated.Overflow-overflowBefore, l.Emulated.Sent-sentBefore, l.Emulated.Overflow, l.Emulated.Sent)
	if est.Bps < 450_000 || est.Bps > 800_000 {
		t.Errorf("estimate %d bit/s at the end, want it under and near the 700 kbit/s cap", est.Bps)
	}
	total := layerTicks[0] + layerTicks[1] + layerTicks[2]
	if layerTicks[1] < total*9/10 {
		t.Errorf("layers q/h/f in %v ticks after %v: want h", layerTicks, settle)
	}
	if overflow > 0.01 {
		t.Errorf("the link dropped %.2f%% after %v", 100*overflow, settle)
	}
}
