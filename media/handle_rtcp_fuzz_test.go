package media

import (
	"testing"
	"time"

	"github.com/pion/rtcp"

	"github.com/switchyard/switchyard/media/codec"
	"github.com/switchyard/switchyard/media/dedup"
)

// FuzzHandleRTCP feeds arbitrary RTCP from a receiver to a DownTrack that
// has forwarded 40 packets: it must not panic, must answer every NACKed
// sequence number with a retransmission or a counted refusal, and must not
// resend more than the default budget's first burst.
func FuzzHandleRTCP(f *testing.F) {
	marshal := func(pkts ...rtcp.Packet) []byte {
		b, err := rtcp.Marshal(pkts)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	const ssrc = 4242
	storm := &rtcp.TransportLayerNack{MediaSSRC: ssrc}
	for i := range 32 {
		storm.Nacks = append(storm.Nacks, rtcp.NackPair{PacketID: uint16(1039 - 511 + 16*i), LostPackets: 0x7fff})
	}
	f.Add(marshal(&rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: []rtcp.NackPair{{PacketID: 1030}}}))
	f.Add(marshal(&rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: []rtcp.NackPair{{PacketID: 1020, LostPackets: 0xa5a5}, {PacketID: 1030, LostPackets: 0x00ff}}}))
	f.Add(marshal(storm))
	f.Add(marshal(&rtcp.PictureLossIndication{MediaSSRC: ssrc}))
	f.Add(marshal(&rtcp.FullIntraRequest{FIR: []rtcp.FIREntry{{SSRC: ssrc, SequenceNumber: 1}}}))
	f.Add(marshal(&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: ssrc, LastSequenceNumber: 1039}}},
		&rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: []rtcp.NackPair{{PacketID: 1039}, {PacketID: 1039}}}))
	f.Add([]byte{0x81, 0xcd, 0x00, 0x02, 0, 0, 0, 1}) // a NACK cut short

	// The publisher's track and its cache are made once: each run forwards
	// the same 40 packets to a new DownTrack.
	up := NewUpTrack(UpTrackConfig{Publisher: "pub", Kind: KindVideo, Codec: vp8Codec})
	up.layers[0].present.Store(true)
	t0 := up.epoch.Add(time.Second)
	f.Fuzz(func(t *testing.T, data []byte) {
		pkts, err := rtcp.Unmarshal(data)
		if err != nil {
			return
		}
		d := NewDownTrack(up)
		d.now = func() time.Time { return t0.Add(200 * time.Millisecond) }
		d.SetRetransmitBudget(nil)
		w := &stormWriter{}
		if _, err := d.Bind(stormBind{bindContext: bindContext{ssrc: ssrc}, w: w}); err != nil {
			t.Fatal(err)
		}
		d.SetTarget(0)
		up.AddSink(d)
		var vp8 codec.VP8
		var win dedup.Window
		for i := range 40 {
			p := vp8Packet(uint16(1000+i), uint32(3000*(i/4)), uint16(i/4), i == 0)
			up.handle(0, &p, &vp8, &win, t0.Add(time.Duration(i)*4*time.Millisecond))
		}
		up.RemoveSink(d)
		forwarded := w.packets

		d.HandleRTCP(pkts)

		rtx := d.Retransmits.Load()
		if got := uint64(w.packets - forwarded); got != rtx {
			t.Errorf("wrote %d packets, counted %d retransmissions", got, rtx)
		}
		if n, refused := d.NACKed.Load(), d.RetransmitsRefusedTotal(); rtx+refused != n {
			t.Errorf("%d NACKed, %d resent + %d refused", n, rtx, refused)
		}
		if rtx > 10 {
			t.Errorf("resent %d packets at once, over the default burst", rtx)
		}
	})
}
