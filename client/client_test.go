package client

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/transport/v4"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/linkemu"
	"github.com/switchyard/switchyard/node/signal"
)

// fakeNode is the smallest signaling server that lets a Client publish and
// subscribe: one pion peer per session, answering the client's offer and
// then offering one VP8 track of its own.
type fakeNode struct {
	t *testing.T

	mu         sync.Mutex
	rids       map[string]int // simulcast packets by rid
	audio      int
	audioLevel int // audio packets carrying the level extension
	voiced     int
	left       bool
	pong       *signal.Message
	gotAll     chan struct{}
	gotAllOnce sync.Once
}

func newFakeNode(t *testing.T) (*fakeNode, *httptest.Server) {
	f := &fakeNode{t: t, rids: map[string]int{}, gotAll: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeNode) api() *webrtc.API {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		f.t.Error(err)
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: audioLevelURI},
		webrtc.RTPCodecTypeAudio); err != nil {
		f.t.Error(err)
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		f.t.Error(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
}

func (f *fakeNode) serve(w http.ResponseWriter, r *http.Request) {
	ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		f.t.Errorf("upgrade: %v", err)
		return
	}
	defer ws.Close()
	var wmu sync.Mutex
	send := func(m signal.Message) {
		wmu.Lock()
		defer wmu.Unlock()
		if err := ws.WriteJSON(m); err != nil {
			f.t.Logf("fake node send %s: %v", m.Type, err)
		}
	}
	pc, err := f.api().NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		f.t.Errorf("new pc: %v", err)
		return
	}
	defer pc.Close()
	pc.OnTrack(func(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		levelID := 0
		for _, e := range recv.GetParameters().HeaderExtensions {
			if e.URI == audioLevelURI {
				levelID = e.ID
			}
		}
		go func() {
			for {
				pkt, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				f.mu.Lock()
				if tr.Kind() == webrtc.RTPCodecTypeAudio {
					f.audio++
					if ext := pkt.GetExtension(uint8(levelID)); levelID != 0 && len(ext) == 1 {
						f.audioLevel++
						if ext[0]&0x80 != 0 {
							f.voiced++
						}
					}
				} else {
					f.rids[tr.RID()]++
				}
				all := f.audio > 20 && f.rids["q"] > 20 && f.rids["h"] > 20 && f.rids["f"] > 20
				f.mu.Unlock()
				if all {
					f.gotAllOnce.Do(func() { close(f.gotAll) })
				}
			}
		}()
	})
	local, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "p0")
	if err != nil {
		f.t.Error(err)
		return
	}
	stop := make(chan struct{})
	defer close(stop)
	for {
		var m signal.Message
		if err := ws.ReadJSON(&m); err != nil {
			return
		}
		switch m.Type {
		case signal.TypeJoin:
			send(signal.Message{Type: signal.TypeJoined, ID: "p1", Room: m.Room, Node: "fake",
				Participants: []signal.Participant{{ID: "p0", Name: "other", Node: "fake"}}})
		case signal.TypeOffer:
			if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
				f.t.Errorf("fake node: client offer: %v", err)
				return
			}
			ans, err := pc.CreateAnswer(nil)
			if err != nil {
				f.t.Errorf("fake node: answer: %v", err)
				return
			}
			done := webrtc.GatheringCompletePromise(pc)
			if err := pc.SetLocalDescription(ans); err != nil {
				f.t.Errorf("fake node: set answer: %v", err)
				return
			}
			<-done
			send(signal.Message{Type: signal.TypeAnswer, SDP: pc.LocalDescription().SDP})
			go f.offerTrack(pc, local, send, stop)
		case signal.TypeAnswer:
			if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
				f.t.Errorf("fake node: client answer: %v", err)
				return
			}
			go sendClip(local, stop)
		case signal.TypeCandidate:
			if m.Candidate != nil {
				_ = pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: m.Candidate.Candidate,
					SDPMid: m.Candidate.SDPMid, SDPMLineIndex: m.Candidate.SDPMLineIndex})
			}
		case signal.TypeMessage:
			var p probe
			if json.Unmarshal(m.Payload, &p) == nil && p.Kind == "pong" {
				f.mu.Lock()
				f.pong = &m
				f.mu.Unlock()
				continue
			}
			// Echo anything else back as if from p0, and answer pings as p0.
			if p.Kind == "ping" {
				p.Kind = "pong"
				raw, _ := json.Marshal(p)
				send(signal.Message{Type: signal.TypeMessage, From: "p0", Payload: raw})
				continue
			}
			send(signal.Message{Type: signal.TypeMessage, From: "p0", Payload: m.Payload})
		case signal.TypeConstraints:
		case signal.TypeLeave:
			f.mu.Lock()
			f.left = true
			f.mu.Unlock()
			return
		}
	}
}

// offerTrack renegotiates once the client's media flows: it adds a VP8 track
// from "p0", pings the client and announces a dominant speaker.
func (f *fakeNode) offerTrack(pc *webrtc.PeerConnection, local *webrtc.TrackLocalStaticRTP,
	send func(signal.Message), stop chan struct{}) {
	select {
	case <-f.gotAll:
	case <-stop:
		return
	}
	if _, err := pc.AddTransceiverFromTrack(local,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		f.t.Errorf("fake node: add track: %v", err)
		return
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		f.t.Errorf("fake node: offer: %v", err)
		return
	}
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		f.t.Errorf("fake node: set offer: %v", err)
		return
	}
	<-done
	send(signal.Message{Type: signal.TypeOffer, SDP: pc.LocalDescription().SDP})
	send(signal.Message{Type: signal.TypeMessage, From: "p0", Payload: json.RawMessage(`{"kind":"ping","seq":7,"t":1.5}`)})
	send(signal.Message{Type: signal.TypeDominantSpeaker, ID: "p0"})
}

// sendClip plays the h layer of the test clip on track.
func sendClip(track *webrtc.TrackLocalStaticRTP, stop chan struct{}) {
	cs, err := loadClips()
	if err != nil {
		return
	}
	clip := cs.video[1]
	pz := rtp.NewPacketizer(rtpMTU, ptVP8, 0, &codecs.VP8Payloader{EnablePictureID: true},
		rtp.NewRandomSequencer(), videoClock)
	tick := time.NewTicker(time.Second / videoFPS)
	defer tick.Stop()
	for i := 0; ; i = (i + 1) % len(clip.frames) {
		for _, p := range pz.Packetize(clip.frames[i], videoClock/videoFPS) {
			_ = track.WriteRTP(p)
		}
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

// waitFor polls cond until it holds or d passes; what says what was awaited.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestClientAgainstFakeNode(t *testing.T) {
	link, err := linkemu.NewNet(linkemu.NetConfig{
		Seed: 9,
		Up:   linkemu.Params{Delay: 20 * time.Millisecond, Jitter: 5 * time.Millisecond},
		Down: linkemu.Params{Delay: 20 * time.Millisecond, Loss: 0.02, RateBitsPerSec: 5_000_000},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		net  transport.Net
	}{
		{"host network", nil},
		{"emulated link", link},
	} {
		t.Run(tc.name, func(t *testing.T) { testAgainstFakeNode(t, tc.net) })
	}
	if st := link.Stats(); st.Up.Delivered == 0 || st.Down.Delivered == 0 {
		t.Errorf("the emulated link carried nothing: %+v", st)
	}
}

func testAgainstFakeNode(t *testing.T, net transport.Net) {
	f, srv := newFakeNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Join(ctx, Options{
		URL:  "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws",
		Room: "r", Name: "tester", PublishAudio: true, PublishVideo: true, MaxHeight: 360,
		Net: net,
	})
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	if c.ID() != "p1" || len(c.Participants()) != 1 {
		t.Fatalf("id %q participants %v", c.ID(), c.Participants())
	}

	select {
	case <-f.gotAll:
	case <-time.After(15 * time.Second):
		f.mu.Lock()
		t.Fatalf("fake node did not get all layers and audio in 15 s: rids %v audio %d", f.rids, f.audio)
	}
	f.mu.Lock()
	if f.audioLevel == 0 || f.voiced == 0 {
		t.Errorf("%d audio packets, %d with the level extension, %d voiced", f.audio, f.audioLevel, f.voiced)
	}
	f.mu.Unlock()

	waitFor(t, 15*time.Second, "a 360p keyframe from p0", func() bool {
		s := c.Received()["p0"]
		return s.Keyframes > 0 && s.Height == 360
	})
	s := c.Received()["p0"]
	if s.Width != 640 || s.VideoPackets == 0 || s.BadPayloads != 0 {
		t.Errorf("received from p0: %+v", s)
	}
	n, err := c.Negotiation()
	if err != nil {
		t.Fatal(err)
	}
	if n.Offers != 1 || len(n.Receiving) != 1 || n.Receiving[0] != "p0" {
		t.Errorf("negotiation %+v, want one offer and one track from p0", n)
	}

	waitFor(t, 5*time.Second, "the pong for the node's ping", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.pong != nil
	})
	f.mu.Lock()
	if !strings.Contains(string(f.pong.Payload), `"seq":7`) || f.pong.To != "p0" {
		t.Errorf("pong %+v, want seq 7 to p0", *f.pong)
	}
	f.mu.Unlock()
	waitFor(t, 5*time.Second, "the dominant speaker", func() bool { return c.DominantSpeaker() == "p0" })

	rtt, err := c.Ping(ctx, "p0")
	if err != nil || rtt <= 0 {
		t.Errorf("ping: %v, %v", rtt, err)
	}
	if err := c.Chat("", "hello"); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-c.Messages():
		if m.From != "p0" || !strings.Contains(string(m.Payload), "hello") {
			t.Errorf("message %+v", m)
		}
	case <-time.After(5 * time.Second):
		t.Error("chat echo did not arrive in 5 s")
	}
	sent := c.Sent()
	for i, n := range sent.VideoPackets {
		if n == 0 {
			t.Errorf("no packets sent on layer %s", rids[i])
		}
	}
	if err := c.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	waitFor(t, 5*time.Second, "the leave", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.left
	})
}

func TestJoinRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		var m signal.Message
		_ = ws.ReadJSON(&m)
		_ = ws.WriteJSON(signal.Message{Type: signal.TypeError, Code: signal.CodeRoomFull, Reason: "room is full", Fatal: true})
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Join(ctx, Options{URL: "ws" + strings.TrimPrefix(srv.URL, "http"), Room: "r", Name: "n"})
	if err == nil || !strings.Contains(err.Error(), "room-full") {
		t.Fatalf("join error %v, want room-full", err)
	}
	if _, err := Join(ctx, Options{Room: "r", Name: "n"}); err == nil {
		t.Fatal("join without a URL succeeded")
	}
}
