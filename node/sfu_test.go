package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/linkemu"
	"github.com/switchyard/switchyard/node"
	"github.com/switchyard/switchyard/node/nodetest"
	"github.com/switchyard/switchyard/node/signal"
	"github.com/switchyard/switchyard/node/snapshot"
)

// These tests run real pion participants (package client) against a real
// node on loopback. Every wait is bounded and says what it waited for.

func wsURL(n *node.Node) string { return "ws" + strings.TrimPrefix(n.URL(), "http") + "/ws" }

// join adds a participant to room on n and closes it when the test ends.
func join(t *testing.T, n *node.Node, room, name string, mut func(*client.Options)) *client.Client {
	t.Helper()
	o := client.Options{URL: wsURL(n), Room: room, Name: name, Region: "test"}
	if os.Getenv("SWITCHYARD_TEST_LOG") != "" {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if mut != nil {
		mut(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Join(ctx, o)
	if err != nil {
		t.Fatalf("%s joins %s: %v", name, room, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func publishing(o *client.Options) { o.PublishAudio, o.PublishVideo = true, true }

// waitFor polls cond until it reports true or d passes; cond's string says
// what it saw, for the failure message.
func waitFor(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s; last seen: %s", d, what, seen)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// receivesAt waits until sub gets audio and video from pub with a keyframe
// of the given height (0 = any).
func receivesAt(t *testing.T, d time.Duration, sub, pub *client.Client, height int) {
	t.Helper()
	var baseline client.Stream
	waitFor(t, d, fmt.Sprintf("participant %s to receive %s's media at height %d", sub.ID(), pub.ID(), height),
		func() (bool, string) {
			s := sub.Received()[pub.ID()]
			if baseline.Publisher == "" {
				baseline = s
				baseline.Publisher = pub.ID()
			}
			ok := s.AudioPackets > baseline.AudioPackets+20 && s.VideoPackets > baseline.VideoPackets+30 &&
				s.Keyframes > 0 && (height == 0 || s.Height == height)
			return ok, streamString(s)
		})
}

func streamString(s client.Stream) string {
	return fmt.Sprintf("audio %d pkts (lost %d), video %d pkts (lost %d), %d keyframes, last %dx%d, keyframes by height %v",
		s.AudioPackets, s.AudioLost, s.VideoPackets, s.VideoLost, s.Keyframes, s.Width, s.Height, s.KeyframeHeights)
}

func findParticipant(n *node.Node, room, id string) (*snapshot.Participant, bool) {
	snap := n.Snapshot()
	conf, ok := snap.Find(room)
	if !ok {
		return nil, false
	}
	return conf.Find(id)
}

func TestSFUPublishSubscribe(t *testing.T) {
	n := nodetest.Start(t, nil)
	a := join(t, n, "pubsub", "alice", publishing)
	b := join(t, n, "pubsub", "bob", nil)

	// The highest layer is the default when nothing limits the receiver.
	receivesAt(t, 20*time.Second, b, a, 720)
	s := b.Received()[a.ID()]
	if s.Width != 1280 {
		t.Errorf("bob's keyframes from alice are %dx%d, want 1280x720", s.Width, s.Height)
	}
	if s.SSRCChanges != 0 || s.BadPayloads != 0 {
		t.Errorf("bob saw %d SSRC changes and %d undecodable VP8 payloads", s.SSRCChanges, s.BadPayloads)
	}
	if _, ok := a.Received()[b.ID()]; ok {
		t.Errorf("alice receives media from bob, who publishes nothing")
	}

	// The JSON API shows the same room, with bob subscribed to alice's video.
	resp, err := http.Get(n.URL() + "/api/v1/conferences")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var confs []snapshot.Conference
	if err := json.NewDecoder(resp.Body).Decode(&confs); err != nil {
		t.Fatalf("decode /api/v1/conferences: %v", err)
	}
	var conf *snapshot.Conference
	for i := range confs {
		if confs[i].Name == "pubsub" {
			conf = &confs[i]
		}
	}
	if conf == nil || len(conf.Participants) != 2 {
		t.Fatalf("API conferences %+v, want room pubsub with two participants", confs)
	}
	bob, ok := conf.Find(b.ID())
	if !ok {
		t.Fatalf("API lacks bob %s", b.ID())
	}
	var video *snapshot.Subscription
	for i := range bob.Subs {
		if bob.Subs[i].Publisher == a.ID() && bob.Subs[i].Kind == "video" {
			video = &bob.Subs[i]
		}
	}
	if video == nil || video.Forwarded != "f" {
		t.Errorf("bob's subscriptions %+v, want alice's video forwarded on f", bob.Subs)
	}
}

func TestSFULayerSwitch(t *testing.T) {
	n := nodetest.Start(t, nil)
	link, err := linkemu.NewNet(linkemu.NetConfig{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	a := join(t, n, "layers", "alice", publishing)
	b := join(t, n, "layers", "bob", func(o *client.Options) { o.Net = link })
	receivesAt(t, 20*time.Second, b, a, 720)
	estimate := func() int64 {
		if p, ok := findParticipant(n, "layers", b.ID()); ok {
			return p.EstimateBps
		}
		return -1
	}

	t.Run("down when bandwidth is capped", func(t *testing.T) {
		start := time.Now()
		defer func() {
			t.Logf("took %v; node estimate now %d bit/s", time.Since(start).Round(time.Millisecond), estimate())
		}()
		// 500 kbit/s holds h (400k) or q (100k) and audio, not f (1M).
		if err := link.SetDown(linkemu.Params{RateBitsPerSec: 500_000, QueueBytes: 18_750 /* 300 ms */}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 40*time.Second, "bob to drop to h or q", func() (bool, string) {
			s := b.Received()[a.ID()]
			return s.Height > 0 && s.Height <= 360, fmt.Sprintf("%s; node estimate %d bit/s", streamString(s), estimate())
		})
	})
	t.Run("up when freed", func(t *testing.T) {
		start := time.Now()
		defer func() {
			t.Logf("took %v; node estimate now %d bit/s", time.Since(start).Round(time.Millisecond), estimate())
		}()
		if err := link.SetDown(linkemu.Params{}); err != nil {
			t.Fatal(err)
		}
		// The estimator climbs back gradually (GCC's additive increase), so
		// this takes far longer than going down.
		waitFor(t, 90*time.Second, "bob to climb back to f", func() (bool, string) {
			s := b.Received()[a.ID()]
			return s.Height == 720, fmt.Sprintf("%s; node estimate %d bit/s", streamString(s), estimate())
		})
	})
	t.Run("constraint", func(t *testing.T) {
		c := join(t, n, "layers", "carol", func(o *client.Options) { o.MaxHeight = 180 })
		receivesAt(t, 20*time.Second, c, a, 180)
		if s := c.Received()[a.ID()]; s.Width != 320 || s.KeyframeHeights[720] != 0 {
			t.Errorf("carol (max height 180) got %s", streamString(s))
		}
		// A constraint can change at run time too.
		if err := b.SetConstraint(a.ID(), 360); err != nil {
			t.Fatal(err)
		}
		receivesAt(t, 20*time.Second, b, a, 360)
	})
}

func TestSFUNACKRecovery(t *testing.T) {
	n := nodetest.Start(t, nil)
	const injected = 0.05
	link, err := linkemu.NewNet(linkemu.NetConfig{Seed: 2, Down: linkemu.Params{Loss: injected}})
	if err != nil {
		t.Fatal(err)
	}
	a := join(t, n, "nack", "alice", publishing)
	b := join(t, n, "nack", "bob", func(o *client.Options) { o.Net = link })
	waitFor(t, 40*time.Second, "bob to receive 1500 video packets through 5% loss", func() (bool, string) {
		s := b.Received()[a.ID()]
		return s.VideoPackets >= 1500, streamString(s)
	})
	s := b.Received()[a.ID()]
	ls := link.Stats()
	if ls.Down.Lost == 0 {
		t.Fatalf("the link dropped nothing (%+v): the test injected no loss", ls.Down)
	}
	residual := float64(s.VideoLost) / float64(s.VideoPackets+s.VideoLost)
	t.Logf("link dropped %d of %d packets towards bob; bob's video: %s, %d repaired, residual loss %.2f%%",
		ls.Down.Lost, ls.Down.Sent, streamString(s), s.Repaired, 100*residual)
	if residual > injected/4 {
		t.Errorf("residual video loss %.2f%% after NACK repair, want well under the injected %.0f%%",
			100*residual, 100*injected)
	}
	snap := n.Snapshot()
	if snap.Node.NACKsIn == 0 || snap.Node.Retransmits == 0 {
		t.Errorf("node totals: %d NACKed packets, %d retransmissions; want both above zero",
			snap.Node.NACKsIn, snap.Node.Retransmits)
	}
}

func TestSFURenegotiation(t *testing.T) {
	n := nodetest.Start(t, nil)
	a := join(t, n, "reneg", "alice", publishing)
	b := join(t, n, "reneg", "bob", publishing)
	receivesAt(t, 20*time.Second, a, b, 0)
	receivesAt(t, 20*time.Second, b, a, 0)

	c := join(t, n, "reneg", "carol", publishing)
	for _, pair := range [][2]*client.Client{{a, c}, {b, c}, {c, a}, {c, b}} {
		receivesAt(t, 20*time.Second, pair[0], pair[1], 0)
	}
	cid := c.ID()
	if err := c.Close(); err != nil {
		t.Errorf("carol's close: %v", err)
	}
	for _, sub := range []*client.Client{a, b} {
		waitFor(t, 10*time.Second, fmt.Sprintf("%s to renegotiate carol's m-lines inactive", sub.ID()),
			func() (bool, string) {
				neg, err := sub.Negotiation()
				if err != nil {
					return false, err.Error()
				}
				gone := !slices.Contains(neg.Receiving, cid) && neg.Inactive >= 2
				left := !slices.ContainsFunc(sub.Participants(), func(p signal.Participant) bool { return p.ID == cid })
				return gone && left, fmt.Sprintf("%+v, participants %v", neg, sub.Participants())
			})
	}
	waitFor(t, 5*time.Second, "the node's snapshot to drop carol", func() (bool, string) {
		_, ok := findParticipant(n, "reneg", cid)
		return !ok, "carol still listed"
	})
	// The survivors keep receiving each other over the renegotiated session.
	receivesAt(t, 10*time.Second, a, b, 0)
	receivesAt(t, 10*time.Second, b, a, 0)
}

func TestSFUEndpointMessages(t *testing.T) {
	n := nodetest.Start(t, nil)
	a := join(t, n, "msgs", "alice", nil)
	b := join(t, n, "msgs", "bob", nil)
	c := join(t, n, "msgs", "carol", nil)

	expect := func(to *client.Client, from, text string) {
		t.Helper()
		select {
		case m := <-to.Messages():
			var p struct{ Kind, Text string }
			if err := json.Unmarshal(m.Payload, &p); err != nil || m.From != from || p.Kind != "chat" || p.Text != text {
				t.Errorf("%s got %+v (%v), want chat %q from %s", to.ID(), m, err, text, from)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s got no message in 5 s, want chat %q from %s", to.ID(), text, from)
		}
	}
	if err := a.Chat(b.ID(), "just bob"); err != nil {
		t.Fatal(err)
	}
	expect(b, a.ID(), "just bob")
	if err := a.Chat("", "everyone"); err != nil {
		t.Fatal(err)
	}
	expect(b, a.ID(), "everyone")
	expect(c, a.ID(), "everyone")
	select {
	case m := <-c.Messages():
		t.Errorf("carol got %+v; the direct message was for bob only", m)
	case <-a.Messages():
		t.Error("alice received her own broadcast")
	default:
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rtt, err := a.Ping(ctx, b.ID())
	if err != nil {
		t.Fatalf("alice pings bob: %v", err)
	}
	if rtt <= 0 {
		t.Errorf("round trip %v, want positive", rtt)
	}
	t.Logf("alice-bob round trip through the node: %v", rtt)
}

func TestSFUVanishedParticipant(t *testing.T) {
	n := nodetest.Start(t, nil)
	// The node must notice within 10 s both a closed tab (sockets gone
	// without a leave) and a dead network (nothing gets through any more).
	tests := []struct {
		name   string
		vanish func(t *testing.T, c *client.Client, link *linkemu.Net)
	}{
		{"closed tab", func(t *testing.T, c *client.Client, _ *linkemu.Net) { c.Vanish() }},
		{"network gone", func(t *testing.T, _ *client.Client, link *linkemu.Net) {
			if err := link.Set(linkemu.Params{Loss: 1}, linkemu.Params{Loss: 1}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			room := strings.ReplaceAll(tc.name, " ", "-")
			link, err := linkemu.NewNet(linkemu.NetConfig{Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			a := join(t, n, room, "alice", publishing)
			b := join(t, n, room, "bob", func(o *client.Options) { publishing(o); o.Net = link })
			receivesAt(t, 20*time.Second, a, b, 0)
			bid := b.ID()
			start := time.Now()
			tc.vanish(t, b, link)
			waitFor(t, 10*time.Second, "the node to remove bob", func() (bool, string) {
				_, listed := findParticipant(n, room, bid)
				known := slices.ContainsFunc(a.Participants(), func(p signal.Participant) bool { return p.ID == bid })
				return !listed && !known, fmt.Sprintf("in snapshot %v, known to alice %v", listed, known)
			})
			t.Logf("bob removed %v after %s", time.Since(start).Round(100*time.Millisecond), tc.name)
		})
	}
}
