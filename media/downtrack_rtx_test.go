package media

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/media/codec"
	"github.com/switchyard/switchyard/media/dedup"
	"github.com/switchyard/switchyard/media/rtxguard"
)

// h264Codec is downtrack_switch_test.go's.
var (
	vp8RTXCodec = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=96"},
		PayloadType:        97}
	h264RTXCodec = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=102"},
		PayloadType:        103}
)

// rtxBind is a TrackLocalContext with the receiver's codecs and RTX SSRC.
type rtxBind struct {
	bindContext
	w       webrtc.TrackLocalWriter
	codecs  []webrtc.RTPCodecParameters
	rtxSSRC webrtc.SSRC
}

func (c rtxBind) WriteStream() webrtc.TrackLocalWriter                   { return c.w }
func (c rtxBind) CodecParameters() []webrtc.RTPCodecParameters           { return c.codecs }
func (c rtxBind) SSRCRetransmission() webrtc.SSRC                        { return c.rtxSSRC }
func (c rtxBind) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return nil }

const (
	testSSRC    = 4242
	testRTXSSRC = 4343
)

// rtxRig is a VP8 publisher with two layers and one receiver, bound with
// the given codecs and RTX SSRC, with an unlimited retransmission budget.
type rtxRig struct {
	up  *UpTrack
	d   *DownTrack
	w   *recordingWriter
	vp8 [2]codec.VP8
	win [2]dedup.Window
	now time.Time
}

func newRTXRig(t *testing.T, codecs []webrtc.RTPCodecParameters, rtxSSRC webrtc.SSRC) *rtxRig {
	t.Helper()
	r := &rtxRig{up: NewUpTrack(UpTrackConfig{Publisher: "pub", Kind: KindVideo, Codec: vp8Codec}), w: &recordingWriter{}, now: time.Now()}
	r.up.layers[0].present.Store(true)
	r.up.layers[1].present.Store(true)
	r.d = NewDownTrack(r.up)
	if _, err := r.d.Bind(rtxBind{bindContext: bindContext{ssrc: testSSRC}, w: r.w, codecs: codecs, rtxSSRC: rtxSSRC}); err != nil {
		t.Fatal(err)
	}
	r.d.SetRetransmitBudget(rtxguard.NewBudget(rtxguard.BudgetConfig{FloorPackets: 1000, FloorBytes: 1e6}, time.Now()))
	r.up.AddSink(r.d)
	return r
}

// publish sends packet i of a layer; the layers number their packets and
// pictures differently and each payload is told apart, so a wrong mapping
// shows.
func (r *rtxRig) publish(layer, i int, key bool) {
	base := uint16(1000 + 20000*layer)
	p := vp8Packet(base+uint16(i), uint32(90000*layer+3000*i), uint16(100*layer+i), key)
	p.Marker = i%3 == 2
	p.Payload[20] = byte(layer*100 + i)
	r.up.handle(layer, &p, &r.vp8[layer], &r.win[layer], r.now.Add(time.Duration(i)*33*time.Millisecond))
}

// forwardAcrossSwitch forwards q, then h from its keyframe at 25, and
// returns what the receiver was sent.
func (r *rtxRig) forwardAcrossSwitch(t *testing.T) []rtp.Packet {
	t.Helper()
	for i := range 20 {
		r.publish(0, i, i == 0)
		r.publish(1, i, false)
	}
	r.d.SetTarget(1)
	for i := 20; i < 40; i++ {
		r.publish(0, i, false)
		r.publish(1, i, i == 25)
	}
	if cur, _, _ := r.d.Layers(); cur != 1 {
		t.Fatalf("receiver did not switch to h: current %d", cur)
	}
	sent := append([]rtp.Packet(nil), r.w.sent...)
	r.w.sent = nil
	return sent
}

func nackAll(sent []rtp.Packet) *rtcp.TransportLayerNack {
	nack := &rtcp.TransportLayerNack{MediaSSRC: testSSRC}
	for _, p := range sent {
		nack.Nacks = append(nack.Nacks, rtcp.NackPair{PacketID: p.SequenceNumber})
	}
	return nack
}

// TestRetransmitOnRTX: a receiver that negotiated RTX gets every
// retransmission on its RTX SSRC with the RTX payload type, the RTX
// stream's consecutive sequence numbers, the original's timestamp and
// marker, and as payload the sequence number it was sent under (OSN)
// followed by the payload it was sent (picture id and TL0PICIDX rewritten
// as they were), across a layer switch.
func TestRetransmitOnRTX(t *testing.T) {
	r := newRTXRig(t, []webrtc.RTPCodecParameters{vp8Codec, vp8RTXCodec}, testRTXSSRC)
	sent := r.forwardAcrossSwitch(t)
	for _, p := range sent {
		if p.SSRC != testSSRC || p.PayloadType != 96 {
			t.Fatalf("forwarded packet on SSRC %d PT %d, want %d PT 96", p.SSRC, p.PayloadType, testSSRC)
		}
	}
	if !r.d.CanPad() {
		t.Error("CanPad() = false for a receiver with RTX")
	}
	r.d.HandleRTCP([]rtcp.Packet{nackAll(sent)})
	if len(r.w.sent) != len(sent) {
		t.Fatalf("retransmitted %d of %d packets", len(r.w.sent), len(sent))
	}
	first := r.w.sent[0].SequenceNumber
	for i, p := range sent {
		got := r.w.sent[i]
		if got.SSRC != testRTXSSRC || got.PayloadType != 97 {
			t.Errorf("retransmission %d on SSRC %d PT %d, want RTX SSRC %d PT 97", i, got.SSRC, got.PayloadType, testRTXSSRC)
		}
		if want := first + uint16(i); got.SequenceNumber != want {
			t.Errorf("retransmission %d has RTX sequence number %d, want %d", i, got.SequenceNumber, want)
		}
		if got.Timestamp != p.Timestamp || got.Marker != p.Marker || got.Padding {
			t.Errorf("retransmission %d: timestamp %d marker %v padding %v, sent %d %v", i, got.Timestamp, got.Marker, got.Padding, p.Timestamp, p.Marker)
		}
		if len(got.Payload) < 2 {
			t.Fatalf("retransmission %d has a %d-byte payload: no OSN", i, len(got.Payload))
		}
		if osn := binary.BigEndian.Uint16(got.Payload); osn != p.SequenceNumber {
			t.Errorf("retransmission %d: OSN %d, want the sequence number sent, %d", i, osn, p.SequenceNumber)
		}
		if !bytes.Equal(got.Payload[2:], p.Payload) {
			t.Errorf("retransmission %d (OSN %d): payload after the OSN differs from the one sent", i, p.SequenceNumber)
		}
	}
	if got := r.d.Retransmits.Load(); got != uint64(len(sent)) {
		t.Errorf("Retransmits = %d, want %d", got, len(sent))
	}
	// Forwarding goes on on the media SSRC, its sequence numbers untouched
	// by the RTX stream's.
	r.publish(1, 40, false)
	last := r.w.sent[len(r.w.sent)-1]
	if last.SSRC != testSSRC || last.SequenceNumber != sent[len(sent)-1].SequenceNumber+1 {
		t.Errorf("next forwarded packet: SSRC %d seq %d, want %d seq %d",
			last.SSRC, last.SequenceNumber, testSSRC, sent[len(sent)-1].SequenceNumber+1)
	}
}

// TestRTXUnwraps: what the receiver gets on the RTX stream, unwrapped as
// RFC 4588 says (and pion's receiver does), is the packet it lost.
func TestRTXUnwraps(t *testing.T) {
	r := newRTXRig(t, []webrtc.RTPCodecParameters{vp8Codec, vp8RTXCodec}, testRTXSSRC)
	sent := r.forwardAcrossSwitch(t)
	lost := sent[len(sent)-3]
	r.d.HandleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: testSSRC,
		Nacks: []rtcp.NackPair{{PacketID: lost.SequenceNumber}}}})
	if len(r.w.sent) != 1 {
		t.Fatalf("%d packets sent for one NACK", len(r.w.sent))
	}
	wire, err := r.w.sent[0].Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var rtx rtp.Packet
	if err := rtx.Unmarshal(wire); err != nil {
		t.Fatal(err)
	}
	// The receiver's unwrapping: OSN into the header, media SSRC and payload type.
	got := rtp.Packet{Header: rtx.Header, Payload: rtx.Payload[2:]}
	got.SequenceNumber = binary.BigEndian.Uint16(rtx.Payload)
	got.SSRC, got.PayloadType = testSSRC, 96
	if got.SequenceNumber != lost.SequenceNumber || got.Timestamp != lost.Timestamp || got.Marker != lost.Marker ||
		!bytes.Equal(got.Payload, lost.Payload) {
		t.Errorf("unwrapped %+v, lost %+v", got.Header, lost.Header)
	}
}

// TestRetransmitFallsBack: a receiver without RTX, or whose RTX is for
// another codec than the one it is sent, gets retransmissions as the
// original packets on the media SSRC; so does an audio receiver.
func TestRetransmitFallsBack(t *testing.T) {
	for _, tt := range []struct {
		name    string
		codecs  []webrtc.RTPCodecParameters
		rtxSSRC webrtc.SSRC
	}{
		{"no RTX SSRC", []webrtc.RTPCodecParameters{vp8Codec, vp8RTXCodec}, 0},
		{"no RTX codec", []webrtc.RTPCodecParameters{vp8Codec}, testRTXSSRC},
		{"RTX for another codec", []webrtc.RTPCodecParameters{vp8Codec, h264Codec, h264RTXCodec}, testRTXSSRC},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRTXRig(t, tt.codecs, tt.rtxSSRC)
			sent := r.forwardAcrossSwitch(t)
			if r.d.CanPad() {
				t.Error("CanPad() = true without RTX for the codec sent")
			}
			if n := r.d.SendPadding(1000); n != 0 || len(r.w.sent) != 0 {
				t.Errorf("SendPadding sent %d bytes in %d packets without RTX", n, len(r.w.sent))
			}
			r.d.HandleRTCP([]rtcp.Packet{nackAll(sent)})
			if len(r.w.sent) != len(sent) {
				t.Fatalf("retransmitted %d of %d packets", len(r.w.sent), len(sent))
			}
			for i, p := range sent {
				got := r.w.sent[i]
				if got.SSRC != testSSRC || got.PayloadType != 96 || got.SequenceNumber != p.SequenceNumber ||
					!bytes.Equal(got.Payload, p.Payload) {
					t.Errorf("retransmission %d: SSRC %d PT %d seq %d, want the original (SSRC %d PT 96 seq %d, same payload)",
						i, got.SSRC, got.PayloadType, got.SequenceNumber, testSSRC, p.SequenceNumber)
				}
			}
		})
	}
}

// TestAudioKeepsMediaSSRC: an audio receiver that negotiated RTX for Opus
// still gets retransmissions on the media SSRC, and no padding.
func TestAudioKeepsMediaSSRC(t *testing.T) {
	opus := opusAt(111)
	up := NewUpTrack(UpTrackConfig{Publisher: "pub", Kind: KindAudio, Codec: opus})
	d := NewDownTrack(up)
	opusRTX := webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 48000, SDPFmtpLine: "apt=111"},
		PayloadType:        112}
	w := &recordingWriter{}
	if _, err := d.Bind(rtxBind{bindContext: bindContext{ssrc: testSSRC}, w: w,
		codecs: []webrtc.RTPCodecParameters{opus, opusRTX}, rtxSSRC: testRTXSSRC}); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	pt := d.rtxState.pt
	d.mu.Unlock()
	if pt != 0 || d.CanPad() || d.SendPadding(300) != 0 {
		t.Errorf("audio track: RTX PT %d, CanPad %v; want none", pt, d.CanPad())
	}
}

func TestRTXPayloadType(t *testing.T) {
	rtxOf := func(pt uint8, fmtp string) webrtc.RTPCodecParameters {
		return webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "video/rtx", SDPFmtpLine: fmtp},
			PayloadType: webrtc.PayloadType(pt)}
	}
	for _, tt := range []struct {
		name   string
		codecs []webrtc.RTPCodecParameters
		pt     uint8
		want   uint8
	}{
		{"vp8", []webrtc.RTPCodecParameters{vp8Codec, vp8RTXCodec, h264Codec, h264RTXCodec}, 96, 97},
		{"h264", []webrtc.RTPCodecParameters{vp8Codec, vp8RTXCodec, h264Codec, h264RTXCodec}, 102, 103},
		{"firefox numbering, rtx-time", []webrtc.RTPCodecParameters{rtxOf(124, "apt=120; rtx-time=3000")}, 120, 124},
		{"apt not first", []webrtc.RTPCodecParameters{rtxOf(99, "rtx-time=3000;APT=98")}, 98, 99},
		{"other apt", []webrtc.RTPCodecParameters{rtxOf(97, "apt=96")}, 102, 0},
		{"no apt", []webrtc.RTPCodecParameters{rtxOf(97, "rtx-time=3000")}, 96, 0},
		{"bad apt", []webrtc.RTPCodecParameters{rtxOf(97, "apt=x96"), rtxOf(98, "apt=300")}, 96, 0},
		{"none", nil, 96, 0},
	} {
		if got := rtxPayloadType(tt.codecs, tt.pt); got != tt.want {
			t.Errorf("%s: rtxPayloadType(.., %d) = %d, want %d", tt.name, tt.pt, got, tt.want)
		}
	}
}

// TestRTXFollowsCodec: a follow track switched from a VP8 publisher to an
// H.264 one retransmits with H.264's RTX payload type, on the same RTX
// stream.
func TestRTXFollowsCodec(t *testing.T) {
	d := NewFollowTrack(KindVideo, "camera", "speaker")
	w := &recordingWriter{}
	codecs := []webrtc.RTPCodecParameters{vp8Codec, vp8RTXCodec, h264Codec, h264RTXCodec}
	if _, err := d.Bind(rtxBind{bindContext: bindContext{ssrc: testSSRC}, w: w, codecs: codecs, rtxSSRC: testRTXSSRC}); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	vp8PT, vp8RTX := d.pt, d.rtxState.pt
	d.mu.Unlock()
	if vp8PT != 96 || vp8RTX != 97 {
		t.Fatalf("bound as PT %d with RTX %d, want 96 and 97", vp8PT, vp8RTX)
	}
	h264 := NewUpTrack(UpTrackConfig{Publisher: "pub", Kind: KindVideo, Codec: h264Codec})
	if err := d.Switch(h264); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pt != 102 || d.rtxState.pt != 103 || d.rtxState.ssrc != testRTXSSRC {
		t.Errorf("after the switch: PT %d, RTX PT %d on SSRC %d; want 102, 103 on %d", d.pt, d.rtxState.pt, d.rtxState.ssrc, testRTXSSRC)
	}
}

// TestSendPadding: padding goes on the RTX stream as packets of at most 255
// padding bytes, the padding bit set and the whole payload padding, with
// RTX sequence numbers continuing those of retransmissions and the latest
// forwarded timestamp; the bytes returned are their RTP size.
func TestSendPadding(t *testing.T) {
	r := newRTXRig(t, []webrtc.RTPCodecParameters{vp8Codec, vp8RTXCodec}, testRTXSSRC)
	sent := r.forwardAcrossSwitch(t)
	lastTS := sent[len(sent)-1].Timestamp
	r.d.HandleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: testSSRC,
		Nacks: []rtcp.NackPair{{PacketID: sent[0].SequenceNumber}}}})
	if len(r.w.sent) != 1 {
		t.Fatalf("%d packets for one NACK", len(r.w.sent))
	}
	nextSeq := r.w.sent[0].SequenceNumber + 1
	r.w.sent = nil

	for _, tt := range []struct {
		bytes int
		pads  []int // padding bytes per packet
	}{
		{0, nil},
		{-5, nil},
		{1, []int{1}},
		{13, []int{1}},
		{14, []int{2}},
		{267, []int{255}},
		{268, []int{255, 1}},
		{1000, []int{255, 255, 255, 1000 - 3*267 - 12}},
	} {
		got := r.d.SendPadding(tt.bytes)
		want := 0
		for _, n := range tt.pads {
			want += 12 + n
		}
		if got != want || len(r.w.sent) != len(tt.pads) {
			t.Errorf("SendPadding(%d) = %d in %d packets, want %d in %d", tt.bytes, got, len(r.w.sent), want, len(tt.pads))
			r.w.sent = nil
			continue
		}
		if got < tt.bytes || got > max(tt.bytes, 0)+12 {
			t.Errorf("SendPadding(%d) = %d: more than a header off", tt.bytes, got)
		}
		for i, p := range r.w.sent {
			n := tt.pads[i]
			if p.SSRC != testRTXSSRC || p.PayloadType != 97 || p.SequenceNumber != nextSeq || p.Timestamp != lastTS ||
				!p.Padding || p.Marker {
				t.Errorf("SendPadding(%d) packet %d: %+v; want RTX SSRC %d PT 97 seq %d ts %d, padding bit, no marker",
					tt.bytes, i, p.Header, testRTXSSRC, nextSeq, lastTS)
			}
			nextSeq++
			want := make([]byte, n)
			want[n-1] = byte(n)
			if !bytes.Equal(p.Payload, want) {
				t.Errorf("SendPadding(%d) packet %d: payload %v, want %d bytes of padding ending in the count", tt.bytes, i, p.Payload, n)
			}
			// As pion's SRTP marshals it, then as a receiver parses it: no
			// payload but padding.
			buf := make([]byte, 1500)
			m, err := rtp.MarshalPacketTo(buf, &p.Header, p.Payload) //nolint:staticcheck // what pion's SRTP calls
			if err != nil {
				t.Fatal(err)
			}
			var parsed rtp.Packet
			if err := parsed.Unmarshal(buf[:m]); err != nil {
				t.Fatalf("padding packet does not parse: %v", err)
			}
			if m != 12+n || len(parsed.Payload) != 0 || int(parsed.PaddingSize) != n {
				t.Errorf("padding packet on the wire: %d bytes, payload %d, padding %d; want %d, 0, %d",
					m, len(parsed.Payload), parsed.PaddingSize, 12+n, n)
			}
		}
		r.w.sent = nil
	}
	if got, want := r.d.PaddingPackets.Load(), uint64(1+1+1+1+2+4); got != want {
		t.Errorf("PaddingPackets = %d, want %d", got, want)
	}
	if r.d.PaddingBytes.Load() == 0 || r.d.Packets.Load() != uint64(len(sent)) {
		t.Errorf("PaddingBytes %d, Packets %d: padding must be counted apart from media", r.d.PaddingBytes.Load(), r.d.Packets.Load())
	}
	// Unbound: nothing.
	if err := r.d.Unbind(nil); err != nil {
		t.Fatal(err)
	}
	if n := r.d.SendPadding(500); n != 0 || len(r.w.sent) != 0 {
		t.Errorf("unbound track padded %d bytes", n)
	}
}

// TestRTXDoesNotAllocate: a retransmission on the RTX stream and padding
// allocate nothing.
func TestRTXDoesNotAllocate(t *testing.T) {
	r := newRTXRig(t, []webrtc.RTPCodecParameters{vp8Codec, vp8RTXCodec}, testRTXSSRC)
	sent := r.forwardAcrossSwitch(t)
	w := &countingWriter{}
	r.d.mu.Lock()
	r.d.writer = w
	r.d.mu.Unlock()
	r.d.SetRetransmitBudget(rtxguard.NewBudget(rtxguard.BudgetConfig{FloorPackets: 1e9, FloorBytes: 1e12}, time.Now()))
	nack := &rtcp.TransportLayerNack{MediaSSRC: testSSRC, Nacks: make([]rtcp.NackPair, 1)}
	pkts := []rtcp.Packet{nack}
	// On a simulated clock, NACK the last 20 packets in turn, each again
	// after more than a round trip and while still young enough.
	clock := r.now.Add(1300 * time.Millisecond)
	r.d.now = func() time.Time { return clock }
	r.d.SetRTT(rtxguard.MinRTT)
	k := 0
	allocs := testing.AllocsPerRun(100, func() {
		clock = clock.Add(1500 * time.Microsecond)
		nack.Nacks[0].PacketID = sent[len(sent)-20+k%20].SequenceNumber
		k++
		r.d.HandleRTCP(pkts)
	})
	if w.packets != k {
		t.Fatalf("%d of %d NACKs were answered", w.packets, k)
	}
	if allocs != 0 {
		t.Errorf("a retransmission on RTX allocates %.1f times", allocs)
	}
	allocs = testing.AllocsPerRun(100, func() { r.d.SendPadding(600) })
	if allocs != 0 {
		t.Errorf("SendPadding allocates %.1f times", allocs)
	}
}

// stormMediaWriter passes the media SSRC's packets to the storm writer, so
// that its newest sequence number is the media stream's, and counts the
// RTX stream's.
type stormMediaWriter struct {
	*stormWriter
	rtx int
}

func (w *stormMediaWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if h.SSRC == testRTXSSRC {
		w.rtx++
		return len(payload), nil
	}
	return w.stormWriter.WriteRTP(h, payload)
}

// BenchmarkHandleRTCPStormRTX is BenchmarkHandleRTCPStorm for a receiver
// that negotiated RTX: the retransmissions go on its RTX stream.
func BenchmarkHandleRTCPStormRTX(b *testing.B) {
	r := newStormRig(b, 1)
	d := r.downs[0]
	w := &stormMediaWriter{stormWriter: r.ws[0]}
	if _, err := d.Bind(rtxBind{bindContext: bindContext{ssrc: 500}, w: w,
		codecs: []webrtc.RTPCodecParameters{vp8Codec, vp8RTXCodec}, rtxSSRC: testRTXSSRC}); err != nil {
		b.Fatal(err)
	}
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
	if w.rtx == 0 {
		b.Fatal("nothing went on the RTX stream")
	}
	b.ReportMetric(float64(spent.Nanoseconds())/float64(n*len(nack.Nacks)), "ns/NACK-pair")
	b.ReportMetric(float64(d.Retransmits.Load()-rtx0)/(float64(n)*0.005), "rtx/storm-s")
}

// BenchmarkSendPadding is one probe slice: 1250 bytes (2 Mbit/s for 5 ms)
// of padding, five packets.
func BenchmarkSendPadding(b *testing.B) {
	up := NewUpTrack(UpTrackConfig{Publisher: "pub", Kind: KindVideo, Codec: vp8Codec})
	d := NewDownTrack(up)
	w := &countingWriter{}
	if _, err := d.Bind(rtxBind{bindContext: bindContext{ssrc: testSSRC}, w: w,
		codecs: []webrtc.RTPCodecParameters{vp8Codec, vp8RTXCodec}, rtxSSRC: testRTXSSRC}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if d.SendPadding(1250) == 0 {
			b.Fatal("no padding sent")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(w.packets), "ns/packet")
}
