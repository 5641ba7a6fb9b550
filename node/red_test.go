package node_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/linkemu"
	"github.com/switchyard/switchyard/media/red"
	"github.com/switchyard/switchyard/node"
	"github.com/switchyard/switchyard/node/nodetest"
	"github.com/switchyard/switchyard/node/snapshot"
)

// Audio redundancy (RFC 2198) as Chromium uses it: it offers red/48000/2
// after Opus and sends RED only if the answer puts it first. The Go client
// with Options.RED stands in for it.

func redAudio(o *client.Options) { o.PublishAudio, o.RED = true, true }

// receivesAudio waits until sub has more than n audio packets from pub.
func receivesAudio(t *testing.T, sub, pub *client.Client, n uint64) client.Stream {
	t.Helper()
	waitFor(t, 20*time.Second, fmt.Sprintf("%s to receive %d audio packets from %s", sub.ID(), n, pub.ID()),
		func() (bool, string) {
			s := sub.Received()[pub.ID()]
			return s.AudioPackets > n, audioString(s)
		})
	return sub.Received()[pub.ID()]
}

func audioString(s client.Stream) string {
	return fmt.Sprintf("%d audio packets (%d lost, %d RED) as %s pt %d",
		s.AudioPackets, s.AudioLost, s.AudioRED, s.AudioCodec, s.AudioPT)
}

// TestREDEndToEnd: a publisher offering RED is answered with RED first and
// sends it; a receiver that negotiated RED gets it as sent, one that did
// not gets plain Opus with continuous sequence numbers; a publisher that
// did not offer RED sends Opus to both.
func TestREDEndToEnd(t *testing.T) {
	n := nodetest.Start(t, nil)
	alice := join(t, n, "red", "alice", redAudio)
	carol := join(t, n, "red", "carol", func(o *client.Options) { o.RED = true })
	bob := join(t, n, "red", "bob", nil)
	dave := join(t, n, "red", "dave", func(o *client.Options) { o.PublishAudio = true })

	if c := alice.Sent().AudioCodec; c != red.MimeType {
		t.Errorf("alice, who offered RED, sends %q: the node's answer did not put RED first", c)
	}
	if c := dave.Sent().AudioCodec; c != "audio/opus" {
		t.Errorf("dave, who did not offer RED, sends %q", c)
	}

	s := receivesAudio(t, carol, alice, 100)
	if s.AudioCodec != red.MimeType || s.AudioPT != 63 || s.AudioRED != s.AudioPackets {
		t.Errorf("carol (RED) from alice (RED): %s; want every packet RED at pt 63", audioString(s))
	}
	s = receivesAudio(t, bob, alice, 100)
	if s.AudioCodec != "audio/opus" || s.AudioPT != 111 || s.AudioRED != 0 || s.AudioLost != 0 {
		t.Errorf("bob (no RED) from alice (RED): %s; want plain Opus at pt 111, none lost", audioString(s))
	}
	for _, sub := range []*client.Client{carol, bob} {
		s := receivesAudio(t, sub, dave, 50)
		if s.AudioCodec != "audio/opus" || s.AudioPT != 111 || s.AudioRED != 0 {
			t.Errorf("%s from dave (Opus): %s; want plain Opus", sub.ID(), audioString(s))
		}
	}
	if b := n.BadRED(); b != 0 {
		t.Errorf("the node refused %d of alice's RED payloads", b)
	}
}

// TestREDOff: with media.red off the node negotiates plain Opus, so a client
// that offers RED sends and receives Opus.
func TestREDOff(t *testing.T) {
	n := nodetest.Start(t, func(c *node.Config) { c.RED = node.REDOff })
	alice := join(t, n, "nored", "alice", redAudio)
	carol := join(t, n, "nored", "carol", func(o *client.Options) { o.RED = true })
	if c := alice.Sent().AudioCodec; c != "audio/opus" {
		t.Errorf("alice offered RED to a node with RED off and sends %q", c)
	}
	if s := receivesAudio(t, carol, alice, 50); s.AudioCodec != "audio/opus" || s.AudioRED != 0 {
		t.Errorf("carol (offers RED) from alice: %s; want plain Opus", audioString(s))
	}
}

// TestREDRecoversUplinkLoss: with 5% loss between a RED publisher and the
// node, a receiver without RED misses fewer audio packets when the node
// rebuilds lost ones from the next packet's redundancy than when it does
// not.
func TestREDRecoversUplinkLoss(t *testing.T) {
	n := nodetest.Start(t, nil)
	link, err := linkemu.NewNet(linkemu.NetConfig{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	alice := join(t, n, "redloss", "alice", func(o *client.Options) { redAudio(o); o.Net = link })
	bob := join(t, n, "redloss", "bob", nil)
	receivesAudio(t, bob, alice, 50)
	if c := alice.Sent().AudioCodec; c != red.MimeType {
		t.Fatalf("alice sends %q, not RED", c)
	}

	const loss, perPhase = 0.05, 500
	if err := link.SetUp(linkemu.Params{Loss: loss}); err != nil {
		t.Fatal(err)
	}
	// phase measures bob's residual audio loss over perPhase packets.
	phase := func(recovery bool) (lost, expected uint64, residual float64) {
		n.SetREDRecovery(recovery)
		time.Sleep(100 * time.Millisecond) // packets in flight belong to the phase before
		base := bob.Received()[alice.ID()]
		linkBase := link.Stats().Up
		s := receivesAudio(t, bob, alice, base.AudioPackets+base.AudioLost+perPhase)
		lost = s.AudioLost - base.AudioLost
		expected = s.AudioPackets - base.AudioPackets + lost
		ls := link.Stats().Up
		t.Logf("recovery %v: link dropped %d of %d packets from alice (audio and RTCP); bob missed %d of %d audio packets",
			recovery, ls.Lost-linkBase.Lost, ls.Sent-linkBase.Sent, lost, expected)
		return lost, expected, float64(lost) / float64(expected)
	}
	lostOff, _, off := phase(false)
	lostOn, _, on := phase(true)
	recovered := n.SetREDRecovery(true)
	t.Logf("residual audio loss at bob with %.0f%% uplink loss: %.2f%% without recovery, %.2f%% with (%d packets rebuilt)",
		100*loss, 100*off, 100*on, recovered)
	if off < loss/3 {
		t.Fatalf("without recovery bob missed only %.2f%% of the audio: the link injected too little loss to compare", 100*off)
	}
	if lostOn >= lostOff || on > off/3 {
		t.Errorf("bob missed %d packets (%.2f%%) with recovery, %d (%.2f%%) without: want well under a third",
			lostOn, 100*on, lostOff, 100*off)
	}
	if recovered == 0 {
		t.Error("the node rebuilt no packet")
	}
}

// TestREDAcrossCascade: RED crosses the relay as the publisher sent it: on
// the other node a receiver with RED gets it, one without gets Opus.
func TestREDAcrossCascade(t *testing.T) {
	nodes := startCascade(t, []string{"us", "eu"}, nil)
	alice := joinAt(t, nodes["us"], "redworld", "alice", "us", redAudio)
	carol := joinAt(t, nodes["eu"], "redworld", "carol", "eu", func(o *client.Options) { o.RED = true })
	bob := joinAt(t, nodes["eu"], "redworld", "bob", "eu", nil)
	s := receivesAudio(t, carol, alice, 100)
	if s.AudioCodec != red.MimeType || s.AudioPT != 63 || s.AudioRED != s.AudioPackets {
		t.Errorf("carol (RED, eu) from alice (RED, us): %s; want every packet RED at pt 63", audioString(s))
	}
	s = receivesAudio(t, bob, alice, 100)
	if s.AudioCodec != "audio/opus" || s.AudioPT != 111 || s.AudioRED != 0 {
		t.Errorf("bob (no RED, eu) from alice (RED, us): %s; want plain Opus at pt 111", audioString(s))
	}
}

// TestREDOnLossyRelay measures whether RED pays on a relay leg that loses
// 5% of its datagrams: a receiver on the far node hears a plain Opus
// publisher (the relay's hop-by-hop NACK repair alone) and a RED publisher
// (redundancy too, rebuilt by the far node before it strips RED). It logs
// both residual losses and checks that each is well below the link's.
func TestREDOnLossyRelay(t *testing.T) {
	const loss = 0.05
	nodes := startCascade(t, []string{"us", "eu"}, func(region string, c *node.Config) {
		if region == "us" {
			l := c.Cascade.Links["eu"]
			l.Loss = loss
			c.Cascade.Links["eu"] = l
		}
	})
	opus := joinAt(t, nodes["us"], "redrelay", "opus", "us", func(o *client.Options) { o.PublishAudio = true })
	redp := joinAt(t, nodes["us"], "redrelay", "red", "us", redAudio)
	bob := joinAt(t, nodes["eu"], "redrelay", "bob", "eu", nil)
	receivesAudio(t, bob, opus, 50)
	receivesAudio(t, bob, redp, 50)
	base := bob.Received()
	const packets = 600 // 12 s of audio each (receivesAudio waits 20 s at most)
	residual := func(pub *client.Client) float64 {
		s := receivesAudio(t, bob, pub, base[pub.ID()].AudioPackets+base[pub.ID()].AudioLost+packets)
		lost := s.AudioLost - base[pub.ID()].AudioLost
		expected := s.AudioPackets - base[pub.ID()].AudioPackets + lost
		return float64(lost) / float64(expected)
	}
	plain, withRED := residual(opus), residual(redp)
	relay := peerOf(nodes["us"], "eu")
	t.Logf("relay us→eu losing %.0f%%: residual audio loss at bob %.2f%% for plain Opus (NACK repair), %.2f%% for RED (NACK repair and redundancy); relay NACKs answered %d",
		100*loss, 100*plain, 100*withRED, relay.NACKsAnswer)
	if plain > loss/3 || withRED > loss/3 {
		t.Errorf("residual loss %.2f%% (Opus) / %.2f%% (RED) behind a %.0f%% relay: repair is not working", 100*plain, 100*withRED, 100*loss)
	}
}

// TestREDProtectSpeakers: with media.red = protect-speakers, a receiver
// that negotiated RED and loses 5% of what it is sent gets the dominant
// speaker's plain Opus as RED built by the node, and hears more of it: its
// residual loss is measured on a node with the policy and on one without,
// over the same emulated link.
func TestREDProtectSpeakers(t *testing.T) {
	const loss, packets = 0.05, 750 // 15 s of audio
	run := func(policy string) (residual float64, rebuilt uint64) {
		n := nodetest.Start(t, func(c *node.Config) { c.RED = policy })
		link, err := linkemu.NewNet(linkemu.NetConfig{Seed: 5, Down: linkemu.Params{Loss: loss}})
		if err != nil {
			t.Fatal(err)
		}
		alice := join(t, n, "protect", "alice", func(o *client.Options) { o.PublishAudio = true })
		bob := join(t, n, "protect", "bob", func(o *client.Options) { o.RED = true; o.Net = link })
		carol := join(t, n, "protect", "carol", func(o *client.Options) { o.RED = true })
		receivesAudio(t, bob, alice, 50)
		receivesAudio(t, carol, alice, 50)
		audioSub := func(who *client.Client) (snapshot.Subscription, float64) {
			p, _ := findParticipant(n, "protect", who.ID())
			if p == nil {
				return snapshot.Subscription{}, 0
			}
			for _, s := range p.Subs {
				if s.Publisher == alice.ID() && s.Kind == "audio" {
					return s, p.LossDownPct
				}
			}
			return snapshot.Subscription{}, p.LossDownPct
		}
		if policy == node.REDProtectSpeakers {
			waitFor(t, 15*time.Second, "the node to protect alice's voice towards bob", func() (bool, string) {
				s, l := audioSub(bob)
				return s.REDAdded, fmt.Sprintf("%+v, bob's loss %.1f%%", s, l)
			})
		}
		base := bob.Received()[alice.ID()]
		s := receivesAudio(t, bob, alice, base.AudioPackets+base.AudioLost+packets)
		lost := s.AudioLost - base.AudioLost
		expected := s.AudioPackets - base.AudioPackets + lost
		if sub, _ := audioSub(carol); sub.REDAdded {
			t.Errorf("%s: alice's voice is protected towards carol, who loses nothing: %+v", policy, sub)
		}
		if sub, _ := audioSub(bob); sub.REDAdded != (policy == node.REDProtectSpeakers) || (s.AudioRED > 0) != sub.REDAdded {
			t.Errorf("%s: bob's subscription %+v, %s", policy, sub, audioString(s))
		}
		return float64(lost) / float64(expected), s.AudioREDRecovered - base.AudioREDRecovered
	}
	on, rebuilt := run(node.REDProtectSpeakers)
	off, _ := run(node.REDForward)
	t.Logf("bob (5%% downlink loss) missed %.2f%% of alice's audio with the node's RED (%d packets rebuilt from it), %.2f%% without",
		100*on, rebuilt, 100*off)
	if off < loss/3 {
		t.Fatalf("without protection bob missed only %.2f%%: too little loss to compare", 100*off)
	}
	if on > off/3 {
		t.Errorf("with protection bob missed %.2f%%, without %.2f%%: want well under a third", 100*on, 100*off)
	}
}
