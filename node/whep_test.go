package node_test

import (
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/node"
	"github.com/switchyard/switchyard/node/nodetest"
)

// waitFollowing waits until the API shows WHEP session vid forwarding pub's
// audio and video, and the viewer, still receiving, got a keyframe whose
// height says whose video it is (0 = any).
func waitFollowing(t *testing.T, n *node.Node, room, vid, pub string, v *whepPeer, height func(int) bool) {
	t.Helper()
	var base whepStats
	switched := false
	waitFor(t, 30*time.Second, "the WHEP viewer to follow "+pub, func() (bool, string) {
		audio, video := following(n, room, vid)
		s := v.stats()
		if !switched {
			if audio != pub || video != pub {
				return false, "the API shows it following audio " + audio + ", video " + video
			}
			switched, base = true, s
		}
		ok := s.audio > base.audio+20 && s.video > base.video+30 && s.keyframes > base.keyframes && height(s.height)
		return ok, s.String()
	})
}

// TestWHEPFollowsDominantSpeaker: a plain pion viewer watches a room through
// WHEP before anyone publishes; it gets the first publisher, then whoever
// speaks: a Go participant (VP8 keyframes of its simulcast layers) and a
// WHIP publisher (320x240), back and forth, then the one left. Its two
// tracks keep one SSRC each, sequence numbers run on without jumps, and
// timestamps never leap, across every change.
func TestWHEPFollowsDominantSpeaker(t *testing.T) {
	n := nodetest.Start(t, nil)
	const room = "follow"
	v := newWHEPPeer(t)
	v.view(t, n.URL()+"/whep/"+room, "")
	vid, ok := endpoint(n, room, "whep")
	if !ok {
		t.Fatal("the API lists no participant of kind whep")
	}
	var aTalks, bTalks atomic.Bool
	aTalks.Store(true)
	a := join(t, n, room, "alice", func(o *client.Options) { publishing(o); o.Talk = talking(&aTalks) })
	b := newWHIPPeer(t, talking(&bTalks), [2]int{320, 240})
	b.publish(t, n.URL()+"/whip/"+room, "")
	bid, _ := endpoint(n, room, "whip")
	alices := func(h int) bool { return h != 0 && h != 240 } // her clips: 180, 360 or 720
	bobs := func(h int) bool { return h == 240 }

	waitFollowing(t, n, room, vid, a.ID(), v, alices)
	aTalks.Store(false)
	bTalks.Store(true)
	waitFollowing(t, n, room, vid, bid, v, bobs)
	bTalks.Store(false)
	aTalks.Store(true)
	waitFollowing(t, n, room, vid, a.ID(), v, alices)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	waitFollowing(t, n, room, vid, bid, v, bobs)

	s := v.stats()
	t.Logf("viewer: %s", s)
	if s.audioSSRCs != 1 || s.videoSSRCs != 1 {
		t.Errorf("the viewer saw %d audio and %d video SSRCs, want one each", s.audioSSRCs, s.videoSSRCs)
	}
	if s.jumps != 0 || s.bad != 0 {
		t.Errorf("%d sequence or timestamp jumps, %d unparsable VP8 payloads; want none", s.jumps, s.bad)
	}
	if s.maxVideoTSJump > 5*90000 {
		t.Errorf("video timestamps leapt by %d ticks (%.1f s) at once", s.maxVideoTSJump, float64(s.maxVideoTSJump)/90000)
	}
}

// TestWHEPOneParticipant: /whep/{room}/{id} follows that participant, not
// the speaker, and ends when it leaves.
func TestWHEPOneParticipant(t *testing.T) {
	n := nodetest.Start(t, nil)
	const room = "one"
	loud := join(t, n, room, "loud", publishing)
	quiet := join(t, n, room, "quiet", func(o *client.Options) { publishing(o); o.Talk = client.Silent() })
	v := newWHEPPeer(t)
	v.view(t, n.URL()+"/whep/"+room+"/"+quiet.ID(), "")
	vid, _ := endpoint(n, room, "whep")
	waitFor(t, 10*time.Second, "a dominant speaker", func() (bool, string) {
		d := loud.DominantSpeaker()
		return d == loud.ID(), d
	})
	waitFollowing(t, n, room, vid, quiet.ID(), v, func(h int) bool { return h > 0 })
	time.Sleep(time.Second) // the speaker does not pull it away
	if audio, video := following(n, room, vid); audio != quiet.ID() || video != quiet.ID() {
		t.Fatalf("following %s/%s, want %s", audio, video, quiet.ID())
	}
	if err := quiet.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the session to end with its participant", func() (bool, string) {
		_, ok := endpoint(n, room, "whep")
		return !ok, "still listed"
	})
	if r := do(t, http.MethodDelete, n.URL()+v.location, "", "", ""); r.status != http.StatusNotFound {
		t.Errorf("DELETE of the ended session: %d, want 404", r.status)
	}
}

// TestWHEPICEServersLink: with TURN on, the 201 carries the node's TURN
// server in Link headers (RFC 9725 §4.6) with credentials that work: a
// viewer restricted to relayed candidates, configured from them, gets
// media through the node's TURN server.
func TestWHEPICEServersLink(t *testing.T) {
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	turnAddr := udp.LocalAddr().String()
	udp.Close()
	n := nodetest.Start(t, func(c *node.Config) {
		c.TURN.Secret = "turn-test-secret-0123456789"
		c.TURN.UDPAddr = turnAddr
	})
	const room = "links"
	join(t, n, room, "pub", publishing)
	first := do(t, http.MethodPost, n.URL()+"/whep/"+room, "application/sdp", "", newWHEPPeer(t).offer)
	checkCreated(t, first)
	servers := parseICELinks(t, first.header.Values("Link"))
	if len(servers) == 0 || !strings.HasPrefix(servers[0].URLs[0], "turn:") {
		t.Fatalf("no TURN server in the Link headers: %q", first.header.Values("Link"))
	}

	api := peerAPI(t)
	pc, err := api.NewPeerConnection(webrtc.Configuration{ICEServers: servers, ICETransportPolicy: webrtc.ICETransportPolicyRelay})
	if err != nil {
		t.Fatal(err)
	}
	v := &whepPeer{pc: pc, packets: map[string]int{}, ssrcs: map[string]map[uint32]bool{},
		jumps: map[string]int{}, maxTSJump: map[string]uint32{}, heights: map[int]int{}}
	t.Cleanup(func() { _ = pc.Close() })
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { v.read(tr) })
	v.offer = offerGathered(t, pc)
	if !strings.Contains(v.offer, "typ relay") {
		t.Fatalf("the viewer gathered no relayed candidate with the linked credentials:\n%s", v.offer)
	}
	v.view(t, n.URL()+"/whep/"+room, "")
	waitFor(t, 20*time.Second, "media through TURN", func() (bool, string) {
		s := v.stats()
		return s.video > 30 && s.audio > 20 && s.keyframes > 0, s.String()
	})
}

// parseICELinks reads Link: <url>; rel="ice-server"; username="u"; credential="c".
func parseICELinks(t *testing.T, links []string) []webrtc.ICEServer {
	t.Helper()
	var out []webrtc.ICEServer
	for _, l := range links {
		parts := strings.Split(l, ";")
		u := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(parts[0]), "<"), ">")
		params := map[string]string{}
		for _, p := range parts[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			params[k] = strings.Trim(v, `"`)
		}
		if params["rel"] != "ice-server" {
			t.Fatalf("Link %q is not an ice-server", l)
		}
		out = append(out, webrtc.ICEServer{URLs: []string{u}, Username: params["username"], Credential: params["credential"]})
	}
	return out
}

// TestWHEPAcrossCascade: a WHIP publisher on one node, a WHEP viewer on
// another: the viewer follows the relayed participant, and the node asks
// the cascade for the layer it forwards.
func TestWHEPAcrossCascade(t *testing.T) {
	nodes := startCascade(t, []string{"us", "eu"}, nil)
	const room = "relayed"
	pub := newWHIPPeer(t, client.Always(), [2]int{320, 240})
	pub.publish(t, nodes["us"].URL()+"/whip/"+room, "")
	pid, _ := endpoint(nodes["us"], room, "whip")
	v := newWHEPPeer(t)
	v.view(t, nodes["eu"].URL()+"/whep/"+room, "")
	vid, _ := endpoint(nodes["eu"], room, "whep")
	waitFollowing(t, nodes["eu"], room, vid, pid, v, func(h int) bool { return h == 240 })
	if p, ok := findParticipant(nodes["us"], room, vid); !ok || !p.Remote {
		t.Errorf("the publisher's node does not list the viewer as a remote participant")
	}
}
