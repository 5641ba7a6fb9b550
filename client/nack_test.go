package client

import (
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// TestNACKFeedRepaired: of two streams that both miss packet 3, the one
// whose read loop reported 3 repaired on RTX is not NACKed for it; the
// other is.
func TestNACKFeedRepaired(t *testing.T) {
	reg := &interceptor.Registry{}
	feed, err := configureNACK(&webrtc.MediaEngine{}, reg)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := reg.Build("")
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	nacks := make(chan *rtcp.TransportLayerNack, 16)
	chain.BindRTCPWriter(interceptor.RTCPWriterFunc(func(pkts []rtcp.Packet, _ interceptor.Attributes) (int, error) {
		for _, p := range pkts {
			if n, ok := p.(*rtcp.TransportLayerNack); ok {
				nacks <- n
			}
		}
		return 0, nil
	}))
	const repairedSSRC, lostSSRC = 10, 20
	for _, ssrc := range []uint32{repairedSSRC, lostSSRC} {
		info := &interceptor.StreamInfo{SSRC: ssrc, MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
			RTCPFeedback: []interceptor.RTCPFeedback{{Type: "nack"}}}
		seqs := []uint16{1, 2, 4, 5}
		r := chain.BindRemoteStream(info, interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
			h := rtp.Header{Version: 2, SSRC: ssrc, SequenceNumber: seqs[0]}
			seqs = seqs[1:]
			n, err := h.MarshalTo(b)
			return n, a, err
		}))
		buf := make([]byte, 1500)
		for range 4 {
			if _, _, err := r.Read(buf, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	feed.repaired(repairedSSRC, 3)
	feed.repaired(99, 3) // no such stream: ignored

	// Every tick looks at both streams: by the second NACK of the stream
	// that lost 3, the first tick's NACKs are all written.
	deadline := time.After(10 * time.Second)
	for seen := 0; seen < 2; {
		select {
		case n := <-nacks:
			switch n.MediaSSRC {
			case repairedSSRC:
				t.Fatalf("NACK for the stream whose packet 3 was repaired: %v", n.Nacks)
			case lostSSRC:
				if got := n.Nacks; len(got) != 1 || len(got[0].PacketList()) != 1 || got[0].PacketList()[0] != 3 {
					t.Fatalf("NACK %v for the other stream, want one for 3", got)
				}
				seen++
			}
		case <-deadline:
			t.Fatal("no NACKs for the stream that lost packet 3")
		}
	}
}
