package node_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/linkemu"
	"github.com/switchyard/switchyard/node"
	"github.com/switchyard/switchyard/node/nodetest"
	"github.com/switchyard/switchyard/node/signal"
	"github.com/switchyard/switchyard/node/snapshot"
)

func sharing(o *client.Options) { publishing(o); o.PublishScreen = true }

// flowing reports whether count grows by more than min within d.
func flowing(count func() uint64, d time.Duration, min uint64) bool {
	before := count()
	time.Sleep(d)
	return count() > before+min
}

// A participant turns its microphone and camera off and on: the others stop
// and resume receiving them, and everyone is told. Alice's client keeps
// sending (SendRaw only tells the node), so what stops is the node's
// forwarding.
func TestMicAndCameraOff(t *testing.T) {
	n := nodetest.Start(t, nil)
	a := join(t, n, "state", "alice", publishing)
	b := join(t, n, "state", "bob", nil)
	receivesAt(t, 20*time.Second, b, a, 0)
	audio := func() uint64 { return b.Received()[a.ID()].AudioPackets }
	video := func() uint64 { return b.Received()[a.ID()].VideoPackets }

	state := func(mic, cam bool) {
		t.Helper()
		if err := a.SendRaw(signal.Message{Type: signal.TypePublishState, MicOff: mic, CameraOff: cam}); err != nil {
			t.Fatal(err)
		}
	}
	state(true, false)
	waitFor(t, 5*time.Second, "bob to hear alice's mic is off", func() (bool, string) {
		p := b.Participants()
		for _, q := range p {
			if q.ID == a.ID() {
				return q.MicOff, fmt.Sprintf("%+v", q)
			}
		}
		return false, "alice not listed"
	})
	if p, _ := findParticipant(n, "state", a.ID()); p == nil || !p.MicOff {
		t.Fatalf("the API does not show alice's mic off: %+v", p)
	}
	time.Sleep(300 * time.Millisecond)
	if flowing(audio, time.Second, 2) {
		t.Fatal("bob still receives alice's audio with her mic off")
	}
	if !flowing(video, time.Second, 10) {
		t.Fatal("bob's video from alice stopped with her mic")
	}

	state(false, true)
	time.Sleep(500 * time.Millisecond)
	if flowing(video, time.Second, 2) {
		t.Fatal("bob still receives alice's video with her camera off")
	}
	if !flowing(audio, time.Second, 10) {
		t.Fatal("bob's audio from alice did not come back")
	}
	p, _ := findParticipant(n, "state", b.ID())
	for _, s := range p.Subs {
		if s.Publisher == a.ID() && s.Source == "camera" && (s.Reason != "turned off by its publisher" || s.Forwarded != "") {
			t.Fatalf("bob's subscription to alice's camera: %+v", s)
		}
	}

	state(false, false)
	receivesAt(t, 10*time.Second, b, a, 0)
	// The client's own switch stops sending at the source too.
	if err := a.SetPublishState(true, true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if flowing(audio, time.Second, 2) || flowing(video, time.Second, 2) {
		t.Fatal("media still flows with alice's mic and camera off")
	}
}

// A screen share reaches the others as a track of its own, one share at a
// time; it ends cleanly.
func TestScreenShare(t *testing.T) {
	n := nodetest.Start(t, nil)
	a := join(t, n, "share", "alice", sharing)
	c := join(t, n, "share", "carol", sharing)
	b := join(t, n, "share", "bob", func(o *client.Options) { o.MaxHeight = 180 })
	receivesAt(t, 20*time.Second, b, a, 0)
	if err := a.Share(true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "bob to receive alice's screen", func() (bool, string) {
		s := b.Received()[a.ID()]
		return s.ScreenKeyframes > 0 && s.ScreenPackets > 30, fmt.Sprintf("screen %d pkts %dx%d, camera %dx%d",
			s.ScreenPackets, s.ScreenWidth, s.ScreenHeight, s.Width, s.Height)
	})
	s := b.Received()[a.ID()]
	if s.ScreenHeight <= s.Height {
		t.Errorf("screen arrives at %dx%d, not above the camera tile's %dx%d", s.ScreenWidth, s.ScreenHeight, s.Width, s.Height)
	}
	if p, _ := findParticipant(n, "share", a.ID()); p == nil || !p.Sharing {
		t.Fatalf("the API does not show alice sharing: %+v", p)
	}
	// A second share is refused while the first runs.
	if err := c.Share(true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "carol's share to be refused", func() (bool, string) {
		m, ok := c.LastError()
		return ok && m.Code == signal.CodeShareBusy, fmt.Sprintf("%+v", m)
	})
	_ = c.Share(false)
	// Alice stops; her screen stops reaching bob.
	if err := a.Share(false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	screen := func() uint64 { return b.Received()[a.ID()].ScreenPackets }
	if flowing(screen, time.Second, 2) {
		t.Fatal("bob still receives alice's screen after she stopped sharing")
	}
	// Its m-line goes away too, so a browser drops the frozen last frame.
	waitFor(t, 5*time.Second, "bob's subscription to alice's screen to end", func() (bool, string) {
		p, _ := findParticipant(n, "share", b.ID())
		for _, s := range p.Subs {
			if s.Publisher == a.ID() && s.Source == "screen" {
				return false, fmt.Sprintf("%+v", s)
			}
		}
		return true, ""
	})
	// Now carol may share.
	if err := c.Share(true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "bob to receive carol's screen", func() (bool, string) {
		s := b.Received()[c.ID()]
		return s.ScreenPackets > 30, fmt.Sprintf("screen %d pkts", s.ScreenPackets)
	})
	// Alice shares again once carol stops: her screen comes back to bob.
	_ = c.Share(false)
	time.Sleep(300 * time.Millisecond)
	before := screen()
	if err := a.Share(true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "alice's second share to reach bob", func() (bool, string) {
		return screen() > before+30, fmt.Sprintf("%d new screen packets", screen()-before)
	})
}

// State messages that make no sense are refused, and nothing is disturbed.
func TestPublishStateBadInput(t *testing.T) {
	n := nodetest.Start(t, func(c *node.Config) { c.MaxShares = 1 })
	a := join(t, n, "bad", "alice", publishing) // no screen m-line
	b := join(t, n, "bad", "bob", nil)          // publishes nothing
	receivesAt(t, 20*time.Second, b, a, 0)
	cases := []struct {
		who  *client.Client
		m    signal.Message
		code string
	}{
		{b, signal.Message{Type: signal.TypePublishState, MicOff: true}, signal.CodeBadMessage},
		{b, signal.Message{Type: signal.TypePublishState, CameraOff: true}, signal.CodeBadMessage},
		{a, signal.Message{Type: signal.TypeShare, On: true}, signal.CodeProtocol},
		{b, signal.Message{Type: signal.TypeShare, On: true}, signal.CodeProtocol},
	}
	for i, tc := range cases {
		if err := tc.who.SendRaw(tc.m); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, fmt.Sprintf("case %d refused with %s", i, tc.code), func() (bool, string) {
			m, ok := tc.who.LastError()
			return ok && m.Code == tc.code, fmt.Sprintf("%+v", m)
		})
	}
	receivesAt(t, 10*time.Second, b, a, 0)
}

// The jitter the node reports for a publisher is in milliseconds and close
// to what its link adds (it was divided by the clock rate twice: ~0.0004).
func TestJitterFigure(t *testing.T) {
	n := nodetest.Start(t, nil)
	link, err := linkemu.NewNet(linkemu.NetConfig{Seed: 7, Up: linkemu.Params{Delay: 20 * time.Millisecond, Jitter: 15 * time.Millisecond, Reorder: true}})
	if err != nil {
		t.Fatal(err)
	}
	a := join(t, n, "jitter", "alice", func(o *client.Options) { publishing(o); o.Net = link })
	b := join(t, n, "jitter", "bob", nil)
	receivesAt(t, 20*time.Second, b, a, 0)
	waitFor(t, 10*time.Second, "a jitter figure in milliseconds", func() (bool, string) {
		p, _ := findParticipant(n, "jitter", a.ID())
		if p == nil {
			return false, "alice not listed"
		}
		return p.JitterMs > 1 && p.JitterMs < 60, fmt.Sprintf("jitter %.4f ms", p.JitterMs)
	})
}

// A lone node asked to stop tells its participants and stops within a few
// seconds instead of waiting out the drain timeout with nowhere to send
// anyone.
func TestLoneNodeStopsPromptly(t *testing.T) {
	n := nodetest.Start(t, nil)
	a := join(t, n, "bye", "alice", publishing)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	if err := n.Drain(ctx); err != nil {
		t.Fatalf("drain: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("a lone node took %v to drain, with a 60 s timeout", d)
	}
	waitFor(t, 2*time.Second, "alice to be told the node stops", func() (bool, string) {
		return a.Stopping() != "", a.Stopping()
	})
}

// TestFreezeFigures: a publisher whose uplink goes dark for a second
// freezes its receivers' video: the node counts a freeze of about that
// length on the subscription, and so does the receiving client, as
// browsers count freezeCount; frame rates are given while video flows.
func TestFreezeFigures(t *testing.T) {
	n := nodetest.Start(t, nil)
	link, err := linkemu.NewNet(linkemu.NetConfig{Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	a := join(t, n, "freeze", "alice", func(o *client.Options) { publishing(o); o.Net = link })
	b := join(t, n, "freeze", "bob", nil)
	receivesAt(t, 20*time.Second, b, a, 0)
	camera := func() snapshot.Subscription {
		p, _ := findParticipant(n, "freeze", b.ID())
		if p != nil {
			for _, s := range p.Subs {
				if s.Publisher == a.ID() && s.Source == "camera" {
					return s
				}
			}
		}
		return snapshot.Subscription{}
	}
	waitFor(t, 10*time.Second, "frame rates on bob's subscription", func() (bool, string) {
		s := camera()
		return s.FPS > 5 && s.LayerFPS > 5 && s.Freezes == 0, fmt.Sprintf("%+v", s)
	})
	before := b.Received()[a.ID()]
	if err := link.SetUp(linkemu.Params{Loss: 1}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := link.SetUp(linkemu.Params{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the node to count the freeze", func() (bool, string) {
		s := camera()
		return s.Freezes >= 1 && s.FreezeMs >= 700, fmt.Sprintf("%+v", s)
	})
	waitFor(t, 5*time.Second, "bob's client to count it too", func() (bool, string) {
		s := b.Received()[a.ID()]
		return s.Freezes > before.Freezes && s.FreezeTime-before.FreezeTime >= 700*time.Millisecond,
			fmt.Sprintf("%d freezes, %v in all, %d frames", s.Freezes, s.FreezeTime, s.Frames)
	})
	s := camera()
	t.Logf("after a 1 s blackout: node counts %d freeze(s), %.0f ms; client %d, %v; %.1f fps forwarded of %.1f",
		s.Freezes, s.FreezeMs, b.Received()[a.ID()].Freezes, b.Received()[a.ID()].FreezeTime, s.FPS, s.LayerFPS)
}
