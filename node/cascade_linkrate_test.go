package node_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/linkemu"
	"github.com/switchyard/switchyard/node"
	"github.com/switchyard/switchyard/node/snapshot"
)

// TestCascadeCappedLink: the relay link us→eu carries 700 kbit/s; bob on eu
// wants alice's top layer (f, about 1 Mbit/s). us fits what goes into what
// the link carries: h crosses instead of f, the relay loses next to nothing,
// and eu's snapshot says why bob is not on f.
func TestCascadeCappedLink(t *testing.T) {
	const rate = 700_000
	nodes := startCascade(t, []string{"us", "eu"}, func(region string, c *node.Config) {
		if region == "us" {
			c.Cascade.Links["eu"] = linkemu.Params{Delay: 20 * time.Millisecond, Jitter: time.Millisecond, RateBitsPerSec: rate}
		}
	})
	a := joinAt(t, nodes["us"], "capped", "alice", "us", publishing)
	b := joinAt(t, nodes["eu"], "capped", "bob", "eu", func(o *client.Options) { o.Talk = client.Silent() })
	receivesAt(t, 20*time.Second, b, a, 0)
	// A moment for the first layer switch to settle, then a window to
	// measure: what crossed the link by layer, the relay's loss on it (as
	// eu counts gaps in us's datagrams every ping interval), the repairs,
	// and what bob lost in the end.
	time.Sleep(4 * time.Second)
	usBefore, euBefore, bobBefore := peerOf(nodes["us"], "eu"), peerOf(nodes["eu"], "us"), b.Received()[a.ID()]
	var (
		lossSum, lossMax float64
		samples          int
		estimates        []string
	)
	const window = 10 * time.Second
	for start := time.Now(); time.Since(start) < window; time.Sleep(250 * time.Millisecond) {
		eu, us := peerOf(nodes["eu"], "us"), peerOf(nodes["us"], "eu")
		lossSum += eu.LossPct
		lossMax = max(lossMax, eu.LossPct)
		samples++
		if samples%4 == 0 {
			estimates = append(estimates, fmt.Sprintf("%.0fs %d kbit/s (%s)", time.Since(start).Seconds(), us.CapacityBps/1000, us.CapacityState))
		}
	}
	usAfter, euAfter, bobAfter := peerOf(nodes["us"], "eu"), peerOf(nodes["eu"], "us"), b.Received()[a.ID()]
	kbps := func(layer string) float64 {
		return float64(usAfter.BytesOut[layer]-usBefore.BytesOut[layer]) * 8 / window.Seconds() / 1000
	}
	relayLoss := lossSum / float64(samples)
	videoPkts := bobAfter.VideoPackets - bobBefore.VideoPackets
	videoLost := bobAfter.VideoLost - bobBefore.VideoLost
	residual := 100 * float64(videoLost) / float64(max(videoPkts+videoLost, 1))
	t.Logf("link us→eu capped at %d kbit/s; us's estimate: %s", rate/1000, strings.Join(estimates, ", "))
	t.Logf("over %v: crossed q %.0f, h %.0f, f %.0f, audio %.0f kbit/s; held back %d kB; relay loss mean %.2f%% max %.1f%%; "+
		"eu NACKed %d, us resent %d; bob: %d video packets, %d lost (%.2f%%), last keyframe %dx%d",
		window, kbps("q"), kbps("h"), kbps("f"), kbps("audio"), (usAfter.HeldBytes-usBefore.HeldBytes)/1000, relayLoss, lossMax,
		euAfter.NACKsSent-euBefore.NACKsSent, usAfter.NACKsAnswer-usBefore.NACKsAnswer,
		videoPkts, videoLost, residual, bobAfter.Width, bobAfter.Height)

	// The layer that crossed is one that fits, and it is what bob gets.
	if f, h := kbps("f"), kbps("h"); f > 20 || h < 100 {
		t.Errorf("crossed f at %.0f and h at %.0f kbit/s over a %d kbit/s link: want h, not f", f, h, rate/1000)
	}
	if bobAfter.Height != 360 {
		t.Errorf("bob's latest keyframe from alice is %dx%d, want h (640x360)", bobAfter.Width, bobAfter.Height)
	}
	if relayLoss > 1 || lossMax > 5 {
		t.Errorf("relay loss mean %.2f%%, max %.1f%%: the link drops packets", relayLoss, lossMax)
	}
	if residual > 0.5 {
		t.Errorf("bob lost %.2f%% of alice's video", residual)
	}

	// What us reports of the link, and eu of the layer it does not get.
	if usAfter.CapacityBps != rate || !slices.Contains(usAfter.Held, a.ID()+" camera f") {
		t.Errorf("us's view of the link to eu: capacity %d (%s), held %v", usAfter.CapacityBps, usAfter.CapacityState, usAfter.Held)
	}
	alice, ok := findParticipant(nodes["eu"], "capped", a.ID())
	if !ok {
		t.Fatal("eu has no alice")
	}
	var reasons []string
	for _, l := range alice.Layers {
		reasons = append(reasons, l.RID+":"+l.Reason)
		if l.RID == "f" && (l.Active || l.Reason != snapshot.ReasonRelayLink) {
			t.Errorf("eu shows alice's f as active %v, reason %q; want inactive for the relay link", l.Active, l.Reason)
		}
	}
	bob, _ := findParticipant(nodes["eu"], "capped", b.ID())
	for _, s := range bob.Subs {
		if s.Publisher == a.ID() && s.Kind == "video" {
			t.Logf("eu: bob's subscription to alice forwards %q (target %q, %s); alice's layers %v", s.Forwarded, s.Target, s.Reason, reasons)
			if s.Forwarded != "h" {
				t.Errorf("eu forwards %q of alice to bob, want h", s.Forwarded)
			}
			if s.Reason != snapshot.ReasonRelayLink {
				t.Errorf("bob's subscription to alice says %q, want %q", s.Reason, snapshot.ReasonRelayLink)
			}
		}
	}
}
