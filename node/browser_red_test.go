package node_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/linkemu"
	"github.com/switchyard/switchyard/node/internal/browsertest"
	"github.com/switchyard/switchyard/node/nodetest"
)

// TestBrowserREDConcealment: Firefox, which does not negotiate RED, hears a
// publisher that sends RED over an uplink losing 5% of its packets. The node
// strips RED for Firefox; with recovery on it rebuilds a lost packet from
// the next one's redundancy before the strip, so Firefox conceals less of
// the audio than with recovery off. (A Go publisher stands in for
// Chromium's RED sender, so the loss is on a link the test controls.)
func TestBrowserREDConcealment(t *testing.T) {
	skipShort(t)
	n := nodetest.Start(t, nil)
	link, err := linkemu.NewNet(linkemu.NetConfig{Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	alice := join(t, n, "redfx", "alice", func(o *client.Options) { redAudio(o); o.Net = link })
	rep := browsertest.NewReporter(t)
	q := url.Values{"name": {"fx"}, "report": {rep.URL("fx")}}
	fx := browsertest.Firefox(t, n.URL()+"/r/redfx?"+q.Encode())
	audio := func(m map[string]browsertest.Report) *browsertest.AudioStats {
		return m["fx"].Remotes[alice.ID()].Audio
	}
	rep.WaitFor(t, browserWait, "firefox to hear alice", func(m map[string]browsertest.Report) error {
		if a := audio(m); a == nil || a.TotalSamplesReceived < 48000 {
			return fmt.Errorf("firefox has under a second of alice's audio: %+v", a)
		}
		return nil
	}, fx)
	if err := link.SetUp(linkemu.Params{Loss: 0.05}); err != nil {
		t.Fatal(err)
	}
	// phase returns the share of the audio Firefox concealed over 8 s.
	phase := func(recovery bool) float64 {
		n.SetREDRecovery(recovery)
		time.Sleep(500 * time.Millisecond) // what was in flight belongs to the phase before
		before := *audio(rep.Latest())
		var after browsertest.AudioStats
		rep.WaitFor(t, browserWait, "8 s of audio at firefox", func(m map[string]browsertest.Report) error {
			a := audio(m)
			if a == nil || a.TotalSamplesReceived-before.TotalSamplesReceived < 8*48000 {
				return fmt.Errorf("firefox received %+v", a)
			}
			after = *a
			return nil
		}, fx)
		samples := after.TotalSamplesReceived - before.TotalSamplesReceived
		concealed := after.ConcealedSamples - before.ConcealedSamples
		return float64(concealed) / float64(samples)
	}
	off := phase(false)
	on := phase(true)
	rebuilt := n.SetREDRecovery(true)
	t.Logf("Firefox concealed %.2f%% of the audio without RED recovery, %.2f%% with (%d packets rebuilt by the node), 5%% uplink loss",
		100*off, 100*on, rebuilt)
	if off < 0.01 {
		t.Fatalf("Firefox concealed only %.2f%% without recovery: too little loss to compare", 100*off)
	}
	if on >= off/2 {
		t.Errorf("with recovery Firefox concealed %.2f%%, without %.2f%%: want under half", 100*on, 100*off)
	}
}
