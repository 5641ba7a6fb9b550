package media

import (
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/media/rtxguard"
	"github.com/switchyard/switchyard/media/twcc"
)

// twccWriter is a DownTrack's writer as the node has it: the node's
// transport-wide CC interceptor, which adds its extension to every header
// written, in front of a writer that counts the packets and the
// extensions it sees.
type twccWriter struct {
	w              interceptor.RTPWriter
	packets, extOK int
}

func newTWCCWriter(t *testing.T) *twccWriter {
	t.Helper()
	i, err := (&twcc.Factory{Sender: twcc.NewSender()}).NewInterceptor("")
	if err != nil {
		t.Fatal(err)
	}
	tw := &twccWriter{}
	info := &interceptor.StreamInfo{RTPHeaderExtensions: []interceptor.RTPHeaderExtension{{URI: twcc.URI, ID: 5}}}
	tw.w = i.BindLocalStream(info, interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, _ interceptor.Attributes) (int, error) {
		tw.packets++
		if len(h.Extensions) == 1 && len(h.GetExtension(5)) == 2 {
			tw.extOK++
		}
		return len(payload), nil
	}))
	return tw
}

func (tw *twccWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	return tw.w.Write(h, payload, nil)
}
func (tw *twccWriter) Write(b []byte) (int, error) { return len(b), nil }

// TestWriteThroughTWCCDoesNotAllocate: forwarded packets, retransmissions
// on RTX and padding go through the transport-wide CC interceptor, which
// adds an extension to the header the DownTrack hands it, without
// allocating, and each carries exactly the one extension (none is left
// from the packet before).
func TestWriteThroughTWCCDoesNotAllocate(t *testing.T) {
	r := newRTXRig(t, []webrtc.RTPCodecParameters{vp8Codec, vp8RTXCodec}, testRTXSSRC)
	sent := r.forwardAcrossSwitch(t)
	tw := newTWCCWriter(t)
	r.d.mu.Lock()
	r.d.writer = tw
	r.d.mu.Unlock()

	// Layer h, continued from forwardAcrossSwitch, one packet rewritten in
	// place (building one allocates).
	p := vp8Packet(0, 0, 0, false)
	i := 40
	allocs := testing.AllocsPerRun(100, func() {
		pid := uint16(100 + i)
		p.SequenceNumber, p.Timestamp = uint16(21000+i), uint32(90000+3000*i)
		p.Payload[2], p.Payload[3] = 0x80|byte(pid>>8), byte(pid)
		r.up.handle(1, &p, &r.vp8[1], &r.win[1], r.now.Add(time.Duration(i)*33*time.Millisecond))
		i++
	})
	if allocs != 0 {
		t.Errorf("forwarding through the TWCC interceptor allocates %.1f times per packet", allocs)
	}

	r.d.SetRetransmitBudget(rtxguard.NewBudget(rtxguard.BudgetConfig{FloorPackets: 1e9, FloorBytes: 1e12}, time.Now()))
	nack := &rtcp.TransportLayerNack{MediaSSRC: testSSRC, Nacks: make([]rtcp.NackPair, 1)}
	pkts := []rtcp.Packet{nack}
	clock := r.now.Add(1300 * time.Millisecond)
	r.d.now = func() time.Time { return clock }
	r.d.SetRTT(rtxguard.MinRTT)
	k := 0
	before := tw.packets
	allocs = testing.AllocsPerRun(100, func() {
		clock = clock.Add(1500 * time.Microsecond)
		nack.Nacks[0].PacketID = sent[len(sent)-20+k%20].SequenceNumber
		k++
		r.d.HandleRTCP(pkts)
	})
	if tw.packets-before != k {
		t.Fatalf("%d of %d NACKs were answered", tw.packets-before, k)
	}
	if allocs != 0 {
		t.Errorf("a retransmission through the TWCC interceptor allocates %.1f times", allocs)
	}
	if allocs = testing.AllocsPerRun(100, func() { r.d.SendPadding(600) }); allocs != 0 {
		t.Errorf("padding through the TWCC interceptor allocates %.1f times", allocs)
	}
	if tw.packets < 300 || tw.extOK != tw.packets {
		t.Errorf("%d packets written, %d of them with exactly the one TWCC extension", tw.packets, tw.extOK)
	}
}
