package media

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/media/dedup"
	"github.com/switchyard/switchyard/media/red"
)

// opusPath is a plain Opus publisher's UpTrack and one DownTrack to a
// receiver that negotiated codecs.
func opusPath(t testing.TB, codecs ...webrtc.RTPCodecParameters) (*UpTrack, *DownTrack, *recordingWriter) {
	t.Helper()
	up := NewUpTrack(UpTrackConfig{Publisher: "pub", Kind: KindAudio, Codec: opusAt(111)})
	up.layers[0].present.Store(true)
	d := NewDownTrack(up)
	w := &recordingWriter{}
	if _, err := d.Bind(codecBind{recordingBind{bindContext{ssrc: 78}, w}, codecs}); err != nil {
		t.Fatal(err)
	}
	up.AddSink(d)
	return up, d, w
}

func sendOpus(up *UpTrack, win *dedup.Window, from, to int) {
	now := time.Now()
	for i := from; i < to; i++ {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(1000 + i),
			Timestamp: uint32(5000 + 960*i), SSRC: 5}, Payload: frame(i)}
		up.handle(0, &p, &up.layers[0].feedVP8, win, now.Add(time.Duration(i)*20*time.Millisecond))
	}
}

// TestProtect: with protection on, a plain Opus publisher reaches a RED
// receiver as RED (its own payload types) repeating the two encodings
// before; off, as plain Opus; a receiver without RED cannot be protected.
func TestProtect(t *testing.T) {
	recvRED := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: red.MimeType, ClockRate: 48000, Channels: 2,
		SDPFmtpLine: "109/109"}, PayloadType: 100}
	up, d, w := opusPath(t, opusAt(109), recvRED)
	if !d.CanProtect() {
		t.Fatal("a RED receiver of a plain Opus publisher cannot be protected")
	}
	var win dedup.Window
	sendOpus(up, &win, 0, 3)
	d.SetProtect(true)
	sendOpus(up, &win, 3, 8)
	d.SetProtect(false)
	sendOpus(up, &win, 8, 10)
	if len(w.sent) != 10 {
		t.Fatalf("sent %d packets, want 10", len(w.sent))
	}
	for i, p := range w.sent {
		protected := i >= 3 && i < 8
		if !protected {
			if p.PayloadType != 109 || !bytes.Equal(p.Payload, frame(i)) {
				t.Errorf("packet %d: pt %d payload %x, want plain Opus at 109", i, p.PayloadType, p.Payload)
			}
			continue
		}
		if p.PayloadType != 100 {
			t.Errorf("packet %d: pt %d, want RED at 100", i, p.PayloadType)
			continue
		}
		var pl red.Payload
		if err := red.Parse(p.Payload, 100, 109, &pl); err != nil {
			t.Errorf("packet %d: %v", i, err)
			continue
		}
		if !bytes.Equal(pl.Primary, frame(i)) {
			t.Errorf("packet %d: primary %x, want %x", i, pl.Primary, frame(i))
		}
		// Redundancy: the encodings sent while protected, up to two.
		want := min(i-3, protectDistance)
		blocks := pl.Redundant()
		if len(blocks) != want {
			t.Errorf("packet %d carries %d redundant blocks, want %d", i, len(blocks), want)
			continue
		}
		for k, b := range blocks {
			j := i - len(blocks) + k
			if !bytes.Equal(b.Payload, frame(j)) || b.TSOffset != uint16(960*(i-j)) || b.PT != 109 {
				t.Errorf("packet %d block %d: pt %d offset %d %x, want packet %d's", i, k, b.PT, b.TSOffset, b.Payload, j)
			}
		}
	}
	if d.Protecting() {
		t.Error("still protecting after SetProtect(false)")
	}

	_, plain, _ := opusPath(t, opusAt(111))
	if plain.CanProtect() {
		t.Error("a receiver without RED can be protected")
	}
}

func BenchmarkForwardPathProtected(b *testing.B) {
	recvRED := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: red.MimeType, ClockRate: 48000, Channels: 2,
		SDPFmtpLine: "111/111"}, PayloadType: 63}
	up, d, _ := opusPath(b, opusAt(111), recvRED)
	d.mu.Lock()
	d.writer = &countingWriter{}
	d.mu.Unlock()
	d.SetProtect(true)
	var win dedup.Window
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SSRC: 5}, Payload: bytes.Repeat([]byte{0xfc}, 120)}
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.SequenceNumber, p.Timestamp = uint16(i), uint32(960*i)
		up.handle(0, &p, &up.layers[0].feedVP8, &win, now)
	}
}
