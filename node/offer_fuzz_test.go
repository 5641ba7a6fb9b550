package node

import (
	"testing"

	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/node/signal"
)

// FuzzClientOffer feeds what a client may send as its offer through the
// node's checks and into pion, as handleOffer does: no input may panic.
func FuzzClientOffer(f *testing.F) {
	f.Add("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
		"a=fingerprint:sha-256 00:11\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n")
	f.Add("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n" +
		"a=mid:v\r\na=rid:q send\r\na=rid:h send\r\na=simulcast:send q;h\r\na=rtpmap:96 VP8/90000\r\n")
	me, err := mediaEngine(true)
	if err != nil {
		f.Fatal(err)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me))
	f.Fuzz(func(t *testing.T, sdp string) {
		if len(sdp) > signal.MaxSDPLen || signal.CheckSDP(sdp) != nil {
			return
		}
		pc, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		if pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}) != nil {
			return
		}
		if answer, err := pc.CreateAnswer(nil); err == nil {
			_ = pc.SetLocalDescription(answer)
		}
	})
}
