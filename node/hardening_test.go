package node_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/node"
	"github.com/switchyard/switchyard/node/nodetest"
	"github.com/switchyard/switchyard/node/signal"
)

// rawPeer is a participant built by hand from a WebSocket and a pion
// PeerConnection, for the misbehaviours the real client would not commit.
type rawPeer struct {
	*wsConn
	pc   *webrtc.PeerConnection
	id   string
	msgs chan signal.Message // what the node sent after the answer, but candidates
	gone chan struct{}       // closed when the node closes signaling
}

func loopbackAPI(t *testing.T) *webrtc.API {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))
}

// rawOptions adapt connectRawWith: api builds the PeerConnection (nil:
// loopbackAPI), setup runs on it before the offer, and onMessage gets every
// node message but the first answer and candidates, on the reading
// goroutine (nil: they are queued in rawPeer.msgs).
type rawOptions struct {
	api       *webrtc.API
	setup     func(pc *webrtc.PeerConnection)
	onMessage func(w *wsConn, m signal.Message)
}

// connectRaw joins room and completes the first offer/answer with a
// receive-only PeerConnection, then waits until it is connected.
func connectRaw(t *testing.T, n *node.Node, room, name string) *rawPeer {
	return connectRawWith(t, n, room, name, rawOptions{})
}

func connectRawWith(t *testing.T, n *node.Node, room, name string, o rawOptions) *rawPeer {
	t.Helper()
	w := dialWS(t, n)
	w.send(fmt.Sprintf(`{"type":"join","room":%q,"name":%q}`, room, name))
	joined, err := w.next(signal.TypeJoined)
	if err != nil {
		t.Fatalf("%s: no joined: %v", name, err)
	}
	api := o.api
	if api == nil {
		api = loopbackAPI(t)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	if o.setup != nil {
		o.setup(pc)
	}
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	connected := make(chan struct{})
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	w.sendJSON(signal.Message{Type: signal.TypeOffer, SDP: pc.LocalDescription().SDP})
	// One reader from here on: the node may trickle candidates before its
	// answer, so they wait until the answer is applied.
	p := &rawPeer{wsConn: w, pc: pc, id: joined.ID, msgs: make(chan signal.Message, 64), gone: make(chan struct{})}
	answered := make(chan error, 1)
	go func() {
		defer close(p.gone)
		_ = w.c.SetReadDeadline(time.Time{})
		var early []webrtc.ICECandidateInit
		haveAnswer := false
		for {
			var m signal.Message
			if err := w.c.ReadJSON(&m); err != nil {
				if !haveAnswer {
					answered <- err
				}
				return
			}
			switch {
			case m.Type == signal.TypeAnswer && !haveAnswer:
				err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP})
				haveAnswer = true
				for _, c := range early {
					_ = pc.AddICECandidate(c)
				}
				answered <- err
			case m.Type == signal.TypeCandidate && m.Candidate != nil:
				c := webrtc.ICECandidateInit{Candidate: m.Candidate.Candidate,
					SDPMid: m.Candidate.SDPMid, SDPMLineIndex: m.Candidate.SDPMLineIndex}
				if !haveAnswer {
					early = append(early, c)
				} else {
					_ = pc.AddICECandidate(c)
				}
			case o.onMessage != nil:
				o.onMessage(w, m)
			default:
				select {
				case p.msgs <- m:
				default:
				}
			}
		}
	}()
	select {
	case err := <-answered:
		if err != nil {
			t.Fatalf("%s: answer: %v", name, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no answer after 10s", name)
	}
	select {
	case <-connected:
		return p
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: media connection not up after 10s (state %s)", name, pc.ConnectionState())
		return nil
	}
}

func (w *wsConn) sendJSON(m signal.Message) {
	w.t.Helper()
	if err := w.c.WriteJSON(m); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

// A client that closes its PeerConnection and keeps its WebSocket open is
// gone: it must not hold its place for ever.
func TestClosedPeerConnectionRemoved(t *testing.T) {
	n := nodetest.Start(t, func(c *node.Config) { c.GoneAfter = time.Second })
	p := connectRaw(t, n, "zombies", "zed")
	if _, ok := findParticipant(n, "zombies", p.id); !ok {
		t.Fatal("zed is not listed after connecting")
	}
	closedAt := time.Now()
	if err := p.pc.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the node to remove a participant whose PeerConnection closed", func() (bool, string) {
		_, ok := findParticipant(n, "zombies", p.id)
		return !ok, fmt.Sprintf("still listed %v after the close", time.Since(closedAt).Round(time.Millisecond))
	})
	// The node ends its signaling too.
	select {
	case <-p.gone:
	case <-time.After(3 * time.Second):
		t.Fatal("signaling stayed open")
	}
	t.Logf("removed %v after the client closed its PeerConnection", time.Since(closedAt).Round(time.Millisecond))
}

// A thousand joins that never send an offer, from one address, must not
// lock anyone else out; they time out and give their places back.
func TestOfferlessJoinsDoNotLockOut(t *testing.T) {
	n := nodetest.Start(t, func(c *node.Config) {
		c.LimitLoopback = true // every client of this test is on loopback
		c.OfferTimeout = 2 * time.Second
		c.MaxParticipants = 50
		c.MaxRooms = 10
	})
	base := strings.TrimPrefix(n.URL(), "http://")
	_, port, _ := net.SplitHostPort(base)
	attacker := &websocket.Dialer{
		NetDialContext:   (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext,
		HandshakeTimeout: 5 * time.Second,
	}
	url := "ws://127.0.0.1:" + port + "/ws"
	var held []*websocket.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	var joined, refusedConn, refusedJoin int
	start := time.Now()
	for i := range 1000 {
		c, resp, err := attacker.Dial(url, nil)
		if err != nil {
			if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
				refusedConn++
				continue
			}
			t.Fatalf("attacker connection %d: %v", i, err)
		}
		held = append(held, c)
		_ = c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"type":"join","room":"flood-%d","name":"x"}`, i)))
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		var m signal.Message
		if err := c.ReadJSON(&m); err == nil {
			switch {
			case m.Type == signal.TypeJoined:
				joined++
			case m.Code == signal.CodeRateLimited:
				refusedJoin++
			}
		}
	}
	elapsed := time.Since(start)
	t.Logf("attacker from 127.0.0.2 in %v: %d of 1000 joined, %d joins and %d connections refused",
		elapsed.Round(time.Millisecond), joined, refusedJoin, refusedConn)
	// join_burst (10) plus join_rate (2/s) over the run, and a little slack.
	if limit := 10 + int(2*elapsed.Seconds()) + 2; joined > limit {
		t.Errorf("%d offerless joins from one address got in, want at most %d", joined, limit)
	}
	if refusedJoin+refusedConn == 0 {
		t.Error("the per-address limits refused nothing")
	}
	// Connections that never join, from a third address: past
	// connections_per_address they are refused at the door.
	idler := &websocket.Dialer{
		NetDialContext:   (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}}).DialContext,
		HandshakeTimeout: 5 * time.Second,
	}
	var idle, idleRefused int
	for range 100 {
		c, resp, err := idler.Dial(url, nil)
		if err != nil {
			if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
				idleRefused++
				continue
			}
			t.Fatalf("idle connection: %v", err)
		}
		held = append(held, c)
		idle++
	}
	if idle != node.DefaultConfig().ConnsPerAddress || idleRefused != 100-idle {
		t.Errorf("100 idle connections from one address: %d held, %d refused; want %d held",
			idle, idleRefused, node.DefaultConfig().ConnsPerAddress)
	}
	// A legitimate participant from another address gets in and connects.
	p := connectRaw(t, n, "real-meeting", "alice")
	if _, ok := findParticipant(n, "real-meeting", p.id); !ok {
		t.Fatal("alice is not listed")
	}
	// The offerless joins are dropped after the offer timeout.
	waitFor(t, 6*time.Second, "offerless participants to be removed", func() (bool, string) {
		snap := n.Snapshot()
		return len(snap.Conferences) == 1, fmt.Sprintf("%d conferences", len(snap.Conferences))
	})
}

// Many offerless joins from different rooms cannot fill the node's room
// and participant limits: only participants past their offer count.
func TestPendingDoNotCount(t *testing.T) {
	n := nodetest.Start(t, func(c *node.Config) { c.MaxRooms = 3; c.MaxParticipants = 3; c.MaxPending = 40 })
	for i := range 30 {
		w := dialWS(t, n)
		w.send(fmt.Sprintf(`{"type":"join","room":"idle-%d","name":"x"}`, i))
		if _, err := w.next(signal.TypeJoined); err != nil {
			t.Fatalf("offerless join %d: %v", i, err)
		}
	}
	p := connectRaw(t, n, "busy", "bob")
	if _, ok := findParticipant(n, "busy", p.id); !ok {
		t.Fatal("bob is not listed")
	}
}

// A signaling connection that never joins is closed after join_timeout.
func TestJoinTimeout(t *testing.T) {
	n := nodetest.Start(t, func(c *node.Config) { c.JoinTimeout = 500 * time.Millisecond })
	w := dialWS(t, n)
	start := time.Now()
	m, err := w.next(signal.TypeError)
	if err != nil {
		t.Fatalf("no error before the close: %v", err)
	}
	if m.Code != signal.CodeTimeout || !m.Fatal {
		t.Fatalf("got %+v, want a fatal %q error", m, signal.CodeTimeout)
	}
	if _, err := w.next("never"); err == nil {
		t.Fatal("connection still open")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("closed after %v, join_timeout is 500ms", d)
	}
}

// A participant that joined and never offered is removed after offer_timeout.
func TestOfferTimeout(t *testing.T) {
	n := nodetest.Start(t, func(c *node.Config) { c.OfferTimeout = 500 * time.Millisecond })
	w := dialWS(t, n)
	w.send(`{"type":"join","room":"slow","name":"sloth"}`)
	if _, err := w.next(signal.TypeJoined); err != nil {
		t.Fatal(err)
	}
	w.wantError(signal.CodeTimeout, true)
	waitFor(t, 3*time.Second, "the room to go", func() (bool, string) {
		snap := n.Snapshot()
		_, ok := snap.Find("slow")
		return !ok, "room still listed"
	})
}

// Idle keep-alive HTTP connections are closed.
func TestHTTPIdleTimeout(t *testing.T) {
	n := nodetest.Start(t, func(c *node.Config) { c.HTTPIdleTimeout = 300 * time.Millisecond })
	conn, err := net.Dial("tcp", strings.TrimPrefix(n.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /api/v1/node HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := br.ReadByte(); err == nil || isTimeout(err) {
		t.Fatalf("idle keep-alive connection not closed by the node (read: %v)", err)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// An offer the node cannot take leaves the session able to send another.
func TestRejectedOfferThenGoodOffer(t *testing.T) {
	n := nodetest.Start(t, nil)
	w := dialWS(t, n)
	w.send(`{"type":"join","room":"retry","name":"ann"}`)
	if _, err := w.next(signal.TypeJoined); err != nil {
		t.Fatal(err)
	}
	pc, err := loopbackAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	// The same offer without its DTLS fingerprint parses but cannot be answered.
	var bad []string
	for _, l := range strings.Split(offer.SDP, "\r\n") {
		if !strings.HasPrefix(l, "a=fingerprint:") {
			bad = append(bad, l)
		}
	}
	w.sendJSON(signal.Message{Type: signal.TypeOffer, SDP: strings.Join(bad, "\r\n")})
	m, err := w.next(signal.TypeError)
	if err != nil || m.Code != signal.CodeBadSDP || m.Fatal {
		t.Fatalf("offer without fingerprint: got %+v, %v; want a bad-sdp error", m, err)
	}
	t.Logf("offer without fingerprint: %s", m.Reason)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	w.sendJSON(signal.Message{Type: signal.TypeOffer, SDP: offer.SDP})
	for {
		m, err := w.next("")
		if err != nil {
			t.Fatalf("no answer to a good offer after a rejected one: %v", err)
		}
		if m.Type == signal.TypeAnswer {
			break
		}
		if m.Type == signal.TypeError {
			t.Fatalf("good offer after a rejected one: %s %s", m.Code, m.Reason)
		}
	}
}

// Joins and leaves of one room from many goroutines never split it: every
// participant that got "joined" is in the one room the node lists.
func TestJoinLeaveRace(t *testing.T) {
	n := nodetest.Start(t, func(c *node.Config) { c.MaxRoomSize = 200 })
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				if ctx.Err() != nil {
					return
				}
				c, _, err := websocket.DefaultDialer.Dial(wsURL(n), nil)
				if err != nil {
					errs <- err
					return
				}
				_ = c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"type":"join","room":"race","name":"g%d-%d"}`, g, i)))
				var m signal.Message
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if err := c.ReadJSON(&m); err != nil || m.Type != signal.TypeJoined {
					errs <- fmt.Errorf("join %d/%d: %v %+v", g, i, err, m)
					c.Close()
					return
				}
				if !n.InRoom("race", m.ID) {
					errs <- fmt.Errorf("participant %s joined a room the node does not list as race", m.ID)
				}
				c.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestICETCPIdleConnectionsDropped: connections to the ICE-TCP port that
// send nothing, or a STUN binding no participant claims, are closed within
// seconds (pion's default holds each for 30 s, a goroutine and buffers
// apiece, for anyone who connects).
func TestICETCPIdleConnectionsDropped(t *testing.T) {
	n := nodetest.Start(t, nil)
	addr := n.MediaTCPAddr()
	if addr == "" {
		t.Fatal("the node has no ICE-TCP port")
	}
	// An ICE-TCP framed (RFC 4571) STUN binding request with a username
	// nobody has.
	msg, err := stun.Build(stun.BindingRequest, stun.TransactionID, stun.NewUsername("nobody:none"), stun.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	framed := append([]byte{byte(len(msg.Raw) >> 8), byte(len(msg.Raw))}, msg.Raw...)
	for _, tc := range []struct {
		name  string
		send  []byte
		limit time.Duration
	}{
		{"silent", nil, 8 * time.Second},
		{"unclaimed STUN binding", framed, 14 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if tc.send != nil {
				if _, err := c.Write(tc.send); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			_ = c.SetReadDeadline(start.Add(tc.limit))
			buf := make([]byte, 512)
			for {
				if _, err := c.Read(buf); err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						t.Fatalf("the node still holds the connection after %v", tc.limit)
					}
					t.Logf("closed by the node after %v (%v)", time.Since(start).Round(100*time.Millisecond), err)
					return
				}
			}
		})
	}
}
