package node

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/stats"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/internal/pionlog"
	"github.com/switchyard/switchyard/media/red"
	"github.com/switchyard/switchyard/media/rtcpreport"
	"github.com/switchyard/switchyard/media/twcc"
)

// Header extension URIs the node negotiates.
const (
	extAudioLevel = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
	extTWCC       = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
)

// mediaEngine lists what the node accepts and sends: Opus (and, withRED,
// Opus with RED redundancy, RFC 2198), VP8 and H.264 with RTX.
func mediaEngine(withRED bool) (*webrtc.MediaEngine, error) {
	m := &webrtc.MediaEngine{}
	videoFB := []webrtc.RTCPFeedback{
		{Type: "goog-remb"}, {Type: "transport-cc"}, {Type: "ccm", Parameter: "fir"},
		{Type: "nack"}, {Type: "nack", Parameter: "pli"},
	}
	codecs := []struct {
		kind webrtc.RTPCodecType
		c    webrtc.RTPCodecParameters
	}{
		{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
				SDPFmtpLine: "minptime=10;useinbandfec=1", RTCPFeedback: []webrtc.RTCPFeedback{{Type: "transport-cc"}}},
			PayloadType: 111}},
		// After Opus, so that the node's own offers put plain Opus first;
		// preferRED puts it first in answers to publishers that offer it.
		{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: red.MimeType, ClockRate: 48000, Channels: 2,
				SDPFmtpLine: "111/111"},
			PayloadType: 63}},
		{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFB},
			PayloadType:        96}},
		{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=96"},
			PayloadType:        97}},
		{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
				SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", RTCPFeedback: videoFB},
			PayloadType: 102}},
		{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=102"},
			PayloadType:        103}},
	}
	for _, c := range codecs {
		if !withRED && c.c.MimeType == red.MimeType {
			continue
		}
		if err := m.RegisterCodec(c.c, c.kind); err != nil {
			return nil, fmt.Errorf("register %s: %w", c.c.MimeType, err)
		}
	}
	exts := []struct {
		uri   string
		kinds []webrtc.RTPCodecType
	}{
		{"urn:ietf:params:rtp-hdrext:sdes:mid", []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo}},
		{"urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id", []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo}},
		{"urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id", []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo}},
		{extAudioLevel, []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio}},
		{extTWCC, []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo}},
	}
	for _, e := range exts {
		for _, k := range e.kinds {
			if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, k); err != nil {
				return nil, fmt.Errorf("register extension %s: %w", e.uri, err)
			}
		}
	}
	return m, nil
}

// preferRED puts RED ahead of the other audio codecs of pc's receiving
// transceivers, when the remote offer carried it with its primary among
// them, so that the answer lists it first. A browser sends the first codec
// of the answer, and pion keeps the offer's order (Chromium offers Opus
// first): without this, Chromium would send plain Opus. A client that did
// not offer RED keeps its codecs as they are. Call it between the remote
// offer and the answer.
func preferRED(pc *webrtc.PeerConnection) error {
	for _, t := range pc.GetTransceivers() {
		if t.Kind() != webrtc.RTPCodecTypeAudio || t.Receiver() == nil {
			continue
		}
		codecs := t.Receiver().GetParameters().Codecs
		i := redIndex(codecs)
		if i <= 0 {
			continue // none, or first already
		}
		ordered := make([]webrtc.RTPCodecParameters, 0, len(codecs))
		ordered = append(ordered, codecs[i])
		ordered = append(ordered, codecs[:i]...)
		ordered = append(ordered, codecs[i+1:]...)
		if err := t.SetCodecPreferences(ordered); err != nil {
			return fmt.Errorf("prefer red on mid %s: %w", t.Mid(), err)
		}
	}
	return nil
}

// redIndex is the index of a RED codec whose primary is also negotiated,
// -1 if none.
func redIndex(codecs []webrtc.RTPCodecParameters) int {
	for i, c := range codecs {
		if !strings.EqualFold(c.MimeType, red.MimeType) {
			continue
		}
		pt, ok := red.PrimaryPT(c.SDPFmtpLine)
		if !ok {
			continue
		}
		for _, p := range codecs {
			if p.PayloadType == webrtc.PayloadType(pt) && strings.EqualFold(p.MimeType, webrtc.MimeTypeOpus) {
				return i
			}
		}
	}
	return -1
}

// peerAPI is what one participant's PeerConnection is built from: its own
// interceptors, so that its bandwidth estimator and stats belong to it alone.
type peerAPI struct {
	api   *webrtc.API
	bw    *bandwidth
	stats func() stats.Getter
}

func (n *Node) newPeerAPI() (*peerAPI, error) {
	m, err := mediaEngine(n.cfg.RED != REDOff)
	if err != nil {
		return nil, err
	}
	out := &peerAPI{}
	reg, err := interceptors(m, n.cfg.InitialBitrate, n.cfg.MaxBitrate, out, n.log)
	if err != nil {
		return nil, err
	}

	se := webrtc.SettingEngine{LoggerFactory: pionlog.Factory{Logger: n.log}}
	se.SetICEUDPMux(n.udpMux)
	types := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if n.tcpMux != nil {
		// Passive TCP candidates on the one TCP port, for clients whose UDP
		// is blocked and who have no TURN.
		se.SetICETCPMux(n.tcpMux)
		types = append(types, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(types)
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetLite(true)
	setSRTPProfiles(&se)
	se.SetICETimeouts(3*time.Second, 6*time.Second, time.Second)
	mediaIP := net.ParseIP(n.cfg.MediaIP)
	se.SetIPFilter(func(ip net.IP) bool { return mediaIP.IsUnspecified() || ip.Equal(mediaIP) })
	se.SetRemoteIPFilter(func(ip net.IP) bool { return n.allowedRemote(ip) })
	if n.cfg.PublicIP != "" {
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        []string{n.cfg.PublicIP},
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteReplace,
		}); err != nil {
			return nil, fmt.Errorf("public ip: %w", err)
		}
	}
	out.api = webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	return out, nil
}

// interceptors is the pion interceptor chain of every PeerConnection: stats,
// NACK generation, RTCP reports, transport-wide CC feedback for what the
// participant sends, and the node's own transport-wide CC send side feeding
// its bandwidth estimator. It fills out's stats getter and estimator.
func interceptors(m *webrtc.MediaEngine, initialBitrate, maxBitrate int, out *peerAPI, log *slog.Logger) (*interceptor.Registry, error) {
	reg := &interceptor.Registry{}

	// The node's own send side of transport-wide congestion control:
	// numbering, send records and feedback for its estimator. Registered
	// first, it is the innermost on the way out: it numbers every packet
	// the chain sends (retransmissions and padding come from the down
	// tracks above it), and the stats interceptor sees each header before
	// the extension is added, so it has none to copy (a copy was an
	// allocation per packet).
	out.bw = newBandwidth(initialBitrate, maxBitrate)
	reg.Add(&twcc.Factory{Sender: out.bw.sender, Handler: out.bw, Log: log})

	// Stats next: it must see the sender reports the report interceptor
	// writes, or it cannot compute RTT from receiver reports.
	var getter stats.Getter
	sf, err := stats.NewInterceptor()
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	sf.OnNewPeerConnection(func(_ string, g stats.Getter) { getter = g })
	reg.Add(sf)
	out.stats = func() stats.Getter { return getter }

	gen, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return nil, fmt.Errorf("nack generator: %w", err)
	}
	reg.Add(gen)
	// Sender and receiver reports, one compound packet per interval.
	reg.Add(&rtcpreport.Factory{Log: log})
	if err := webrtc.ConfigureTWCCSender(m, reg); err != nil {
		return nil, fmt.Errorf("twcc sender: %w", err)
	}
	return reg, nil
}

// allowedRemote reports whether the node may check a client's candidate
// address: within media.allowed_networks or, when that is empty, loopback
// for a node on loopback and every unicast address but loopback and
// link-local for a node on a public address.
func (n *Node) allowedRemote(ip net.IP) bool {
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	addr = addr.Unmap()
	if addr.IsUnspecified() || addr.IsMulticast() {
		return false
	}
	if len(n.allowed) == 0 {
		if mediaIP, err := netip.ParseAddr(n.cfg.MediaIP); err == nil && mediaIP.IsLoopback() {
			return addr.IsLoopback()
		}
		return !addr.IsLoopback() && !addr.IsLinkLocalUnicast()
	}
	for _, p := range n.allowed {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
