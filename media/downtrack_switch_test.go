package media

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/media/codec"
	"github.com/switchyard/switchyard/media/dedup"
	"github.com/switchyard/switchyard/media/rtxguard"
)

var h264Codec = webrtc.RTPCodecParameters{
	RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
	PayloadType: 102}

// source is one publisher's single-layer track feeding a follow track, with
// its keyframe requests counted.
type source struct {
	up   *UpTrack
	plis int
	win  dedup.Window
	vp8  codec.VP8
	seq  uint16
	ts   uint32
	h264 bool
}

func newSource(t *testing.T, name string, c webrtc.RTPCodecParameters, epoch time.Time) *source {
	t.Helper()
	s := &source{seq: uint16(len(name)) * 7000, ts: uint32(len(name)) * 1_000_000}
	kind := KindVideo
	if c.ClockRate == 48000 {
		kind = KindAudio
	}
	s.up = NewUpTrack(UpTrackConfig{Publisher: name, Kind: kind, Codec: c,
		SendPLI: func(int, uint32) error { s.plis++; return nil }})
	s.up.epoch = epoch // the publishers' clocks differ: Switch must convert
	s.up.layers[0].present.Store(true)
	s.h264 = c.MimeType == webrtc.MimeTypeH264
	return s
}

// send hands the UpTrack its next packet, arriving at the wall-clock time at;
// tag goes into the payload to tell packets apart.
func (s *source) send(at time.Time, key bool, tag byte) {
	var p rtp.Packet
	switch {
	case s.up.Kind() == KindAudio:
		p = rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111}, Payload: []byte{0xfc, tag, 1, 2}}
	case s.h264:
		nal := byte(0x41) // a non-IDR slice
		if key {
			nal = 0x65
		}
		p = rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 102}, Payload: []byte{nal, tag, 3, 4, 5}}
	default:
		p = vp8Packet(0, 0, uint16(s.seq), key)
		p.Payload[20] = tag
	}
	p.SequenceNumber, p.Timestamp, p.SSRC = s.seq, s.ts, uint32(s.seq)<<8
	s.seq++
	s.ts += 3000
	s.up.handle(0, &p, &s.vp8, &s.win, at)
}

func bindFollow(t *testing.T, d *DownTrack, codecs ...webrtc.RTPCodecParameters) *recordingWriter {
	t.Helper()
	w := &recordingWriter{}
	if _, err := d.Bind(codecBind{recordingBind{bindContext{ssrc: 999}, w}, codecs}); err != nil {
		t.Fatal(err)
	}
	return w
}

// follow moves d from one source to the next as a node does: switch, add
// to the new source's sinks, remove from the old one's (here after the
// old source has sent one more packet, still in flight).
func follow(t *testing.T, d *DownTrack, from, to *source, at time.Time) {
	t.Helper()
	if err := d.Switch(to.up); err != nil {
		t.Fatal(err)
	}
	to.up.AddSink(d)
	if from != nil {
		from.send(at, true, 0xee) // a late keyframe of the source just left
		from.up.RemoveSink(d)
	}
}

// TestSwitchContinuesTheStream follows a VP8 publisher, then an H.264 one,
// then the first again, on one SSRC: each switch waits for a keyframe of
// the new source (and asks it for one), sequence numbers have no gap and
// timestamps advance by the time that passed, the payload type is the
// receiver's for the new codec, and nothing of the previous source gets
// through once the switch is made.
func TestSwitchContinuesTheStream(t *testing.T) {
	wall := time.Now()
	a := newSource(t, "alice", vp8Codec, wall.Add(-3*time.Second))
	b := newSource(t, "bob", h264Codec, wall.Add(-7*time.Second))
	d := NewFollowTrack(KindVideo, "camera", "viewer")
	w := bindFollow(t, d, vp8Codec, h264Codec)
	if d.Source() != nil {
		t.Fatal("a new follow track has a source")
	}
	at := func(ms int) time.Time { return wall.Add(time.Duration(ms) * time.Millisecond) }

	follow(t, d, nil, a, at(0))
	if a.plis != 1 {
		t.Errorf("the first source was asked for %d keyframes, want 1", a.plis)
	}
	a.send(at(0), false, 1) // not a keyframe: the receiver could not decode from it
	for i := range 5 {
		a.send(at(33*(i+1)), i == 0, byte(10+i))
	}
	follow(t, d, a, b, at(166))
	if d.Source() != b.up || b.plis != 1 {
		t.Fatalf("after the switch: source %v, bob asked for %d keyframes", d.Source() == b.up, b.plis)
	}
	b.send(at(180), false, 20) // bob's stream before its keyframe
	b.send(at(198), true, 21)
	b.send(at(232), false, 22)
	follow(t, d, b, a, at(240))
	a.send(at(265), true, 30)

	type want struct {
		tag byte
		pt  uint8
		dts uint32 // timestamp advance over the previous packet sent
	}
	wants := []want{
		{10, 96, 0}, {11, 96, 3000}, {12, 96, 3000}, {13, 96, 3000}, {14, 96, 3000},
		// 33 ms after alice's last packet (2970 ticks), though bob's clock
		// started 4 s earlier than alice's.
		{21, 102, 2970}, {22, 102, 3000},
		// Back to alice, 33 ms later; alice's late keyframe (0xee) sent
		// after the switch to bob never went out.
		{30, 96, 2970},
	}
	if len(w.sent) != len(wants) {
		t.Fatalf("sent %d packets, want %d: %v", len(w.sent), len(wants), tags(w.sent))
	}
	first := w.sent[0]
	for i, p := range w.sent {
		tag := packetTag(p)
		if tag != wants[i].tag || p.PayloadType != wants[i].pt || p.SSRC != 999 {
			t.Errorf("packet %d: tag %d pt %d ssrc %d, want tag %d pt %d ssrc 999", i, tag, p.PayloadType, p.SSRC, wants[i].tag, wants[i].pt)
		}
		if p.SequenceNumber != first.SequenceNumber+uint16(i) {
			t.Errorf("packet %d: sequence number %d, want %d (no gap across switches)", i, p.SequenceNumber, first.SequenceNumber+uint16(i))
		}
		if i > 0 {
			if dts := p.Timestamp - w.sent[i-1].Timestamp; dts != wants[i].dts {
				t.Errorf("packet %d: timestamp advanced by %d, want %d", i, dts, wants[i].dts)
			}
		}
	}
}

func packetTag(p rtp.Packet) byte {
	if len(p.Payload) > 20 && p.PayloadType == 96 {
		return p.Payload[20]
	}
	if len(p.Payload) > 1 {
		return p.Payload[1]
	}
	return 0
}

func tags(ps []rtp.Packet) []byte {
	var out []byte
	for _, p := range ps {
		out = append(out, packetTag(p))
	}
	return out
}

// TestSwitchRetransmits answers NACKs after a switch from the new source's
// cache, exactly as first sent, and leaves those for packets of the
// previous source unanswered rather than resend another publisher's packet
// with the same number.
func TestSwitchRetransmits(t *testing.T) {
	wall := time.Now()
	a := newSource(t, "alice", vp8Codec, wall)
	b := newSource(t, "bob", vp8Codec, wall.Add(time.Second))
	b.seq = a.seq // bob's cache holds packets numbered as alice's were
	d := NewFollowTrack(KindVideo, "camera", "viewer")
	d.SetRetransmitBudget(rtxguard.NewBudget(rtxguard.BudgetConfig{FloorPackets: 1000, FloorBytes: 1e6}, time.Now()))
	w := bindFollow(t, d, vp8Codec)
	follow(t, d, nil, a, wall)
	for i := range 4 {
		a.send(wall.Add(time.Duration(i)*33*time.Millisecond), i == 0, byte(i))
	}
	follow(t, d, a, b, wall.Add(140*time.Millisecond))
	for i := range 4 {
		b.send(wall.Add(time.Duration(150+33*i)*time.Millisecond), i == 0, byte(50+i))
	}
	sent := append([]rtp.Packet(nil), w.sent...)
	if len(sent) != 8 {
		t.Fatalf("sent %v, want alice's 4 then bob's 4", tags(sent))
	}
	w.sent = nil
	nack := &rtcp.TransportLayerNack{MediaSSRC: 999}
	for _, p := range sent {
		nack.Nacks = append(nack.Nacks, rtcp.NackPair{PacketID: p.SequenceNumber})
	}
	d.HandleRTCP([]rtcp.Packet{nack})
	if len(w.sent) != 4 {
		t.Fatalf("resent %v, want bob's 4 packets only", tags(w.sent))
	}
	for i, got := range w.sent {
		orig := sent[4+i]
		if got.SequenceNumber != orig.SequenceNumber || got.Timestamp != orig.Timestamp || !bytes.Equal(got.Payload, orig.Payload) {
			t.Errorf("resent packet %d differs from the one first sent (seq %d/%d)", i, got.SequenceNumber, orig.SequenceNumber)
		}
	}
}

// TestSwitchRefused: a switch the receiver cannot take changes nothing.
func TestSwitchRefused(t *testing.T) {
	wall := time.Now()
	tests := []struct {
		name    string
		to      webrtc.RTPCodecParameters
		noCodec bool // the error is ErrNoCodec
	}{
		{name: "codec the receiver did not negotiate", to: h264Codec, noCodec: true},
		{name: "audio to a video track", to: opusAt(111)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newSource(t, "alice", vp8Codec, wall)
			b := newSource(t, "bob", tc.to, wall)
			d := NewFollowTrack(KindVideo, "camera", "viewer")
			w := bindFollow(t, d, vp8Codec) // VP8 only
			follow(t, d, nil, a, wall)
			a.send(wall, true, 1)
			err := d.Switch(b.up)
			if err == nil || errors.Is(err, ErrNoCodec) != tc.noCodec {
				t.Fatalf("Switch = %v, want an error (ErrNoCodec: %v)", err, tc.noCodec)
			}
			if d.Source() != a.up || b.plis != 0 {
				t.Errorf("the refused switch changed the source, or asked bob for a keyframe")
			}
			a.send(wall.Add(33*time.Millisecond), false, 2)
			if got := tags(w.sent); len(got) != 2 || got[1] != 2 {
				t.Errorf("after the refused switch alice's stream stopped: sent %v", got)
			}
		})
	}
}

// TestFollowTrackWithoutSource: before its first source a follow track
// binds to a codec of its kind, sends nothing and ignores feedback.
func TestFollowTrackWithoutSource(t *testing.T) {
	d := NewFollowTrack(KindAudio, "mic", "viewer")
	w := &recordingWriter{}
	c, err := d.Bind(codecBind{recordingBind{bindContext{ssrc: 5}, w}, []webrtc.RTPCodecParameters{pubRED, opusAt(111)}})
	if err != nil || c.PayloadType != 111 {
		t.Fatalf("Bind = %v, %v; want Opus (111)", c.PayloadType, err)
	}
	d.HandleRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{}, &rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: 1}}}})
	stray := newSource(t, "stray", opusAt(111), time.Now())
	stray.up.AddSink(d) // a sink it was not switched to
	stray.send(time.Now(), true, 1)
	if len(w.sent) != 0 {
		t.Fatalf("a follow track without a source sent %d packets", len(w.sent))
	}
	if _, err := NewFollowTrack(KindVideo, "camera", "v").Bind(codecBind{recordingBind{bindContext{}, w},
		[]webrtc.RTPCodecParameters{opusAt(111)}}); !errors.Is(err, ErrNoCodec) {
		t.Errorf("a video follow track bound to audio codecs: %v", err)
	}
}

// TestSwitchAudioCodecs follows a plain Opus publisher and then a RED one:
// a receiver that negotiated RED gets bob's RED as it is, on RED's payload
// type; one without RED gets its primary as Opus.
func TestSwitchAudioCodecs(t *testing.T) {
	tests := []struct {
		name   string
		codecs []webrtc.RTPCodecParameters
		wantPT uint8 // of bob's packets
	}{
		{"receiver with RED", []webrtc.RTPCodecParameters{opusAt(111), pubRED}, 63},
		{"receiver without RED", []webrtc.RTPCodecParameters{opusAt(111)}, 111},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wall := time.Now()
			a := newSource(t, "alice", opusAt(111), wall)
			b, _ := newREDPath(t, false, tc.codecs...) // bob publishes RED
			b.up.RemoveSink(b.d)                       // only the follow track listens
			d := NewFollowTrack(KindAudio, "mic", "viewer")
			w := bindFollow(t, d, tc.codecs...)
			follow(t, d, nil, a, wall)
			a.send(wall, true, 1)
			if err := d.Switch(b.up); err != nil {
				t.Fatal(err)
			}
			b.up.AddSink(d)
			b.publish(0, false)
			b.publish(1, false)
			if len(w.sent) != 3 {
				t.Fatalf("sent %d packets, want 3", len(w.sent))
			}
			for i, p := range w.sent[1:] {
				if p.PayloadType != tc.wantPT {
					t.Errorf("bob's packet %d went with payload type %d, want %d", i, p.PayloadType, tc.wantPT)
				}
				if tc.wantPT == 111 && !bytes.Equal(p.Payload, frame(i)) {
					t.Errorf("bob's packet %d is not its primary Opus frame: % x", i, p.Payload)
				}
			}
			if w.sent[1].SequenceNumber != w.sent[0].SequenceNumber+1 {
				t.Errorf("sequence numbers jump across the switch: %d then %d", w.sent[0].SequenceNumber, w.sent[1].SequenceNumber)
			}
		})
	}
}

// TestFollowPathDoesNotAllocate: forwarding through a follow track that
// switched sources allocates nothing per packet, like any DownTrack.
func TestFollowPathDoesNotAllocate(t *testing.T) {
	wall := time.Now()
	a := newSource(t, "alice", vp8Codec, wall)
	b := newSource(t, "bob", vp8Codec, wall)
	d := NewFollowTrack(KindVideo, "camera", "viewer")
	w := &countingWriter{}
	if _, err := d.Bind(bindContext{w: w, ssrc: 7}); err != nil {
		t.Fatal(err)
	}
	follow(t, d, nil, a, wall)
	follow(t, d, a, b, wall)
	b.send(wall, true, 1)
	p := vp8Packet(b.seq, b.ts, 9, false)
	i := 0
	allocs := testing.AllocsPerRun(200, func() {
		i++
		p.SequenceNumber, p.Timestamp = b.seq+uint16(i), b.ts+uint32(3000*i)
		b.up.handle(0, &p, &b.vp8, &b.win, wall.Add(time.Duration(i)*time.Millisecond))
	})
	if allocs != 0 || w.packets < 200 {
		t.Errorf("%.1f allocations per packet, %d packets sent", allocs, w.packets)
	}
}
