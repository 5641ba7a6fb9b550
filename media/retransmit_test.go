package media

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/media/codec"
	"github.com/switchyard/switchyard/media/dedup"
	"github.com/switchyard/switchyard/media/rtxguard"
)

// recordingWriter keeps a copy of every packet it is given.
type recordingWriter struct{ sent []rtp.Packet }

func (w *recordingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.sent = append(w.sent, rtp.Packet{Header: *h, Payload: append([]byte(nil), payload...)})
	return len(payload), nil
}
func (w *recordingWriter) Write(b []byte) (int, error) { return len(b), nil }

type recordingBind struct {
	bindContext
	w *recordingWriter
}

func (c recordingBind) WriteStream() webrtc.TrackLocalWriter { return c.w }

// TestRetransmitIsTheOriginal forwards two layers to a receiver that switches
// from q to h, then NACKs everything it was sent: each retransmission, read
// from the publisher's cache and rewritten with the mapping of its run, must
// be the packet first sent, header and payload (picture id, TL0PICIDX).
func TestRetransmitIsTheOriginal(t *testing.T) {
	up := NewUpTrack(UpTrackConfig{Publisher: "pub", Kind: KindVideo, Codec: vp8Codec})
	up.layers[0].present.Store(true)
	up.layers[1].present.Store(true)
	d := NewDownTrack(up)
	w := &recordingWriter{}
	if _, err := d.Bind(recordingBind{bindContext: bindContext{ssrc: 4242}, w: w}); err != nil {
		t.Fatal(err)
	}
	up.AddSink(d)
	var vp8 [2]codec.VP8
	var win [2]dedup.Window
	now := time.Now()
	send := func(layer, i int, key bool) {
		// The layers number their packets and pictures differently, so a
		// wrong mapping shows.
		base := uint16(1000 + 20000*layer)
		p := vp8Packet(base+uint16(i), uint32(90000*layer+3000*i), uint16(100*layer+i), key)
		p.Marker = i%3 == 2
		p.Payload[20] = byte(layer*100 + i) // tell payloads apart
		up.handle(layer, &p, &vp8[layer], &win[layer], now.Add(time.Duration(i)*33*time.Millisecond))
	}
	for i := range 20 {
		send(0, i, i == 0)
		send(1, i, false)
	}
	d.SetTarget(1)
	for i := 20; i < 40; i++ {
		send(0, i, false)
		send(1, i, i == 25)
	}
	if cur, _, _ := d.Layers(); cur != 1 {
		t.Fatalf("receiver did not switch to h: current %d", cur)
	}
	sent := append([]rtp.Packet(nil), w.sent...)
	if len(sent) != 26+15 {
		t.Fatalf("forwarded %d packets, want 41 (q until h's keyframe at 25, then 15 of h)", len(sent))
	}
	w.sent = nil
	// Resending everything at once is far over the default budget.
	d.SetRetransmitBudget(rtxguard.NewBudget(rtxguard.BudgetConfig{FloorPackets: 1000, FloorBytes: 1e6}, time.Now()))
	nack := &rtcp.TransportLayerNack{MediaSSRC: 4242}
	for _, p := range sent {
		nack.Nacks = append(nack.Nacks, rtcp.NackPair{PacketID: p.SequenceNumber})
	}
	d.HandleRTCP([]rtcp.Packet{nack})
	if len(w.sent) != len(sent) {
		t.Fatalf("retransmitted %d of %d packets", len(w.sent), len(sent))
	}
	for i, p := range sent {
		got := w.sent[i]
		if got.Header.SequenceNumber != p.SequenceNumber || got.Timestamp != p.Timestamp ||
			got.Marker != p.Marker || got.SSRC != p.SSRC || got.PayloadType != p.PayloadType {
			t.Errorf("packet %d: retransmitted header %+v, sent %+v", i, got.Header, p.Header)
		}
		if !bytes.Equal(got.Payload, p.Payload) {
			t.Errorf("packet %d (seq %d): retransmitted payload differs from the one sent", i, p.SequenceNumber)
		}
	}
	if d.Retransmits.Load() != uint64(len(sent)) {
		t.Errorf("Retransmits = %d, want %d", d.Retransmits.Load(), len(sent))
	}
	// A sequence number never sent is not answered.
	w.sent = nil
	d.HandleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: 4242,
		Nacks: []rtcp.NackPair{{PacketID: sent[len(sent)-1].SequenceNumber + 1}}}})
	if len(w.sent) != 0 {
		t.Errorf("answered a NACK for a packet never sent")
	}
}
