package media

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/media/dedup"
	"github.com/switchyard/switchyard/media/red"
)

// The publisher numbers RED 63 and Opus 111, as Chromium does.
var (
	pubRED = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: red.MimeType, ClockRate: 48000, Channels: 2, SDPFmtpLine: "111/111"},
		PayloadType:        63}
	opusAt = func(pt webrtc.PayloadType) webrtc.RTPCodecParameters {
		return webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
			PayloadType:        pt}
	}
)

// codecBind is a receiver that negotiated codecs.
type codecBind struct {
	recordingBind
	codecs []webrtc.RTPCodecParameters
}

func (c codecBind) CodecParameters() []webrtc.RTPCodecParameters { return c.codecs }

// redPath is a RED publisher's UpTrack and one DownTrack to a receiver
// that negotiated codecs.
type redPath struct {
	up  *UpTrack
	d   *DownTrack
	w   *recordingWriter
	win dedup.Window
	enc *red.Encoder
	now time.Time
	buf []byte
}

func newREDPath(t testing.TB, remote bool, codecs ...webrtc.RTPCodecParameters) (*redPath, webrtc.RTPCodecParameters) {
	t.Helper()
	up := NewUpTrack(UpTrackConfig{Publisher: "pub", Kind: KindAudio, Codec: pubRED, Remote: remote})
	up.layers[0].present.Store(true)
	d := NewDownTrack(up)
	w := &recordingWriter{}
	c, err := d.Bind(codecBind{recordingBind{bindContext{ssrc: 77}, w}, codecs})
	if err != nil {
		t.Fatal(err)
	}
	up.AddSink(d)
	return &redPath{up: up, d: d, w: w, enc: red.NewEncoder(111, 2), now: time.Now()}, c
}

// frame is the Opus encoding of packet i: its bytes tell packets apart.
func frame(i int) []byte { return []byte{0xfc, byte(i), byte(i >> 8), 0x55} }

// publish encodes packet i (seq 1000+i, 960 ticks apart) and, unless lost,
// hands it to the UpTrack as the publisher's node would.
func (r *redPath) publish(i int, lost bool) {
	ts := uint32(5000 + 960*i)
	r.buf = r.enc.Encode(r.buf[:0], ts, frame(i))
	if lost {
		return
	}
	r.deliver(i, r.buf)
}

func (r *redPath) deliver(i int, payload []byte) {
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 63, SequenceNumber: uint16(1000 + i),
		Timestamp: uint32(5000 + 960*i), SSRC: 5}, Payload: payload}
	at := r.now.Add(time.Duration(i) * 20 * time.Millisecond)
	if r.up.Remote() {
		r.up.Feed(0, &p, at)
	} else {
		r.up.handle(0, &p, &r.up.layers[0].feedVP8, &r.win, at)
	}
}

// TestREDStripped sends a RED publisher's audio to a receiver without RED:
// it gets each primary as plain Opus with its own payload type, sequence
// numbers and timestamps continuous; lost packets that the next one carries
// as redundancy are rebuilt in their place, unless recovery is off.
func TestREDStripped(t *testing.T) {
	tests := []struct {
		name     string
		distance int
		lost     map[int]bool
		noRecov  bool
		want     []int // the packets the receiver gets, in order
	}{
		{name: "no loss", distance: 2, want: []int{0, 1, 2, 3, 4, 5}},
		{name: "one lost", distance: 2, lost: map[int]bool{2: true}, want: []int{0, 1, 2, 3, 4, 5}},
		{name: "two lost", distance: 2, lost: map[int]bool{2: true, 3: true}, want: []int{0, 1, 2, 3, 4, 5}},
		{name: "three lost: too many", distance: 2, lost: map[int]bool{2: true, 3: true, 4: true}, want: []int{0, 1, 5}},
		{name: "two lost, one redundant block", distance: 1, lost: map[int]bool{2: true, 3: true}, want: []int{0, 1, 3, 4, 5}},
		{name: "no redundancy", distance: 0, lost: map[int]bool{2: true}, want: []int{0, 1, 3, 4, 5}},
		{name: "recovery off", distance: 2, lost: map[int]bool{2: true, 4: true}, noRecov: true, want: []int{0, 1, 3, 5}},
		{name: "first packet lost: nothing to continue from", distance: 2, lost: map[int]bool{0: true}, want: []int{1, 2, 3, 4, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, c := newREDPath(t, false, opusAt(109))
			if c.MimeType != webrtc.MimeTypeOpus {
				t.Fatalf("bound %s, want Opus", c.MimeType)
			}
			r.enc = red.NewEncoder(111, tt.distance)
			r.d.SetREDRecovery(!tt.noRecov)
			for i := range 6 {
				r.publish(i, tt.lost[i])
			}
			var got []int
			for _, p := range r.w.sent {
				i := int(p.Payload[1]) | int(p.Payload[2])<<8
				got = append(got, i)
				// The input's numbering, one to one: output is input+offset.
				first := r.w.sent[0]
				firstIn := int(first.Payload[1]) | int(first.Payload[2])<<8
				if p.PayloadType != 109 || p.SSRC != 77 ||
					p.SequenceNumber-first.SequenceNumber != uint16(i-firstIn) ||
					p.Timestamp-first.Timestamp != uint32(960*(i-firstIn)) ||
					!bytes.Equal(p.Payload, frame(i)) {
					t.Errorf("packet %d sent as pt %d seq %d ts %d payload % x", i, p.PayloadType,
						p.SequenceNumber, p.Timestamp, p.Payload)
				}
			}
			if !equalInts(got, tt.want) {
				t.Errorf("receiver got packets %v, want %v", got, tt.want)
			}
			if n := int(r.d.Recovered.Load()); n != len(tt.want)+len(tt.lost)-6 {
				t.Errorf("Recovered %d, want %d", n, len(tt.want)+len(tt.lost)-6)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestREDLateOriginal: a packet rebuilt from redundancy whose original
// arrives late is not sent twice; a late one never rebuilt is.
func TestREDLateOriginal(t *testing.T) {
	r, _ := newREDPath(t, false, opusAt(111))
	var late [][]byte
	for i := range 8 {
		r.publish(i, i == 2 || i == 5)
		if i == 2 || i == 5 {
			late = append(late, append([]byte(nil), r.buf...))
		}
	}
	r.d.SetREDRecovery(false)
	r.publish(8, true)
	late = append(late, append([]byte(nil), r.buf...))
	r.publish(9, false)
	r.deliver(2, late[0]) // rebuilt
	r.deliver(5, late[1]) // rebuilt
	r.deliver(8, late[2]) // not rebuilt: recovery was off
	counts := map[uint16]int{}
	for _, p := range r.w.sent {
		counts[p.SequenceNumber]++
	}
	if len(r.w.sent) != 10 || len(counts) != 10 {
		t.Errorf("sent %d packets, %d sequence numbers; want 10 and 10: %v", len(r.w.sent), len(counts), counts)
	}
}

// TestREDForwarded: a receiver that negotiated RED gets the publisher's
// payload as it is; one that numbers Opus otherwise gets the blocks
// renumbered for it; retransmissions are what was sent.
func TestREDForwarded(t *testing.T) {
	tests := []struct {
		name    string
		codecs  []webrtc.RTPCodecParameters
		pt      uint8 // of the RTP packets
		blockPT uint8 // of the blocks inside
	}{
		{"same numbers", []webrtc.RTPCodecParameters{opusAt(111), pubRED}, 63, 111},
		{"other numbers", []webrtc.RTPCodecParameters{opusAt(109), {
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/RED", ClockRate: 48000, Channels: 2, SDPFmtpLine: "109/109"},
			PayloadType:        100}}, 100, 109},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, c := newREDPath(t, false, tt.codecs...)
			if c.MimeType != red.MimeType && c.MimeType != "audio/RED" {
				t.Fatalf("bound %s, want RED", c.MimeType)
			}
			var sent [][]byte
			for i := range 5 {
				r.publish(i, i == 2)
				if i != 2 {
					sent = append(sent, append([]byte(nil), r.buf...))
				}
			}
			if len(r.w.sent) != 4 {
				t.Fatalf("sent %d packets, want the 4 received (no recovery for a RED receiver)", len(r.w.sent))
			}
			for i, p := range r.w.sent {
				var rp red.Payload
				if p.PayloadType != tt.pt {
					t.Errorf("packet %d: pt %d, want %d", i, p.PayloadType, tt.pt)
				}
				if err := red.Parse(p.Payload, tt.pt, tt.blockPT, &rp); err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
				red.SetPT(sent[i], tt.blockPT)
				if !bytes.Equal(p.Payload, sent[i]) {
					t.Errorf("packet %d: % x, want % x", i, p.Payload, sent[i])
				}
			}
			// Resent as first sent.
			first := r.w.sent[3]
			r.d.HandleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: first.SequenceNumber}}}})
			if len(r.w.sent) != 5 || !bytes.Equal(r.w.sent[4].Payload, first.Payload) || r.w.sent[4].PayloadType != tt.pt {
				t.Errorf("retransmission differs from the packet first sent")
			}
		})
	}
}

// TestREDStrippedRetransmit: a NACK from a receiver without RED is
// answered with the primary, as first sent.
func TestREDStrippedRetransmit(t *testing.T) {
	r, _ := newREDPath(t, false, opusAt(109))
	for i := range 4 {
		r.publish(i, false)
	}
	first := r.w.sent[2]
	r.d.HandleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: first.SequenceNumber}}}})
	if len(r.w.sent) != 5 {
		t.Fatalf("sent %d, want 4 and a retransmission", len(r.w.sent))
	}
	if re := r.w.sent[4]; re.SequenceNumber != first.SequenceNumber || re.Timestamp != first.Timestamp ||
		re.PayloadType != 109 || !bytes.Equal(re.Payload, first.Payload) {
		t.Errorf("retransmission %+v % x, want %+v % x", re.Header, re.Payload, first.Header, first.Payload)
	}
}

// TestREDBadInput: payloads red.Parse refuses are counted and sent to no
// receiver, RED or not; the stream goes on after them.
func TestREDBadInput(t *testing.T) {
	bad := [][]byte{
		{0x80 | 111, 0x0f},                  // header cut short
		{0x80 | 111, 0x0f, 0x00, 0x10, 111}, // block past the end
		{0x80 | 63, 0x0f, 0x00, 0x00, 111},  // nested RED
		{0x80 | 0, 0x0f, 0x00, 0x00, 111},   // other payload type
		{63, 1, 2},                          // nested primary
		{0xfc, 0xff, 0xfe, 0x01, 0x02},      // plain Opus
		append([]byte{0x84, 0, 0, 0, 0x84, 0, 0, 0, 0x84, 0, 0, 0, 0x84, 0, 0, 0, 0x84, 0, 0, 0}, 111), // too many (pt 4)
	}
	for _, remote := range []bool{false, true} {
		r, _ := newREDPath(t, remote, opusAt(111))
		d2 := NewDownTrack(r.up)
		w2 := &recordingWriter{}
		if _, err := d2.Bind(codecBind{recordingBind{bindContext{ssrc: 78}, w2}, []webrtc.RTPCodecParameters{pubRED}}); err != nil {
			t.Fatal(err)
		}
		r.up.AddSink(d2)
		r.publish(0, false)
		for i, b := range bad {
			r.deliver(1+i, b)
		}
		r.publish(1+len(bad), false)
		if n := r.up.BadRED.Load(); n != uint64(len(bad)) {
			t.Errorf("remote %v: BadRED %d, want %d", remote, n, len(bad))
		}
		if len(r.w.sent) != 2 || len(w2.sent) != 2 {
			t.Errorf("remote %v: sent %d stripped and %d RED packets, want 2 and 2", remote, len(r.w.sent), len(w2.sent))
		}
		if r.up.Malformed.Load() != 0 {
			t.Errorf("remote %v: Malformed %d", remote, r.up.Malformed.Load())
		}
	}
}

// TestREDRemoteTrack: a track relayed from another node, made from a
// control message's mime type, fmtp and payload type as peering does, is
// stripped and recovered like a local one.
func TestREDRemoteTrack(t *testing.T) {
	r, _ := newREDPath(t, true, opusAt(111))
	for i := range 5 {
		r.publish(i, i == 3)
	}
	if len(r.w.sent) != 5 || r.d.Recovered.Load() != 1 {
		t.Errorf("sent %d (want 5), recovered %d (want 1)", len(r.w.sent), r.d.Recovered.Load())
	}
}

// TestREDWithoutPrimaryType: a RED track whose fmtp does not name the
// primary cannot be stripped: a receiver without RED cannot take it.
func TestREDWithoutPrimaryType(t *testing.T) {
	c := pubRED
	c.SDPFmtpLine = ""
	up := NewUpTrack(UpTrackConfig{Publisher: "pub", Kind: KindAudio, Codec: c})
	d := NewDownTrack(up)
	if _, err := d.Bind(codecBind{recordingBind{bindContext{ssrc: 1}, &recordingWriter{}}, []webrtc.RTPCodecParameters{opusAt(111)}}); err == nil {
		t.Error("bound a RED track of unknown primary to an Opus receiver")
	}
}

// BenchmarkForwardPathRED is one RED packet to 20 receivers without RED:
// parse once, then per receiver strip, and every tenth packet rebuild one
// lost the packet before.
func BenchmarkForwardPathRED(b *testing.B) {
	const receivers = 20
	r, _ := newREDPath(b, false, opusAt(111))
	for range receivers - 1 {
		d := NewDownTrack(r.up)
		if _, err := d.Bind(codecBind{recordingBind{bindContext{ssrc: 1}, nil}, []webrtc.RTPCodecParameters{opusAt(111)}}); err != nil {
			b.Fatal(err)
		}
		d.mu.Lock()
		d.writer = &countingWriter{}
		d.mu.Unlock()
		r.up.AddSink(d)
	}
	r.d.mu.Lock()
	r.d.writer = &countingWriter{}
	r.d.mu.Unlock()
	enc := red.NewEncoder(111, 2)
	opus := make([]byte, 80)
	buf := make([]byte, 0, 1500)
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 63, SSRC: 5}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p.SequenceNumber, p.Timestamp = uint16(i), uint32(960*i)
		buf = enc.Encode(buf[:0], p.Timestamp, opus)
		if i%10 == 9 {
			continue // lost: the next packet's redundancy rebuilds it
		}
		p.Payload = buf
		r.up.handle(0, &p, &r.up.layers[0].feedVP8, &r.win, r.now)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*receivers), "ns/forwarded-pkt")
}

// TestREDPauseResume: nothing is rebuilt across a pause (the forwarder
// starts afresh after it), and recovery works again after the resume.
func TestREDPauseResume(t *testing.T) {
	r, _ := newREDPath(t, false, opusAt(111))
	for i := range 3 {
		r.publish(i, false)
	}
	r.d.SetTarget(-1)
	r.publish(3, false)
	r.publish(4, false)
	r.d.SetTarget(0)
	r.publish(5, true)
	r.publish(6, false)
	r.publish(7, true)
	r.publish(8, false)
	var got []int
	for _, p := range r.w.sent {
		got = append(got, int(p.Payload[1]))
	}
	if want := []int{0, 1, 2, 6, 7, 8}; !equalInts(got, want) {
		t.Errorf("receiver got %v, want %v", got, want)
	}
}
