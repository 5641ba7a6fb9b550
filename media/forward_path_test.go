package media

import (
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/media/codec"
	"github.com/switchyard/switchyard/media/dedup"
)

// countingWriter stands in for pion's SRTP writer: it counts what it is given.
type countingWriter struct{ packets, bytes int }

func (w *countingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.packets++
	w.bytes += len(payload)
	return len(payload), nil
}
func (w *countingWriter) Write(b []byte) (int, error) { w.packets++; return len(b), nil }

// bindContext is the part of pion's TrackLocalContext Bind reads.
type bindContext struct {
	w    *countingWriter
	ssrc webrtc.SSRC
}

var vp8Codec = webrtc.RTPCodecParameters{
	RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}

func (c bindContext) CodecParameters() []webrtc.RTPCodecParameters {
	return []webrtc.RTPCodecParameters{vp8Codec}
}
func (c bindContext) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return nil }
func (c bindContext) SSRC() webrtc.SSRC                                      { return c.ssrc }
func (c bindContext) SSRCRetransmission() webrtc.SSRC                        { return 0 }
func (c bindContext) SSRCForwardErrorCorrection() webrtc.SSRC                { return 0 }
func (c bindContext) WriteStream() webrtc.TrackLocalWriter                   { return c.w }
func (c bindContext) ID() string                                             { return "bench" }
func (c bindContext) RTCPReader() interceptor.RTCPReader                     { return nil }

// vp8Packet is a VP8 packet with a 15-bit picture id and TL0PICIDX.
func vp8Packet(seq uint16, ts uint32, pid uint16, key bool) rtp.Packet {
	payload := make([]byte, 1100)
	payload[0] = 0x90 // X, S
	payload[1] = 0xc0 // I, L
	payload[2] = 0x80 | byte(pid>>8)
	payload[3] = byte(pid)
	payload[4] = byte(pid)
	if key {
		copy(payload[5:], []byte{0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x00, 0x05, 0xd0, 0x02})
	} else {
		payload[5] = 0x01
	}
	return rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, SSRC: 1}, Payload: payload}
}

func newBenchPath(tb testing.TB, receivers int) (*UpTrack, []*countingWriter) {
	up := NewUpTrack(UpTrackConfig{Publisher: "pub", Kind: KindVideo, Codec: vp8Codec})
	up.layers[0].present.Store(true)
	var ws []*countingWriter
	for i := range receivers {
		d := NewDownTrack(up)
		w := &countingWriter{}
		if _, err := d.Bind(bindContext{w: w, ssrc: webrtc.SSRC(100 + i)}); err != nil {
			tb.Fatal(err)
		}
		d.SetTarget(0)
		up.AddSink(d)
		ws = append(ws, w)
	}
	return up, ws
}

func TestForwardPathDelivers(t *testing.T) {
	up, ws := newBenchPath(t, 3)
	var vp8 codec.VP8
	var win dedup.Window
	now := time.Now()
	for i := range 30 {
		p := vp8Packet(uint16(1000+i), uint32(3000*i), uint16(i), i == 0)
		up.handle(0, &p, &vp8, &win, now.Add(time.Duration(i)*time.Millisecond))
	}
	dup := vp8Packet(1005, 15000, 5, false) // an RTX copy: dropped once
	up.handle(0, &dup, &vp8, &win, now)
	for i, w := range ws {
		if w.packets != 30 {
			t.Errorf("receiver %d got %d packets, want 30", i, w.packets)
		}
	}
	if up.Duplicates.Load() != 1 {
		t.Errorf("duplicates %d, want 1", up.Duplicates.Load())
	}
}

// BenchmarkForwardPath is one received packet fanned out to 20 receivers:
// dedup, VP8 parse, one store in the publisher's cache, then per receiver the
// forwarder, picture-id rewrite and write (pion's SRTP and socket are not
// included).
func BenchmarkForwardPath(b *testing.B) {
	const receivers = 20
	up, _ := newBenchPath(b, receivers)
	var vp8 codec.VP8
	var win dedup.Window
	key := vp8Packet(0, 0, 0, true)
	up.handle(0, &key, &vp8, &win, time.Now())
	p := vp8Packet(1, 0, 1, false)
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p.SequenceNumber = uint16(i + 1)
		p.Timestamp = uint32(i/3) * 3000
		up.handle(0, &p, &vp8, &win, now)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*receivers), "ns/forwarded-pkt")
}

// heldBatch checks that every write of a fan-out happens while held.
type heldBatch struct {
	held, holds   int
	writesOutside int
}

func (b *heldBatch) Hold()    { b.held++; b.holds++ }
func (b *heldBatch) Release() { b.held-- }

type batchCheckWriter struct {
	countingWriter
	b *heldBatch
}

func (w *batchCheckWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if w.b.held == 0 {
		w.b.writesOutside++
	}
	return w.countingWriter.WriteRTP(h, payload)
}

func TestFanOutIsBatched(t *testing.T) {
	for _, receivers := range []int{1, 3} {
		b := &heldBatch{}
		up := NewUpTrack(UpTrackConfig{Publisher: "pub", Kind: KindVideo, Codec: vp8Codec, Batch: b})
		up.layers[0].present.Store(true)
		for i := range receivers {
			d := NewDownTrack(up)
			w := &batchCheckWriter{b: b}
			if _, err := d.Bind(recordingBind{bindContext: bindContext{ssrc: webrtc.SSRC(10 + i)}, w: nil}); err != nil {
				t.Fatal(err)
			}
			d.mu.Lock()
			d.writer = w
			d.mu.Unlock()
			up.AddSink(d)
		}
		var vp8 codec.VP8
		var win dedup.Window
		for i := range 5 {
			p := vp8Packet(uint16(i), uint32(3000*i), uint16(i), i == 0)
			up.handle(0, &p, &vp8, &win, time.Now())
		}
		wantHolds, wantOutside := 5, 0
		if receivers == 1 {
			wantHolds, wantOutside = 0, 5 // one copy is sent as it is
		}
		if b.holds != wantHolds || b.writesOutside != wantOutside || b.held != 0 {
			t.Errorf("%d receivers: %d holds, %d writes outside a hold, %d still held; want %d, %d, 0",
				receivers, b.holds, b.writesOutside, b.held, wantHolds, wantOutside)
		}
	}
}
