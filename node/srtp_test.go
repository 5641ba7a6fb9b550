package node_test

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/node/nodetest"
)

// TestSRTPProfileGoClient: the Go client offers AEAD_AES_128_GCM first and
// AES_CM_128_HMAC_SHA1_80, and the node, as the DTLS server, selects
// AEAD_AES_128_GCM; so it does for a pion peer with pion's default profiles
// (AEAD_AES_256_GCM first), where only the node's preference picks
// AEAD_AES_128_GCM. The DTLS hellos on the wire show it (pion reports no
// negotiated profile); media flows under it.
func TestSRTPProfileGoClient(t *testing.T) {
	n := nodetest.Start(t, nil)
	var fromNode, fromBob helloSniffer
	sn, err := newSniffNet(&fromNode, &fromBob)
	if err != nil {
		t.Fatal(err)
	}
	pub := join(t, n, "srtp", "alice", publishing)
	sub := join(t, n, "srtp", "bob", func(o *client.Options) { o.Net = sn })
	receivesAt(t, 20*time.Second, sub, pub, 0)
	seen, err := checkNodeProfiles(&fromNode, &fromBob, "bob's handshake with the node")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bob and the node: %s", seen)
	if offers, _ := fromBob.hellos(); len(offers) == 0 || profileNames(offers[0]) != "[AEAD_AES_128_GCM AES_CM_128_HMAC_SHA1_80]" {
		got := "nothing"
		if len(offers) > 0 {
			got = profileNames(offers[0])
		}
		t.Errorf("the Go client offered %s, want [AEAD_AES_128_GCM AES_CM_128_HMAC_SHA1_80]", got)
	}

	// A WHEP viewer on pion's defaults.
	var fromNode2, fromPion helloSniffer
	sn2, err := newSniffNet(&fromNode2, &fromPion)
	if err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNet(sn2)
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	connected := make(chan struct{})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			close(connected)
		}
	})
	r := do(t, http.MethodPost, n.URL()+"/whep/srtp", "application/sdp", "", offerGathered(t, pc))
	if r.status != http.StatusCreated {
		t.Fatalf("WHEP: %d %s", r.status, r.body)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: r.body}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-connected:
	case <-time.After(20 * time.Second):
		t.Fatal("the WHEP viewer did not connect")
	}
	seen, err = checkNodeProfiles(&fromNode2, &fromPion, "a default pion peer's handshake with the node")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("a default pion peer and the node: %s", seen)
}
