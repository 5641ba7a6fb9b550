package media

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/media/codec"
	"github.com/switchyard/switchyard/media/dedup"
	"github.com/switchyard/switchyard/media/rtxguard"
)

// stormWriter counts what a receiver is sent and remembers the newest
// sequence number, as the receiver would.
type stormWriter struct {
	packets, bytes int
	newest         uint16
}

func (w *stormWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if w.packets == 0 || int16(h.SequenceNumber-w.newest) > 0 {
		w.newest = h.SequenceNumber
	}
	w.packets++
	w.bytes += len(payload) + 12
	return len(payload), nil
}
func (w *stormWriter) Write(b []byte) (int, error) { return len(b), nil }

type stormBind struct {
	bindContext
	w *stormWriter
}

func (c stormBind) WriteStream() webrtc.TrackLocalWriter { return c.w }

// stormRig is a 250 packet/s video track (2.3 Mbit/s) sent to two receivers
// on a simulated clock.
type stormRig struct {
	up      *UpTrack
	now     time.Time
	nextPkt time.Time
	sent    int
	vp8     codec.VP8
	win     dedup.Window
	pkt     rtp.Packet
	downs   []*DownTrack
	ws      []*stormWriter
}

const stormPacketGap = 4 * time.Millisecond

func newStormRig(tb testing.TB, receivers int) *stormRig {
	r := &stormRig{up: NewUpTrack(UpTrackConfig{Publisher: "pub", Kind: KindVideo, Codec: vp8Codec})}
	r.up.layers[0].present.Store(true)
	r.now = r.up.epoch.Add(time.Second)
	r.nextPkt = r.now
	for i := range receivers {
		d := NewDownTrack(r.up)
		d.now = func() time.Time { return r.now }
		d.SetRetransmitBudget(nil) // a default one made on the simulated clock
		w := &stormWriter{}
		if _, err := d.Bind(stormBind{bindContext: bindContext{ssrc: webrtc.SSRC(500 + i)}, w: w}); err != nil {
			tb.Fatal(err)
		}
		d.SetTarget(0)
		r.up.AddSink(d)
		r.downs, r.ws = append(r.downs, d), append(r.ws, w)
	}
	r.pkt = vp8Packet(0, 0, 0, true)
	return r
}

// advance moves the clock by dt, publishing the packets due.
func (r *stormRig) advance(dt time.Duration) {
	r.now = r.now.Add(dt)
	for !r.nextPkt.After(r.now) {
		p := &r.pkt
		p.SequenceNumber = uint16(r.sent)
		p.Timestamp = uint32(r.sent/8) * 3000 // 8 packets a frame, 30 fps
		p.Marker = r.sent%8 == 7
		key := r.sent == 0
		p.Payload[5] = 0x01
		if key {
			p.Payload[5] = 0x00
		}
		r.up.handle(0, p, &r.vp8, &r.win, r.nextPkt)
		r.sent++
		r.nextPkt = r.nextPkt.Add(stormPacketGap)
	}
}

// stormNACK fills nack with the 512 sequence numbers up to newest, 16 to a pair.
func stormNACK(nack *rtcp.TransportLayerNack, newest uint16) {
	first := newest - 511
	for i := range nack.Nacks {
		nack.Nacks[i] = rtcp.NackPair{PacketID: first + uint16(16*i), LostPackets: 0x7fff}
	}
}

// TestNACKStorm: a receiver NACKs the last 512 packets of its video 200 times
// a second. What it gets resent stays within its budget (Burst + max(floor,
// a quarter of what it is forwarded)), while another receiver's NACK for one
// packet it lost is answered.
func TestNACKStorm(t *testing.T) {
	r := newStormRig(t, 2)
	storm, honest := r.downs[0], r.downs[1]
	sw, hw := r.ws[0], r.ws[1]
	r.advance(time.Second) // 250 packets before the storm
	nack := &rtcp.TransportLayerNack{MediaSSRC: 500, Nacks: make([]rtcp.NackPair, 32)}
	const seconds = 3
	var honestSeq uint16
	for i := range seconds * 200 {
		r.advance(5 * time.Millisecond)
		stormNACK(nack, sw.newest)
		storm.HandleRTCP([]rtcp.Packet{nack})
		if i == 300 { // mid-storm, the other receiver lost one packet
			honestSeq = hw.newest - 3
			honest.HandleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: 501,
				Nacks: []rtcp.NackPair{{PacketID: honestSeq}}}})
		}
	}
	if got := honest.Retransmits.Load(); got != 1 {
		t.Errorf("the honest receiver's NACK for %d: %d retransmissions, want 1", honestSeq, got)
	}

	rtx := int(storm.Retransmits.Load())
	fwdPackets := int(storm.Packets.Load())
	rtxBytes := sw.bytes - int(storm.Bytes.Load())
	// At most Burst's worth (at the larger of the floor and a quarter of the
	// stream's rate), then the larger of the floor and a quarter of what was
	// forwarded over the whole run (1 s before the storm), and one packet
	// over in bytes.
	const pktBytes, pktRate = 1112, 250
	burst := rtxguard.DefaultBurst.Seconds()
	maxPackets := int(burst*max(rtxguard.DefaultFloorPackets, rtxguard.DefaultFraction*pktRate) +
		max(rtxguard.DefaultFloorPackets*(seconds+1), rtxguard.DefaultFraction*float64(fwdPackets)))
	maxBytes := int(burst*max(rtxguard.DefaultFloorBytes, rtxguard.DefaultFraction*pktRate*pktBytes) +
		max(rtxguard.DefaultFloorBytes*(seconds+1), rtxguard.DefaultFraction*float64(storm.Bytes.Load())) + pktBytes)
	t.Logf("storm: %d NACKed, %d forwarded, %d resent (%d bytes; limits %d, %d bytes); refused: %d unknown, %d too old, %d duplicate, %d over budget, %d not cached",
		storm.NACKed.Load(), fwdPackets, rtx, rtxBytes, maxPackets, maxBytes,
		storm.RetransmitsRefused[rtxguard.Unknown].Load(), storm.RetransmitsRefused[rtxguard.TooOld].Load(),
		storm.RetransmitsRefused[rtxguard.Duplicate].Load(), storm.RetransmitsRefused[rtxguard.OverBudget].Load(),
		storm.RetransmitsRefused[rtxguard.NotCached].Load())
	if rtx > maxPackets || rtxBytes > maxBytes {
		t.Errorf("the storming receiver was resent %d packets, %d bytes; its budget is %d packets, %d bytes",
			rtx, rtxBytes, maxPackets, maxBytes)
	}
	if rtx < fwdPackets/8 {
		t.Errorf("the storming receiver was resent %d packets: its budget allows it repairs too", rtx)
	}
}

// BenchmarkHandleRTCPStorm is one NACK of a storm: the last 512 packets, in
// 32 pairs, every 5 ms of a 250 packet/s stream. It reports the time spent in
// HandleRTCP per pair and the retransmissions per storm second.
func BenchmarkHandleRTCPStorm(b *testing.B) {
	r := newStormRig(b, 1)
	d, w := r.downs[0], r.ws[0]
	r.advance(time.Second)
	nack := &rtcp.TransportLayerNack{MediaSSRC: 500, Nacks: make([]rtcp.NackPair, 32)}
	pkts := []rtcp.Packet{nack}
	rtx0 := d.Retransmits.Load()
	var spent time.Duration
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		r.advance(5 * time.Millisecond)
		stormNACK(nack, w.newest)
		t0 := time.Now()
		d.HandleRTCP(pkts)
		spent += time.Since(t0)
		n++
	}
	b.ReportMetric(float64(spent.Nanoseconds())/float64(n*len(nack.Nacks)), "ns/NACK-pair")
	b.ReportMetric(float64(d.Retransmits.Load()-rtx0)/(float64(n)*0.005), "rtx/storm-s")
}
