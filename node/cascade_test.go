package node_test

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchyard/switchyard/cascade/control"
	"github.com/switchyard/switchyard/cascade/relay"
	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/linkemu"
	"github.com/switchyard/switchyard/node"
	"github.com/switchyard/switchyard/node/nodetest"
	"github.com/switchyard/switchyard/node/signal"
	"github.com/switchyard/switchyard/node/snapshot"
)

const testSecret = "switchyard-test-cluster-secret"

// oneWay is the emulated one-way delay between test regions (RTT = 2x).
var oneWay = map[[2]string]time.Duration{
	{"us", "eu"}: 20 * time.Millisecond,
	{"eu", "ap"}: 40 * time.Millisecond,
	{"us", "ap"}: 55 * time.Millisecond,
}

func delay(a, b string) time.Duration {
	if d, ok := oneWay[[2]string{a, b}]; ok {
		return d
	}
	return oneWay[[2]string{b, a}]
}

// startCascade starts one node per region, joined into one cluster with
// emulated delays between them; mutate may adjust each node's config.
func startCascade(t *testing.T, regions []string, mutate func(region string, c *node.Config)) map[string]*node.Node {
	t.Helper()
	nodes := map[string]*node.Node{}
	var first string
	for _, region := range regions {
		n := nodetest.Start(t, func(c *node.Config) {
			c.ID, c.Region = region, region
			c.Cascade.Enabled = true
			c.Cascade.Secret = testSecret
			c.Cascade.RelayAddr = "127.0.0.1:0"
			c.Cascade.GossipAddr = "127.0.0.1:0"
			c.Cascade.ProbeInterval = 500 * time.Millisecond
			c.Cascade.ProbeTimeout = 300 * time.Millisecond
			// The nodes of one test share a process, and its CPU is
			// every node's CPU: on a busy machine (the race detector,
			// browsers) a node would count as overloaded and send
			// participants elsewhere. Stress never exceeds 1.
			c.Cascade.Overload = 1
			if first != "" {
				c.Cascade.Join = []string{first}
			}
			c.Cascade.Links = map[string]linkemu.Params{}
			for _, other := range regions {
				if other != region {
					c.Cascade.Links[other] = linkemu.Params{Delay: delay(region, other), Jitter: time.Millisecond}
				}
			}
			if mutate != nil {
				mutate(region, c)
			}
		})
		if first == "" {
			first = n.GossipAddr()
		}
		nodes[region] = n
	}
	waitFor(t, 15*time.Second, "every node to see the others", func() (bool, string) {
		var seen []string
		ok := true
		for _, region := range regions {
			peers := nodes[region].Snapshot().Node.Peers
			alive := 0
			for _, p := range peers {
				if p.Alive {
					alive++
				}
			}
			seen = append(seen, fmt.Sprintf("%s:%d/%d", region, alive, len(peers)))
			ok = ok && alive == len(regions)-1
		}
		return ok, strings.Join(seen, " ")
	})
	return nodes
}

func joinAt(t *testing.T, n *node.Node, room, name, region string, mut func(*client.Options)) *client.Client {
	return join(t, n, room, name, func(o *client.Options) {
		o.Region = region
		if mut != nil {
			mut(o)
		}
	})
}

func peerOf(n *node.Node, id string) snapshot.Peer {
	for _, p := range n.Snapshot().Node.Peers {
		if p.ID == id {
			return p
		}
	}
	return snapshot.Peer{}
}

// TestCascadeRelay: participants on three nodes publish simulcast and
// receive each other's media; each node sees the others' participants as
// remote; the relay RTT and the end-to-end sums are reported.
func TestCascadeRelay(t *testing.T) {
	nodes := startCascade(t, []string{"us", "eu", "ap"}, nil)
	quiet := func(o *client.Options) { publishing(o); o.Talk = client.Silent() }
	a := joinAt(t, nodes["us"], "world", "alice", "us", publishing)
	b := joinAt(t, nodes["eu"], "world", "bob", "eu", quiet)
	c := joinAt(t, nodes["ap"], "world", "carol", "ap", quiet)
	for _, cl := range []*client.Client{a, b, c} {
		if cl.Redirects() != 0 {
			t.Errorf("%s was redirected %d times joining its own region's node", cl.ID(), cl.Redirects())
		}
	}
	for _, pair := range [][2]*client.Client{{a, b}, {a, c}, {b, a}, {b, c}, {c, a}, {c, b}} {
		receivesAt(t, 20*time.Second, pair[0], pair[1], 0)
	}
	// Each node runs speaker detection on all the audio it sees: alice, the
	// only one talking, is dominant on the nodes she is relayed to, and
	// their participants are told.
	for _, who := range []*client.Client{b, c} {
		waitFor(t, 10*time.Second, who.ID()+" to hear alice is the dominant speaker from its own node", func() (bool, string) {
			return who.DominantSpeaker() == a.ID(), who.DominantSpeaker()
		})
	}
	snap := nodes["us"].Snapshot()
	conf, ok := snap.Find("world")
	if !ok {
		t.Fatal("us has no conference world")
	}
	if len(conf.Nodes) != 3 {
		t.Errorf("conference nodes %v, want us, eu and ap", conf.Nodes)
	}
	bob, ok := conf.Find(b.ID())
	if !ok || !bob.Remote || bob.Node != "eu" || bob.Region != "eu" {
		t.Fatalf("us sees bob as %+v, want a remote participant on eu", bob)
	}
	// The relay's RTT should reflect the emulated link: 2 x 20 ms.
	waitFor(t, 10*time.Second, "us to measure its relay RTT to eu", func() (bool, string) {
		p := peerOf(nodes["us"], "eu")
		return p.RTTMs > 30 && p.RTTMs < 80, fmt.Sprintf("%.1f ms", p.RTTMs)
	})
	// alice pings bob through the relay; the node's computed sum of hops
	// should be in the same range as the measurement.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var measured time.Duration
	for range 5 {
		d, err := a.Ping(ctx, b.ID())
		if err != nil {
			t.Fatalf("alice pings bob: %v", err)
		}
		measured = d
	}
	alice, _ := nodes["us"].Snapshot().Conferences[0].Find(a.ID())
	for _, e := range alice.E2E {
		if e.Peer == b.ID() {
			t.Logf("alice→bob: measured ping %v, node computes %.1f ms (client %.1f + relay %.1f + peer %.1f) over %s",
				measured, e.ComputedMs, e.ClientMs, e.RelayMs, e.PeerMs, e.Path)
			if e.RelayMs < 30 || e.Path != "us→eu" {
				t.Errorf("E2E entry %+v: want the us→eu relay hop of about 40 ms", e)
			}
			if ms := float64(measured) / 1e6; ms < 35 {
				t.Errorf("measured ping %v through a 40 ms relay", measured)
			}
		}
	}
}

// TestCascadeOnlyNeededLayers: a layer crosses a link only while someone
// behind it needs it.
func TestCascadeOnlyNeededLayers(t *testing.T) {
	nodes := startCascade(t, []string{"us", "eu"}, nil)
	a := joinAt(t, nodes["us"], "layers", "alice", "us", publishing)
	b := joinAt(t, nodes["eu"], "layers", "bob", "eu", func(o *client.Options) { o.MaxHeight = 180 })
	receivesAt(t, 20*time.Second, b, a, 180)
	fBytes := func() uint64 { return peerOf(nodes["us"], "eu").BytesOut["f"] }
	growth := func(f func() uint64, d time.Duration) uint64 {
		before := f()
		time.Sleep(d)
		return f() - before
	}
	if g := growth(fBytes, 2*time.Second); g > 20_000 {
		t.Errorf("f crossed the link at %d bytes in 2 s while bob only shows 180p", g)
	}
	peer := peerOf(nodes["us"], "eu")
	if peer.SkippedBytes == 0 {
		t.Errorf("no skipped bytes counted: %+v", peer)
	}
	if err := b.SetConstraint(a.ID(), 720); err != nil {
		t.Fatal(err)
	}
	receivesAt(t, 20*time.Second, b, a, 720)
	if g := growth(fBytes, 2*time.Second); g < 100_000 {
		t.Errorf("f crossed the link at only %d bytes in 2 s while bob shows 720p", g)
	}
	if err := b.SetConstraint(a.ID(), 180); err != nil {
		t.Fatal(err)
	}
	receivesAt(t, 20*time.Second, b, a, 180)
	time.Sleep(time.Second) // the want reaches us, in-flight packets land
	if g := growth(fBytes, 2*time.Second); g > 20_000 {
		t.Errorf("f kept crossing the link (%d bytes in 2 s) after bob went back to 180p", g)
	}
	peer = peerOf(nodes["us"], "eu")
	total := uint64(0)
	for _, k := range []string{"q", "h", "f"} {
		total += peer.BytesOut[k]
	}
	t.Logf("us→eu video bytes by layer %v, skipped %d: relayed %.0f%% of what forwarding every layer would send",
		peer.BytesOut, peer.SkippedBytes, 100*float64(total)/float64(total+peer.SkippedBytes))
}

// TestCascadeHopRepair: loss on a relay link is repaired on that hop.
func TestCascadeHopRepair(t *testing.T) {
	const loss = 0.05
	nodes := startCascade(t, []string{"us", "eu"}, func(region string, c *node.Config) {
		if region == "us" {
			c.Cascade.Links["eu"] = linkemu.Params{Delay: 20 * time.Millisecond, Loss: loss}
		}
	})
	a := joinAt(t, nodes["us"], "repair", "alice", "us", publishing)
	b := joinAt(t, nodes["eu"], "repair", "bob", "eu", nil)
	waitFor(t, 40*time.Second, "bob to receive 1200 video packets across a lossy relay link", func() (bool, string) {
		s := b.Received()[a.ID()]
		return s.VideoPackets >= 1200, streamString(s)
	})
	s := b.Received()[a.ID()]
	usSide, euSide := peerOf(nodes["us"], "eu"), peerOf(nodes["eu"], "us")
	residual := float64(s.VideoLost) / float64(s.VideoPackets+s.VideoLost)
	t.Logf("relay us→eu with %.0f%% loss: eu NACKed %d, us answered %d, eu repaired %d; bob's residual video loss %.2f%% (%s)",
		100*loss, euSide.NACKsSent, usSide.NACKsAnswer, euSide.Repaired, 100*residual, streamString(s))
	if euSide.NACKsSent == 0 || usSide.NACKsAnswer == 0 || euSide.Repaired == 0 {
		t.Errorf("no hop-by-hop repair: eu NACKs %d, us answers %d, eu repaired %d",
			euSide.NACKsSent, usSide.NACKsAnswer, euSide.Repaired)
	}
	if residual > loss/4 {
		t.Errorf("bob's residual loss %.2f%% with %.0f%% on the relay link", 100*residual, 100*loss)
	}
}

// TestCascadeBridgeSelection: a participant is sent to a node of its region,
// from the join message or a proxy's header.
func TestCascadeBridgeSelection(t *testing.T) {
	nodes := startCascade(t, []string{"us", "eu", "ap"}, nil)
	b := joinAt(t, nodes["us"], "sel", "bob", "eu", nil)
	if b.Node() != "eu" || b.Redirects() != 1 {
		t.Fatalf("bob from eu joined through us landed on %q after %d redirects, want eu after 1", b.Node(), b.Redirects())
	}
	// Unknown region: the node already hosting the conference.
	waitFor(t, 5*time.Second, "ap to hear that eu hosts the conference", func() (bool, string) {
		p := peerOf(nodes["ap"], "eu")
		return slices.Contains(p.Conferences, "sel"), fmt.Sprint(p.Conferences)
	})
	x := joinAt(t, nodes["ap"], "sel", "xena", "sa", nil)
	if x.Node() != "eu" {
		t.Errorf("xena from an unknown region landed on %q, want eu (hosts the conference)", x.Node())
	}
	// The proxy's header wins over what the client says.
	hdr := http.Header{"X-Switchyard-Region": []string{"ap"}}
	ws, _, err := websocket.DefaultDialer.Dial(wsURL(nodes["us"]), hdr)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.WriteJSON(signal.Message{Type: signal.TypeJoin, Room: "sel", Name: "zed", Region: "us"}); err != nil {
		t.Fatal(err)
	}
	var m signal.Message
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := ws.ReadJSON(&m); err != nil {
		t.Fatal(err)
	}
	apURL := strings.TrimPrefix(nodes["ap"].URL(), "http://")
	if m.Type != signal.TypeRedirect || !strings.Contains(m.URL, apURL) {
		t.Fatalf("with region header ap: got %+v, want a redirect to %s", m, apURL)
	}
	// A draining node is never chosen.
	if err := nodes["eu"].SetDraining(true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "us to hear eu is draining", func() (bool, string) {
		p := peerOf(nodes["us"], "eu")
		return p.Draining, fmt.Sprintf("%+v", p)
	})
	d := joinAt(t, nodes["us"], "sel", "dave", "eu", nil)
	if d.Node() == "eu" {
		t.Errorf("dave was sent to draining eu")
	}
}

// TestCascadeNodeFailure: a node dies mid-conference; the others drop its
// participants within 5 s and its participant rejoins through another node.
func TestCascadeNodeFailure(t *testing.T) {
	nodes := startCascade(t, []string{"us", "eu", "ap"}, nil)
	a := joinAt(t, nodes["us"], "fail", "alice", "us", publishing)
	b := joinAt(t, nodes["eu"], "fail", "bob", "eu", publishing)
	c := joinAt(t, nodes["ap"], "fail", "carol", "ap", publishing)
	receivesAt(t, 20*time.Second, a, c, 0)
	receivesAt(t, 20*time.Second, b, c, 0)
	fallback := c.Fallback()
	if len(fallback) != 2 {
		t.Fatalf("carol's fallback list %v, want the other two nodes", fallback)
	}
	killed := time.Now()
	if err := nodes["ap"].Kill(); err != nil {
		t.Fatal(err)
	}
	for _, region := range []string{"us", "eu"} {
		waitFor(t, 5*time.Second, region+" to drop carol", func() (bool, string) {
			_, there := findParticipant(nodes[region], "fail", c.ID())
			return !there, "still listed"
		})
		t.Logf("%s dropped the dead node's participant %v after the kill", region, time.Since(killed).Round(10*time.Millisecond))
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("carol's client did not notice its node died")
	}
	// Carol rejoins through the first fallback node; bridge selection puts
	// her on a live node and the conference goes on.
	c2 := joinAt(t, nodes["us"], "fail", "carol", "ap", publishing)
	if c2.Node() == "ap" {
		t.Fatalf("carol rejoined on the dead node")
	}
	receivesAt(t, 20*time.Second, c2, a, 0)
	receivesAt(t, 20*time.Second, b, c2, 0)
}

// TestCascadeDrain: a draining node tells its participants where to go.
func TestCascadeDrain(t *testing.T) {
	nodes := startCascade(t, []string{"us", "eu"}, nil)
	a := joinAt(t, nodes["us"], "drain", "alice", "us", publishing)
	b := joinAt(t, nodes["eu"], "drain", "bob", "eu", publishing)
	receivesAt(t, 20*time.Second, a, b, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- nodes["eu"].Drain(ctx) }()
	waitFor(t, 5*time.Second, "bob to be told to move", func() (bool, string) {
		return b.MovedTo() != "", b.MovedTo()
	})
	usURL := strings.TrimPrefix(nodes["us"].URL(), "http://")
	if !strings.Contains(b.MovedTo(), usURL) {
		t.Errorf("bob told to move to %q, want us (%s)", b.MovedTo(), usURL)
	}
	_ = b.Close() // what the web client does on a redirect
	if err := <-done; err != nil {
		t.Fatalf("drain: %v", err)
	}
}

// TestCascadeBadRelayInput: garbage, forged, replayed and lying datagrams
// are dropped and counted; media keeps flowing.
func TestCascadeBadRelayInput(t *testing.T) {
	nodes := startCascade(t, []string{"us", "eu"}, nil)
	a := joinAt(t, nodes["us"], "bad", "alice", "us", publishing)
	b := joinAt(t, nodes["eu"], "bad", "bob", "eu", publishing)
	receivesAt(t, 20*time.Second, b, a, 0)
	target, err := net.ResolveUDPAddr("udp", nodes["eu"].Snapshot().Node.Cascade.RelayAddr)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	send := func(b []byte) {
		if _, err := conn.WriteToUDP(b, target); err != nil {
			t.Fatal(err)
		}
	}
	// Garbage and truncation.
	send([]byte("hello"))
	send(make([]byte, 100))
	// Forged: sealed with the wrong secret, as from us.
	us, eu := relay.NodeIDFromName("us"), relay.NodeIDFromName("eu")
	wrong, _ := relay.NewKeys(us, relay.Secret{Epoch: 1, Key: []byte("not-the-cluster-secret")})
	forged, err := relay.Seal(nil, wrong, relay.Header{Type: relay.TypeRTP, Receiver: eu, Seq: 1 << 62}, "bad", a.ID(), make([]byte, 50))
	if err != nil {
		t.Fatal(err)
	}
	send(forged)
	waitFor(t, 5*time.Second, "eu to count the garbage and the forgery", func() (bool, string) {
		drops := nodes["eu"].Snapshot().Node.Cascade.Drops
		return drops["truncated"] > 0 && drops["authentication"] > 0, fmt.Sprint(drops)
	})
	receivesAt(t, 10*time.Second, b, a, 0) // media still flows

	// Genuine datagrams (the right secret, as if from us): one far behind
	// us's sequence, which the replay window refuses; then one announcing a
	// participant id of eu's own. The second moves us's window far ahead,
	// so it comes last: a holder of the cluster secret can disturb a link,
	// as the relay's documentation says.
	right, _ := relay.NewKeys(us, relay.Secret{Epoch: 1, Key: []byte(testSecret)})
	lie, _ := control.Encode(&control.Message{Type: control.TypeState,
		Participants: []control.Participant{{ID: "eu-p99", Name: "mallory"}}})
	old, err := relay.Seal(nil, right, relay.Header{Type: relay.TypeMessage, Receiver: eu, Seq: 1}, "bad", "", lie)
	if err != nil {
		t.Fatal(err)
	}
	send(old)
	lying, err := relay.Seal(nil, right, relay.Header{Type: relay.TypeMessage, Receiver: eu, Seq: 1 << 62}, "bad", "", lie)
	if err != nil {
		t.Fatal(err)
	}
	send(lying)
	waitFor(t, 5*time.Second, "eu to count the replay and the lie", func() (bool, string) {
		drops := nodes["eu"].Snapshot().Node.Cascade.Drops
		return drops["replay"] > 0 && drops["foreign participant id"] > 0, fmt.Sprint(drops)
	})
	if _, there := findParticipant(nodes["eu"], "bad", "eu-p99"); there {
		t.Error("eu created the participant a peer lied about")
	}
}

// TestCascadeFailoverTime: a node dies and its participant rejoins at once,
// as the web client does, through another node. Bridge selection must not
// send it back to the dead node once the relay has gone quiet; the time
// from the kill to media flowing again is logged (the closing figure).
func TestCascadeFailoverTime(t *testing.T) {
	nodes := startCascade(t, []string{"us", "eu", "ap"}, nil)
	a := joinAt(t, nodes["us"], "failover", "alice", "us", publishing)
	c := joinAt(t, nodes["ap"], "failover", "carol", "ap", publishing)
	receivesAt(t, 20*time.Second, c, a, 0)
	apDown := func() bool { return !peerOf(nodes["us"], "ap").Alive }

	killed := time.Now()
	if err := nodes["ap"].Kill(); err != nil {
		t.Fatal(err)
	}
	var (
		c2               *client.Client
		attempts, toDead int
		downAt           time.Duration
	)
	for c2 == nil {
		if time.Since(killed) > 15*time.Second {
			t.Fatalf("carol could not rejoin in 15 s (%d attempts)", attempts)
		}
		down := apDown()
		if down && downAt == 0 {
			downAt = time.Since(killed)
		}
		attempts++
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		cl, err := client.Join(ctx, client.Options{URL: wsURL(nodes["us"]), Room: "failover", Name: "carol",
			Region: "ap", PublishAudio: true, PublishVideo: true})
		cancel()
		switch {
		case err == nil && cl.Node() == "ap":
			t.Fatal("carol rejoined on the dead node")
		case err == nil:
			c2 = cl
			t.Cleanup(func() { _ = cl.Close() })
		default:
			toDead++
			if down {
				t.Errorf("attempt %d, %v after the kill, failed although us already marked ap down: %v",
					attempts, time.Since(killed).Round(10*time.Millisecond), err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	joinedAt := time.Since(killed)
	receivesAt(t, 20*time.Second, c2, a, 0)
	t.Logf("node kill → ap marked down on us %v, rejoined %v (attempt %d, %d failed), media back %v",
		downAt.Round(10*time.Millisecond), joinedAt.Round(10*time.Millisecond), attempts, toDead,
		time.Since(killed).Round(10*time.Millisecond))
}

// TestCascadeScreenShare: a share on one node reaches a participant on
// another as a track of its own, and the other node knows who shares.
func TestCascadeScreenShare(t *testing.T) {
	nodes := startCascade(t, []string{"us", "eu"}, nil)
	a := joinAt(t, nodes["us"], "cshare", "alice", "us", sharing)
	b := joinAt(t, nodes["eu"], "cshare", "bob", "eu", nil)
	receivesAt(t, 20*time.Second, b, a, 0)
	if err := a.Share(true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "bob on eu to receive alice's screen from us", func() (bool, string) {
		s := b.Received()[a.ID()]
		return s.ScreenKeyframes > 0 && s.ScreenPackets > 30, fmt.Sprintf("screen %d pkts, %d keyframes, %dx%d",
			s.ScreenPackets, s.ScreenKeyframes, s.ScreenWidth, s.ScreenHeight)
	})
	waitFor(t, 5*time.Second, "eu to list alice as sharing", func() (bool, string) {
		p, _ := findParticipant(nodes["eu"], "cshare", a.ID())
		return p != nil && p.Sharing, fmt.Sprintf("%+v", p != nil && p.Sharing)
	})
	// One share per conference across the cascade: a participant on eu
	// is refused while alice shares.
	c := joinAt(t, nodes["eu"], "cshare", "carol", "eu", sharing)
	if err := c.Share(true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "carol's share to be refused", func() (bool, string) {
		m, ok := c.LastError()
		return ok && m.Code == signal.CodeShareBusy, fmt.Sprintf("%+v", m)
	})
}

// TestCascadeE2EEFlag: a participant that joins with end-to-end encryption
// is shown as encrypted to the others, in the API of its node and of a
// node it is relayed to.
func TestCascadeE2EEFlag(t *testing.T) {
	nodes := startCascade(t, []string{"us", "eu"}, nil)
	a := joinAt(t, nodes["us"], "ce2ee", "alice", "us", func(o *client.Options) { publishing(o); o.E2EE = true })
	b := joinAt(t, nodes["eu"], "ce2ee", "bob", "eu", nil)
	receivesAt(t, 20*time.Second, b, a, 0)
	for _, region := range []string{"us", "eu"} {
		waitFor(t, 5*time.Second, region+" to show alice as encrypted", func() (bool, string) {
			p, _ := findParticipant(nodes[region], "ce2ee", a.ID())
			return p != nil && p.E2EE, fmt.Sprintf("%+v", p)
		})
	}
	if p, _ := findParticipant(nodes["eu"], "ce2ee", b.ID()); p == nil || p.E2EE {
		t.Fatalf("bob did not encrypt but is shown as encrypted: %+v", p)
	}
	waitFor(t, 5*time.Second, "bob to be told alice is encrypted", func() (bool, string) {
		for _, q := range b.Participants() {
			if q.ID == a.ID() {
				return q.E2EE, fmt.Sprintf("%+v", q)
			}
		}
		return false, "alice not listed"
	})
}

// TestRTTFigure: a participant's RTT is one figure, the round trip to its
// node, and every view shows the same one: its node's API, a peer node's
// API (relayed in control state) and the peer's end-to-end table.
func TestRTTFigure(t *testing.T) {
	link, err := linkemu.NewNet(linkemu.NetConfig{Seed: 3,
		Up:   linkemu.Params{Delay: 40 * time.Millisecond},
		Down: linkemu.Params{Delay: 40 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	nodes := startCascade(t, []string{"us", "eu"}, nil)
	a := joinAt(t, nodes["us"], "rtt", "alice", "us", func(o *client.Options) { publishing(o); o.Net = link })
	b := joinAt(t, nodes["eu"], "rtt", "bob", "eu", publishing)
	receivesAt(t, 20*time.Second, a, b, 0)
	receivesAt(t, 20*time.Second, b, a, 0)
	var home float64
	waitFor(t, 15*time.Second, "us to measure alice's 80 ms round trip", func() (bool, string) {
		p, _ := findParticipant(nodes["us"], "rtt", a.ID())
		if p == nil {
			return false, "alice not listed"
		}
		home = p.RTTMs
		return home > 70 && home < 110, fmt.Sprintf("%.1f ms", home)
	})
	waitFor(t, 10*time.Second, "eu to show the same figure for alice", func() (bool, string) {
		p, _ := findParticipant(nodes["eu"], "rtt", a.ID())
		q, _ := findParticipant(nodes["eu"], "rtt", b.ID())
		if p == nil || q == nil {
			return false, "not listed"
		}
		var e2e float64
		for _, e := range q.E2E {
			if e.Peer == a.ID() {
				e2e = e.PeerMs
			}
		}
		near := func(v float64) bool { return math.Abs(v-home) < 10 }
		return near(p.RTTMs) && near(e2e), fmt.Sprintf("us %.1f, eu %.1f, bob's end-to-end hop %.1f", home, p.RTTMs, e2e)
	})
}

// TestEndToEndRTTAnyPair: every node computes the end-to-end round trip of
// every pair over the relay link the pair's media takes, also between two
// participants of two other nodes (from the link table those nodes share),
// within 10 ms of the emulated path; the participants' own pings fill the
// measured figure, which agrees.
func TestEndToEndRTTAnyPair(t *testing.T) {
	regions := []string{"us", "eu", "ap"}
	nodes := startCascade(t, regions, nil)
	clients := map[string]*client.Client{}
	for _, r := range regions {
		clients[r] = joinAt(t, nodes[r], "e2epairs", "p-"+r, r, func(o *client.Options) {
			publishing(o)
			o.PingEvery = 300 * time.Millisecond
		})
	}
	for _, a := range regions {
		for _, b := range regions {
			if a != b {
				receivesAt(t, 20*time.Second, clients[a], clients[b], 0)
			}
		}
	}
	for _, asked := range regions {
		for _, a := range regions {
			for _, b := range regions {
				if a == b {
					continue
				}
				want := 2 * delay(a, b).Seconds() * 1000
				waitFor(t, 10*time.Second, fmt.Sprintf("%s to give the %s↔%s relay round trip", asked, a, b), func() (bool, string) {
					p, _ := findParticipant(nodes[asked], "e2epairs", clients[a].ID())
					if p == nil {
						return false, "not listed"
					}
					for _, e := range p.E2E {
						if e.Peer == clients[b].ID() {
							// The clients' own pings go the same way: measured
							// is filled and agrees with the sum of the hops.
							return math.Abs(e.RelayMs-want) < 10 && e.MeasuredMs > 0 && math.Abs(e.MeasuredMs-e.ComputedMs) < 15,
								fmt.Sprintf("relay %.1f ms (path %s), want %.0f; computed %.1f, measured %.1f",
									e.RelayMs, e.Path, want, e.ComputedMs, e.MeasuredMs)
						}
					}
					return false, "no end-to-end entry"
				})
			}
		}
	}
}
