package node

import (
	"io"
	"log/slog"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

var discardLog = slog.New(slog.DiscardHandler)

// FuzzInterceptorRTCP feeds arbitrary RTCP, as a publisher or a receiver
// could send it, through the interceptor chain every PeerConnection of the
// node reads its RTCP through (stats, reports, NACK, transport-wide CC and
// the node's estimator), with one local and one remote stream bound: an error at
// most, never a panic.
func FuzzInterceptorRTCP(f *testing.F) {
	marshal := func(pkts ...rtcp.Packet) []byte {
		b, err := rtcp.Marshal(pkts)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	const local, remote = 1111, 2222
	f.Add(marshal(&rtcp.ReceiverReport{SSRC: remote, Reports: []rtcp.ReceptionReport{{SSRC: local, LastSenderReport: 1, Delay: 5}}}))
	f.Add(marshal(&rtcp.SenderReport{SSRC: remote, NTPTime: 1 << 40, RTPTime: 9000, PacketCount: 10, OctetCount: 1000}))
	f.Add(marshal(&rtcp.TransportLayerCC{MediaSSRC: local, BaseSequenceNumber: 1, PacketStatusCount: 3,
		PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 3}},
		RecvDeltas:   []*rtcp.RecvDelta{{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta}}}))
	f.Add(marshal(&rtcp.TransportLayerNack{MediaSSRC: local, Nacks: []rtcp.NackPair{{PacketID: 3, LostPackets: 0xffff}}}))
	f.Add(marshal(&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: 1e6, SSRCs: []uint32{local}}, &rtcp.PictureLossIndication{MediaSSRC: local}))
	f.Add(marshal(&rtcp.ExtendedReport{SenderSSRC: remote}))
	f.Add([]byte{0x8f, 0xcd, 0x00, 0x01, 0, 0, 0, 0}) // a feedback cut short

	m, err := mediaEngine(true)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out := &peerAPI{}
		reg, err := interceptors(m, 1_000_000, 4_000_000, out, discardLog)
		if err != nil {
			t.Fatal(err)
		}
		chain, err := reg.Build("fuzz")
		if err != nil {
			t.Fatal(err)
		}
		defer chain.Close()
		chain.BindRTCPWriter(interceptor.RTCPWriterFunc(func(pkts []rtcp.Packet, _ interceptor.Attributes) (int, error) {
			return 0, nil
		}))
		exts := []interceptor.RTPHeaderExtension{{URI: "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01", ID: 5}}
		fb := []interceptor.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "transport-cc"}}
		send := chain.BindLocalStream(&interceptor.StreamInfo{SSRC: local, ClockRate: 90000, MimeType: "video/VP8",
			RTPHeaderExtensions: exts, RTCPFeedback: fb}, interceptor.RTPWriterFunc(func(h *rtp.Header, p []byte, _ interceptor.Attributes) (int, error) {
			return len(p), nil
		}))
		chain.BindRemoteStream(&interceptor.StreamInfo{SSRC: remote, ClockRate: 48000, MimeType: "audio/opus", RTCPFeedback: fb},
			interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
				return 0, a, io.EOF
			}))
		for seq := range uint16(4) {
			if _, err := send.Write(&rtp.Header{Version: 2, SSRC: local, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, PayloadType: 96}, []byte{0x10, 0, 0, 0}, nil); err != nil {
				t.Fatal(err)
			}
		}
		fed := false
		reader := chain.BindRTCPReader(interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
			if fed {
				return 0, a, io.EOF
			}
			fed = true
			return copy(b, data), a, nil
		}))
		buf := make([]byte, 1500)
		_, _, _ = reader.Read(buf, interceptor.Attributes{})
		if g := out.stats(); g != nil {
			_ = g.Get(local)
			_ = g.Get(remote)
		}
		_ = out.bw.Target()
	})
}
