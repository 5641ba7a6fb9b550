package node_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/node"
	"github.com/switchyard/switchyard/node/nodetest"
)

// TestWHIPPublish: a plain pion peer publishes through WHIP with simulcast
// layers numbered as OBS numbers them; a Go participant in the room sees
// it as a participant and receives its audio and its largest layer; DELETE
// ends the session and the participant leaves.
func TestWHIPPublish(t *testing.T) {
	n := nodetest.Start(t, nil)
	viewer := join(t, n, "whip", "viewer", nil)
	pub := newWHIPPeer(t, client.Always(), [2]int{1280, 720}, [2]int{640, 360}, [2]int{320, 180})
	pub.publish(t, n.URL()+"/whip/whip", "")

	id, ok := endpoint(n, "whip", "whip")
	if !ok {
		t.Fatal("the API lists no participant of kind whip")
	}
	p, _ := findParticipant(n, "whip", id)
	if p.Name != "whip" {
		t.Errorf("WHIP participant named %q, want whip", p.Name)
	}
	waitFor(t, 10*time.Second, "the viewer to hear of the WHIP participant", func() (bool, string) {
		for _, q := range viewer.Participants() {
			if q.ID == id {
				return true, ""
			}
		}
		return false, "not in the viewer's participant list"
	})
	receivesFrom(t, 20*time.Second, viewer, id, 720)
	waitFor(t, 10*time.Second, "the API to show the three layers, largest as f", func() (bool, string) {
		p, _ := findParticipant(n, "whip", id)
		heights := map[string]int{}
		for _, l := range p.Layers {
			heights[l.RID] = l.Height
		}
		return heights["q"] == 180 && heights["h"] == 360 && heights["f"] == 720 && p.Audio, fmt.Sprint(heights, " audio ", p.Audio)
	})
	if s := viewer.Received()[id]; s.BadPayloads != 0 || s.SSRCChanges != 0 {
		t.Errorf("viewer saw %d unparsable payloads, %d SSRC changes", s.BadPayloads, s.SSRCChanges)
	}

	r := do(t, http.MethodDelete, n.URL()+pub.location, "", "", "")
	if r.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	waitFor(t, 5*time.Second, "the WHIP participant to leave", func() (bool, string) {
		_, there := findParticipant(n, "whip", id)
		for _, q := range viewer.Participants() {
			there = there || q.ID == id
		}
		return !there, "still listed"
	})
	if r := do(t, http.MethodDelete, n.URL()+pub.location, "", "", ""); r.status != http.StatusNotFound {
		t.Errorf("second DELETE: %d, want 404", r.status)
	}
}

// receivesFrom waits until sub gets audio and video from the participant
// pubID with a keyframe of the given height (0 = any).
func receivesFrom(t *testing.T, d time.Duration, sub *client.Client, pubID string, height int) {
	t.Helper()
	var base client.Stream
	first := true
	waitFor(t, d, fmt.Sprintf("%s to receive %s's media at height %d", sub.ID(), pubID, height), func() (bool, string) {
		s := sub.Received()[pubID]
		if first {
			base, first = s, false
		}
		ok := s.AudioPackets > base.AudioPackets+20 && s.VideoPackets > base.VideoPackets+30 &&
			s.Keyframes > 0 && (height == 0 || s.Height == height)
		return ok, streamString(s)
	})
}

// Tokens the node must refuse.
func forgedToken(t *testing.T) string {
	t.Helper()
	tok, err := auth.Issue([]byte(strings.Repeat("x", 40)), auth.Claims{Room: "tok", Name: "x", Grants: publisher}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func expiredToken(t *testing.T) string {
	t.Helper()
	tok, err := auth.Issue([]byte(authSecret), auth.Claims{Room: "tok", Name: "x", Grants: publisher}, time.Minute, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

var publishOnly = auth.Grants{Publish: true}

// TestWHIPHTTP checks the HTTP side of RFC 9725 on both endpoints: every
// refusal with its status and a reason, and the session resource's
// PATCH rules.
func TestWHIPHTTP(t *testing.T) {
	n := nodetest.Start(t, nil)
	base := n.URL()
	pub := newWHIPPeer(t, client.Silent(), [2]int{320, 240})
	offer := pub.offer
	recvOnly := newWHEPPeer(t).offer

	tests := []struct {
		name, method, path, ctype, body string
		status                          int
		inBody                          string // the reason says this
		header                          [2]string
	}{
		{name: "GET the endpoint", method: "GET", path: "/whip/r", status: 405, header: [2]string{"Allow", "OPTIONS, POST"}},
		{name: "PUT a session", method: "PUT", path: "/whip/r/abc", status: 405},
		{name: "GET a WHEP endpoint", method: "GET", path: "/whep/r", status: 405},
		{name: "OPTIONS", method: "OPTIONS", path: "/whip/r", status: 204, header: [2]string{"Accept-Post", "application/sdp"}},
		{name: "OPTIONS, WHEP", method: "OPTIONS", path: "/whep/r", status: 204, header: [2]string{"Accept-Post", "application/sdp"}},
		{name: "CORS preflight", method: "OPTIONS", path: "/whip/r", status: 204, header: [2]string{"Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match"}},
		{name: "wrong content type", method: "POST", path: "/whip/r", ctype: "text/plain", body: offer, status: 415, inBody: "application/sdp"},
		{name: "no content type", method: "POST", path: "/whip/r", body: offer, status: 415},
		{name: "not SDP", method: "POST", path: "/whip/r", ctype: "application/sdp", body: "hello", status: 400, inBody: "bad-sdp"},
		{name: "SDP without media", method: "POST", path: "/whip/r", ctype: "application/sdp",
			body: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", status: 400, inBody: "no media"},
		{name: "thousands of m-lines", method: "POST", path: "/whip/r", ctype: "application/sdp",
			body: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" + strings.Repeat("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", 100), status: 400, inBody: "more than"},
		{name: "oversized", method: "POST", path: "/whip/r", ctype: "application/sdp", body: strings.Repeat("a", 100<<10), status: 413},
		{name: "WHIP offer that sends nothing", method: "POST", path: "/whip/r", ctype: "application/sdp", body: recvOnly, status: 400, inBody: "sends nothing"},
		{name: "WHEP offer that receives nothing", method: "POST", path: "/whep/r", ctype: "application/sdp", body: offer, status: 400, inBody: "receives neither"},
		{name: "bad room name", method: "POST", path: "/whip/bad%20room", ctype: "application/sdp", body: offer, status: 400, inBody: "room"},
		{name: "WHEP of nobody", method: "POST", path: "/whep/r/p999", ctype: "application/sdp", body: recvOnly, status: 404},
		{name: "DELETE unknown session", method: "DELETE", path: "/whip/r/AAAAAAAAAAAAAAAAAAAAAA", status: 404},
		{name: "PATCH unknown session", method: "PATCH", path: "/whip/r/AAAAAAAAAAAAAAAAAAAAAA", ctype: "application/trickle-ice-sdpfrag", status: 404},
		{name: "DELETE unknown WHEP session", method: "DELETE", path: "/whep/nosuchroom/x", status: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, tc.method, base+tc.path, tc.ctype, "", tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.inBody != "" && !strings.Contains(r.body, tc.inBody) {
				t.Errorf("body %q does not say %q", r.body, tc.inBody)
			}
			if tc.header[0] != "" && r.header.Get(tc.header[0]) != tc.header[1] {
				t.Errorf("%s: %q, want %q", tc.header[0], r.header.Get(tc.header[0]), tc.header[1])
			}
			if r.header.Get("Access-Control-Allow-Origin") != "*" && tc.status != 405 {
				t.Errorf("no CORS header")
			}
		})
	}
	if snap := n.Snapshot(); snap.Node.Participants != 0 {
		t.Fatalf("refused requests left %d participants", snap.Node.Participants)
	}

	// The session resource.
	pub.publish(t, base+"/whip/r", "")
	loc := base + pub.location
	const frag = "application/trickle-ice-sdpfrag"
	ufrag := between(pub.offer, "a=ice-ufrag:", "\r\n")
	pwd := between(pub.offer, "a=ice-pwd:", "\r\n")
	good := "a=ice-ufrag:" + ufrag + "\r\na=ice-pwd:" + pwd + "\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n" +
		"a=candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host\r\na=end-of-candidates\r\n"
	patches := []struct {
		name, ctype, body, ifMatch string
		status                     int
	}{
		{"trickle", frag, good, pub.etag, 204},
		{"trickle without If-Match", frag, good, "", 204},
		{"end of candidates only", frag, "a=end-of-candidates\r\n", "", 204},
		{"stale ETag", frag, good, `"0123"`, 412},
		{"ICE restart", frag, strings.ReplaceAll(good, ufrag, "zzzz"), "*", 422},
		{"new credentials without If-Match: *", frag, strings.ReplaceAll(good, ufrag, "zzzz"), "", 422},
		{"malformed fragment", frag, "a=candidate:garbage\r\n", pub.etag, 400},
		{"wrong content type", "application/sdp", good, pub.etag, 415},
	}
	for _, tc := range patches {
		t.Run("PATCH "+tc.name, func(t *testing.T) {
			var extra []string
			if tc.ifMatch != "" {
				extra = []string{"If-Match", tc.ifMatch}
			}
			r := do(t, http.MethodPatch, loc, tc.ctype, "", tc.body, extra...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
		})
	}
	t.Run("PATCH past the session's candidate budget", func(t *testing.T) {
		var many strings.Builder
		many.WriteString("m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n")
		for i := range 64 {
			fmt.Fprintf(&many, "a=candidate:%d 1 udp 2122260223 127.0.0.1 %d typ host\r\n", i, 41000+i)
		}
		status := 0
		for range 5 {
			if status = do(t, http.MethodPatch, loc, frag, "", many.String()).status; status != 204 {
				break
			}
		}
		if status != http.StatusBadRequest {
			t.Fatalf("the fifth PATCH of 64 candidates (after 2 already): %d, want 400", status)
		}
	})
	r := do(t, http.MethodOptions, loc, "", "", "")
	if r.status != 204 || r.header.Get("Accept-Patch") != frag || !strings.Contains(r.header.Get("Allow"), "DELETE") {
		t.Errorf("OPTIONS on the session: %d, Accept-Patch %q, Allow %q", r.status, r.header.Get("Accept-Patch"), r.header.Get("Allow"))
	}
	// The session's id is its secret: the same id in another room, or a
	// WHEP path, finds nothing.
	for _, path := range []string{strings.Replace(pub.location, "/r/", "/other/", 1), strings.Replace(pub.location, "/whip/", "/whep/", 1)} {
		if r := do(t, http.MethodDelete, base+path, "", "", ""); r.status != 404 {
			t.Errorf("DELETE %s: %d, want 404", path, r.status)
		}
	}
	if snap := n.Snapshot(); snap.Node.Participants != 1 {
		t.Errorf("%d participants, want the WHIP publisher", snap.Node.Participants)
	}
}

func between(s, from, to string) string {
	_, after, _ := strings.Cut(s, from)
	v, _, _ := strings.Cut(after, to)
	return v
}

// TestWHIPTokens: where the node requires join tokens, WHIP needs one with
// the publish grant and WHEP one with the subscribe grant, for the room.
func TestWHIPTokens(t *testing.T) {
	n := nodetest.Start(t, requireAuth)
	whip, whep := newWHIPPeer(t, client.Silent(), [2]int{320, 240}).offer, newWHEPPeer(t).offer
	tests := []struct {
		name, path, offer, token string
		status                   int
	}{
		{"WHIP without a token", "/whip/tok", whip, "", 401},
		{"WHIP with garbage", "/whip/tok", whip, "not-a-jwt", 401},
		{"WHIP with another node's token", "/whip/tok", whip, forgedToken(t), 401},
		{"WHIP with an expired token", "/whip/tok", whip, expiredToken(t), 401},
		{"WHIP, token for another room", "/whip/tok", whip, token(t, "elsewhere", "ann", publisher, time.Hour), 403},
		{"WHIP, subscribe-only token", "/whip/tok", whip, token(t, "tok", "ann", watcher, time.Hour), 403},
		{"WHEP without a token", "/whep/tok", whep, "", 401},
		{"WHEP, publish-only token", "/whep/tok", whep, token(t, "tok", "ann", publishOnly, time.Hour), 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, http.MethodPost, n.URL()+tc.path, "application/sdp", tc.token, tc.offer)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without WWW-Authenticate: Bearer")
			}
		})
	}
	pub := newWHIPPeer(t, client.Silent(), [2]int{320, 240})
	pub.publish(t, n.URL()+"/whip/tok", token(t, "tok", "studio", publisher, time.Hour))
	viewer := newWHEPPeer(t)
	viewer.view(t, n.URL()+"/whep/tok", token(t, "tok", "audience", watcher, time.Hour))
	names := map[string]string{}
	snap := n.Snapshot()
	if conf, ok := snap.Find("tok"); ok {
		for _, p := range conf.Participants {
			names[p.Kind] = p.Name
		}
	}
	if names["whip"] != "studio" || names["whep"] != "audience" {
		t.Errorf("names from the tokens: %v, want whip studio, whep audience", names)
	}
}

// TestWHIPNeverConnects: a session whose client never completes ICE is
// removed after limits.offer_timeout, and its place is free again.
func TestWHIPNeverConnects(t *testing.T) {
	n := nodetest.Start(t, func(c *node.Config) { c.OfferTimeout = 1500 * time.Millisecond; c.MaxParticipants = 1 })
	pub := newWHIPPeer(t, client.Silent(), [2]int{320, 240})
	r := do(t, http.MethodPost, n.URL()+"/whip/ghost", "application/sdp", "", pub.offer)
	checkCreated(t, r) // the answer is never applied: no ICE
	second := do(t, http.MethodPost, n.URL()+"/whip/ghost", "application/sdp", "", newWHIPPeer(t, client.Silent(), [2]int{320, 240}).offer)
	if second.status != http.StatusServiceUnavailable || second.header.Get("Retry-After") == "" {
		t.Errorf("second publisher on a node for one: %d (Retry-After %q), want 503", second.status, second.header.Get("Retry-After"))
	}
	if _, ok := endpoint(n, "ghost", "whip"); !ok {
		t.Fatal("the session is not listed")
	}
	// Well before pion would give the ICE agent up (about 9 s).
	waitFor(t, 5*time.Second, "the unconnected session to be removed", func() (bool, string) {
		_, ok := endpoint(n, "ghost", "whip")
		return !ok && n.Snapshot().Node.Participants == 0, "still there"
	})
	if r := do(t, http.MethodDelete, n.URL()+r.header.Get("Location"), "", "", ""); r.status != http.StatusNotFound {
		t.Errorf("DELETE of the removed session: %d, want 404", r.status)
	}
	third := newWHIPPeer(t, client.Silent(), [2]int{320, 240})
	third.publish(t, n.URL()+"/whip/ghost", "")
}

// TestWHIPJoinRate: POSTs count against the per-address join rate.
func TestWHIPJoinRate(t *testing.T) {
	n := nodetest.Start(t, func(c *node.Config) { c.LimitLoopback = true; c.JoinRate = 0.01; c.JoinBurst = 1 })
	first := newWHIPPeer(t, client.Silent(), [2]int{320, 240})
	first.publish(t, n.URL()+"/whip/rate", "")
	r := do(t, http.MethodPost, n.URL()+"/whep/rate", "application/sdp", "", newWHEPPeer(t).offer)
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("second session from the address: %d, want 429: %s", r.status, r.body)
	}
}

// TestWHIPDrain: a draining node removes the sessions, whose clients cannot
// follow a redirect (node stop removes them like any participant).
func TestWHIPDrain(t *testing.T) {
	n := nodetest.Start(t, nil)
	pub := newWHIPPeer(t, client.Silent(), [2]int{320, 240})
	pub.publish(t, n.URL()+"/whip/drain", "")
	view := newWHEPPeer(t)
	view.view(t, n.URL()+"/whep/drain", "")
	if n.Snapshot().Node.Participants != 2 {
		t.Fatalf("%d participants, want 2", n.Snapshot().Node.Participants)
	}
	connected(t, pub.pc)
	connected(t, view.pc)
	if err := n.SetDraining(true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the sessions to leave the draining node", func() (bool, string) {
		return n.Snapshot().Node.Participants == 0, "still there"
	})
	for _, pc := range []*webrtc.PeerConnection{pub.pc, view.pc} {
		waitFor(t, 10*time.Second, "the client's PeerConnection to close", func() (bool, string) {
			s := pc.ConnectionState()
			return s == webrtc.PeerConnectionStateClosed || s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateDisconnected, s.String()
		})
	}
}

// connected waits for a client's PeerConnection to connect to the node.
func connected(t *testing.T, pc *webrtc.PeerConnection) {
	t.Helper()
	waitFor(t, 10*time.Second, "the client's media connection", func() (bool, string) {
		s := pc.ConnectionState()
		return s == webrtc.PeerConnectionStateConnected, s.String()
	})
}

var talking = func(on *atomic.Bool) client.TalkPattern {
	always := client.Always()
	return func(t time.Duration) (uint8, bool) {
		if on.Load() {
			return always(t)
		}
		return client.LevelSilence, false
	}
}
