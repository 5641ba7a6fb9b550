package client

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/internal/pionlog"
	"github.com/switchyard/switchyard/internal/srtpprofile"
	"github.com/switchyard/switchyard/media/red"
)

// Payload types and header extensions the participant offers, like a browser.
const (
	ptOpus   = 111
	ptVP8    = 96
	ptVP8RTX = 97

	audioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
)

// newAPI builds a pion API for one participant: Opus and VP8 with RTX,
// simulcast and audio-level header extensions, and the interceptors a
// browser runs (NACK both ways, RTCP reports, TWCC both ways, stats). ICE
// gathers on loopback only and never multicasts. The read loops report RTX
// repairs to the NACK generator through the nackFeed.
func newAPI(o *Options) (*webrtc.API, *nackFeed, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1",
		},
		PayloadType: ptOpus,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, nil, fmt.Errorf("client: register opus: %w", err)
	}
	if o.RED {
		if err := m.RegisterCodec(webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: red.MimeType, ClockRate: 48000, Channels: 2,
				SDPFmtpLine: fmt.Sprintf("%d/%d", ptOpus, ptOpus),
			},
			PayloadType: ptRED,
		}, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, nil, fmt.Errorf("client: register red: %w", err)
		}
	}
	videoFB := []webrtc.RTCPFeedback{
		{Type: "ccm", Parameter: "fir"},
		{Type: "nack"}, {Type: "nack", Parameter: "pli"},
		{Type: webrtc.TypeRTCPFBTransportCC},
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFB,
		},
		PayloadType: ptVP8,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, nil, fmt.Errorf("client: register vp8: %w", err)
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: fmt.Sprintf("apt=%d", ptVP8),
		},
		PayloadType: ptVP8RTX,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, nil, fmt.Errorf("client: register rtx: %w", err)
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: audioLevelURI},
		webrtc.RTPCodecTypeAudio); err != nil {
		return nil, nil, fmt.Errorf("client: register audio level: %w", err)
	}
	for _, uri := range []string{sdp.SDESMidURI, sdp.SDESRTPStreamIDURI, sdp.SDESRepairRTPStreamIDURI} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: uri},
			webrtc.RTPCodecTypeVideo); err != nil {
			return nil, nil, fmt.Errorf("client: register %s: %w", uri, err)
		}
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.SDESMidURI},
		webrtc.RTPCodecTypeAudio); err != nil {
		return nil, nil, fmt.Errorf("client: register audio mid: %w", err)
	}

	reg := &interceptor.Registry{}
	// Innermost first: the chain binds in order, so the RTX fix-up sees the
	// NACK responder's retransmissions on their way to the wire, and so does
	// the TWCC numbering (the node's estimator counts them, as a browser's).
	reg.Add(rridFactory{})
	twccExt, err := twcc.NewHeaderExtensionInterceptor()
	if err != nil {
		return nil, nil, fmt.Errorf("client: twcc header extension: %w", err)
	}
	reg.Add(twccExt)
	feed, err := configureNACK(m, reg)
	if err != nil {
		return nil, nil, fmt.Errorf("client: nack: %w", err)
	}
	if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		return nil, nil, fmt.Errorf("client: rtcp reports: %w", err)
	}
	if err := webrtc.ConfigureStatsInterceptor(reg); err != nil {
		return nil, nil, fmt.Errorf("client: stats: %w", err)
	}
	// Feedback for what the node sends us, so its estimator has input.
	if err := webrtc.ConfigureTWCCSender(m, reg); err != nil {
		return nil, nil, fmt.Errorf("client: twcc feedback: %w", err)
	}

	se := webrtc.SettingEngine{}
	if o.Logger != nil {
		se.LoggerFactory = pionlog.Factory{Logger: o.Logger}
	} else {
		se.LoggerFactory = pionlog.Factory{Logger: slog.New(slog.DiscardHandler)}
	}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// The node's SRTP profiles, in its order (AEAD_AES_128_GCM first).
	srtpprofile.Apply(&se)
	switch o.Transport {
	case "tcp":
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	case "relay":
		// Relayed candidates are UDP whatever carries them to the TURN
		// server. With TCP enabled, pion's ICE would also pair the node's
		// passive TCP candidates with active ones of its own, ignoring the
		// relay-only policy.
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	default:
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	}
	if o.Net != nil {
		se.SetNet(o.Net)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg),
		webrtc.WithSettingEngine(se)), feed, nil
}

// rridFactory builds rridInterceptor.
type rridFactory struct{}

func (rridFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &rridInterceptor{}, nil
}

// rridInterceptor moves the rid of a retransmission into the repaired-rid
// extension. pion's NACK responder copies the original header, rid included,
// onto the RTX packet; a receiver that demultiplexes simulcast by rid would
// then take the RTX stream for the layer itself (a browser marks RTX with
// rrid, RFC 8852).
type rridInterceptor struct {
	interceptor.NoOp
}

func (*rridInterceptor) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	if info.SSRCRetransmission == 0 {
		return w
	}
	var ridID, rridID uint8
	for _, e := range info.RTPHeaderExtensions {
		switch e.URI {
		case sdp.SDESRTPStreamIDURI:
			ridID = uint8(e.ID)
		case sdp.SDESRepairRTPStreamIDURI:
			rridID = uint8(e.ID)
		}
	}
	if ridID == 0 {
		return w
	}
	rtx := info.SSRCRetransmission
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if h.SSRC == rtx {
			if rid := h.GetExtension(ridID); rid != nil {
				rid = append([]byte(nil), rid...)
				_ = h.DelExtension(ridID)
				if rridID != 0 {
					// An error leaves the packet without rrid, which a
					// receiver still maps by SSRC if it signalled one.
					_ = h.SetExtension(rridID, rid)
				}
			}
		}
		return w.Write(h, payload, a)
	})
}
