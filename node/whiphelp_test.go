package node_test

// Plain pion peers that speak WHIP and WHEP to a node, for the tests: what
// any WebRTC stack would do with the endpoints, with no code of the node's.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/media/codec"
	"github.com/switchyard/switchyard/node"
)

const audioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

// peerAPI builds pion PeerConnections on loopback with the header
// extensions simulcast (mid, rid) and speaker detection (audio level) need.
func peerAPI(t testing.TB) *webrtc.API {
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
	exts := []struct {
		uri   string
		kinds []webrtc.RTPCodecType
	}{
		{sdp.SDESMidURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo}},
		{sdp.SDESRTPStreamIDURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo}},
		{audioLevelURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio}},
	}
	for _, e := range exts {
		for _, k := range e.kinds {
			if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, k); err != nil {
				t.Fatal(err)
			}
		}
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))
}

// offerGathered sets and returns pc's offer with all its candidates.
func offerGathered(t testing.TB, pc *webrtc.PeerConnection) string {
	t.Helper()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return pc.LocalDescription().SDP
}

// httpResult is an answered request, its body read.
type httpResult struct {
	status int
	header http.Header
	body   string
}

func do(t testing.TB, method, url, contentType, token, body string, extra ...string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpResult{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

var locationRE = regexp.MustCompile(`^/(whip|whep)/[A-Za-z0-9._-]+/[A-Za-z0-9_-]{22}$`)

// checkCreated checks a 201 as RFC 9725 has it.
func checkCreated(t testing.TB, r httpResult) {
	t.Helper()
	if r.status != http.StatusCreated {
		t.Fatalf("status %d, want 201: %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/sdp" {
		t.Errorf("Content-Type %q, want application/sdp", ct)
	}
	if loc := r.header.Get("Location"); !locationRE.MatchString(loc) {
		t.Errorf("Location %q is not /whip|whep/<room>/<22-character session id>", loc)
	}
	if et := r.header.Get("ETag"); len(et) < 3 || et[0] != '"' || et[len(et)-1] != '"' {
		t.Errorf("ETag %q is not a quoted entity tag", et)
	}
	if !strings.HasPrefix(r.body, "v=0") || !strings.Contains(r.body, "a=candidate:") {
		t.Errorf("the answer is not an SDP with the node's candidates:\n%s", r.body)
	}
}

// vp8Frame is one made-up VP8 frame in one packet: descriptor with a
// 15-bit picture id, then a keyframe header of the given size, or an
// interframe. The node parses it but never decodes it.
func vp8Frame(pic uint16, key bool, w, h int) []byte {
	p := make([]byte, 120)
	p[0], p[1], p[2], p[3], p[4] = 0x90, 0xc0, 0x80|byte(pic>>8)&0x7f, byte(pic), byte(pic)
	if key {
		copy(p[5:], []byte{0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, byte(w), byte(w >> 8), byte(h), byte(h >> 8)})
	} else {
		p[5] = 0x01
	}
	return p
}

// whipPeer publishes through WHIP from a plain pion PeerConnection: Opus-like
// audio with an audio level driven by talk, and VP8 video in layers named
// as OBS names them ("0" the largest) when there are several.
type whipPeer struct {
	pc       *webrtc.PeerConnection
	offer    string
	audio    *webrtc.TrackLocalStaticRTP
	video    []*webrtc.TrackLocalStaticRTP
	sizes    [][2]int
	audioT   *webrtc.RTPTransceiver
	videoT   *webrtc.RTPTransceiver
	location string
	etag     string
	talk     client.TalkPattern
}

// newWHIPPeer prepares a publisher with video layers of the given sizes,
// largest first, and makes its offer.
func newWHIPPeer(t testing.TB, talk client.TalkPattern, sizes ...[2]int) *whipPeer {
	t.Helper()
	pc, err := peerAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	w := &whipPeer{pc: pc, sizes: sizes, talk: talk}
	w.audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "whip")
	if err != nil {
		t.Fatal(err)
	}
	if w.audioT, err = pc.AddTransceiverFromTrack(w.audio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	for i := range sizes {
		var opts []func(*webrtc.TrackLocalStaticRTP)
		if len(sizes) > 1 {
			opts = append(opts, webrtc.WithRTPStreamID(fmt.Sprint(i)))
		}
		v, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "whip", opts...)
		if err != nil {
			t.Fatal(err)
		}
		w.video = append(w.video, v)
		if i == 0 {
			if w.videoT, err = pc.AddTransceiverFromTrack(v, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
				t.Fatal(err)
			}
		} else if err := w.videoT.Sender().AddEncoding(v); err != nil {
			t.Fatal(err)
		}
	}
	w.offer = offerGathered(t, pc)
	return w
}

// publish POSTs the offer, applies the answer and sends media until the
// test ends.
func (w *whipPeer) publish(t testing.TB, url, token string) {
	t.Helper()
	r := do(t, http.MethodPost, url, "application/sdp", token, w.offer)
	checkCreated(t, r)
	w.location, w.etag = r.header.Get("Location"), r.header.Get("ETag")
	if err := w.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: r.body}); err != nil {
		t.Fatalf("apply the node's answer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		w.send(ctx)
	}()
}

func extID(s *webrtc.RTPSender, uri string) uint8 {
	for _, e := range s.GetParameters().HeaderExtensions {
		if e.URI == uri {
			return uint8(e.ID)
		}
	}
	return 0
}

// send writes 30 video frames a second on each layer (a keyframe every
// half second) and 50 audio packets a second.
func (w *whipPeer) send(ctx context.Context) {
	midV, rid := extID(w.videoT.Sender(), sdp.SDESMidURI), extID(w.videoT.Sender(), sdp.SDESRTPStreamIDURI)
	midA, level := extID(w.audioT.Sender(), sdp.SDESMidURI), extID(w.audioT.Sender(), audioLevelURI)
	start := time.Now()
	video, audio := time.NewTicker(time.Second/30), time.NewTicker(20*time.Millisecond)
	defer video.Stop()
	defer audio.Stop()
	var frame int
	var aseq uint16
	for {
		select {
		case <-ctx.Done():
			return
		case <-video.C:
			for i, tr := range w.video {
				pkt := &rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: uint16(frame),
					Timestamp: uint32(frame * 3000)}, Payload: vp8Frame(uint16(frame), frame%15 == 0, w.sizes[i][0], w.sizes[i][1])}
				if midV != 0 {
					_ = pkt.Header.SetExtension(midV, []byte(w.videoT.Mid()))
				}
				if rid != 0 && len(w.video) > 1 {
					_ = pkt.Header.SetExtension(rid, []byte(tr.RID()))
				}
				_ = tr.WriteRTP(pkt)
			}
			frame++
		case <-audio.C:
			lvl, voice := w.talk(time.Since(start))
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: aseq, Timestamp: uint32(aseq) * 960},
				Payload: []byte{0xfc, 0xff, 0xfe, byte(aseq)}}
			aseq++
			if midA != 0 {
				_ = pkt.Header.SetExtension(midA, []byte(w.audioT.Mid()))
			}
			if level != 0 {
				v := lvl & 0x7f
				if voice {
					v |= 0x80
				}
				_ = pkt.Header.SetExtension(level, []byte{v})
			}
			_ = w.audio.WriteRTP(pkt)
		}
	}
}

// whepPeer watches through WHEP from a plain pion PeerConnection and
// counts what arrives on its two m-lines.
type whepPeer struct {
	pc       *webrtc.PeerConnection
	offer    string
	location string

	mu sync.Mutex
	// by kind ("audio", "video")
	packets   map[string]int
	ssrcs     map[string]map[uint32]bool
	jumps     map[string]int // sequence numbers that went back or skipped more than 100
	maxTSJump map[string]uint32
	keyframes int
	height    int // of the latest VP8 keyframe
	heights   map[int]int
	bad       int // VP8 payloads that did not parse
}

func newWHEPPeer(t testing.TB) *whepPeer {
	t.Helper()
	pc, err := peerAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	w := &whepPeer{pc: pc, packets: map[string]int{}, ssrcs: map[string]map[uint32]bool{},
		jumps: map[string]int{}, maxTSJump: map[string]uint32{}, heights: map[int]int{}}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { w.read(tr) })
	w.offer = offerGathered(t, pc)
	return w
}

func (w *whepPeer) view(t testing.TB, url, token string) {
	t.Helper()
	r := do(t, http.MethodPost, url, "application/sdp", token, w.offer)
	checkCreated(t, r)
	w.location = r.header.Get("Location")
	if err := w.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: r.body}); err != nil {
		t.Fatalf("apply the node's answer: %v", err)
	}
}

func (w *whepPeer) read(tr *webrtc.TrackRemote) {
	kind := tr.Kind().String()
	var last rtp.Header
	have := false
	var vp8 codec.VP8
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		w.mu.Lock()
		w.packets[kind]++
		if w.ssrcs[kind] == nil {
			w.ssrcs[kind] = map[uint32]bool{}
		}
		w.ssrcs[kind][pkt.SSRC] = true
		if have {
			if d := pkt.SequenceNumber - last.SequenceNumber; d == 0 || d > 100 {
				w.jumps[kind]++
			}
			if d := pkt.Timestamp - last.Timestamp; d < 1<<31 {
				w.maxTSJump[kind] = max(w.maxTSJump[kind], d)
			} else {
				w.jumps[kind]++ // timestamps went back
			}
		}
		last, have = pkt.Header, true
		if kind == "video" {
			if err := codec.ParseVP8(pkt.Payload, &vp8); err != nil {
				w.bad++
			} else if vp8.Keyframe {
				w.keyframes++
				w.height = vp8.Height
				w.heights[vp8.Height]++
			}
		}
		w.mu.Unlock()
	}
}

// stats is a copy of what the peer counted.
type whepStats struct {
	audio, video, keyframes, height, bad int
	heights                              map[int]int
	audioSSRCs, videoSSRCs, jumps        int
	maxVideoTSJump                       uint32
}

func (w *whepPeer) stats() whepStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	hs := map[int]int{}
	for k, v := range w.heights {
		hs[k] = v
	}
	return whepStats{audio: w.packets["audio"], video: w.packets["video"], keyframes: w.keyframes, height: w.height,
		bad: w.bad, heights: hs, audioSSRCs: len(w.ssrcs["audio"]), videoSSRCs: len(w.ssrcs["video"]),
		jumps: w.jumps["audio"] + w.jumps["video"], maxVideoTSJump: w.maxTSJump["video"]}
}

func (s whepStats) String() string {
	return fmt.Sprintf("audio %d, video %d packets (%d keyframes, latest height %d, by height %v, %d unparsable), SSRCs %d/%d, %d jumps, max video ts step %d",
		s.audio, s.video, s.keyframes, s.height, s.heights, s.bad, s.audioSSRCs, s.videoSSRCs, s.jumps, s.maxVideoTSJump)
}

// endpoint finds the participant of a kind in room, as the API shows it.
func endpoint(n *node.Node, room, kind string) (id string, ok bool) {
	snap := n.Snapshot()
	conf, found := snap.Find(room)
	if !found {
		return "", false
	}
	for _, p := range conf.Participants {
		if p.Kind == kind {
			return p.ID, true
		}
	}
	return "", false
}

// following says whose audio and video the API shows a WHEP session gets.
func following(n *node.Node, room, id string) (audio, video string) {
	p, ok := findParticipant(n, room, id)
	if !ok {
		return "", ""
	}
	for _, s := range p.Subs {
		switch s.Kind {
		case "audio":
			audio = s.Publisher
		case "video":
			video = s.Publisher
		}
	}
	return audio, video
}
