package media

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/media/codec"
	"github.com/switchyard/switchyard/media/dedup"
)

// TestWaitingTrackStartsOnAKeyframe: a down track bound before the
// receiver's transport is up forwards nothing while it waits, asks for a
// keyframe the moment it is let go, and starts on that keyframe, not on
// the delta frames that came meanwhile (pion would have dropped them).
func TestWaitingTrackStartsOnAKeyframe(t *testing.T) {
	var plis []int
	up := NewUpTrack(UpTrackConfig{Publisher: "pub", Kind: KindVideo, Codec: vp8Codec, PLIInterval: time.Hour,
		SendPLI: func(layer int, _ uint32) error { plis = append(plis, layer); return nil }})
	up.layers[0].present.Store(true)
	d := NewDownTrack(up)
	d.SetWaiting(true)
	w := &recordingWriter{}
	if _, err := d.Bind(recordingBind{bindContext: bindContext{ssrc: 4242}, w: w}); err != nil {
		t.Fatal(err)
	}
	d.SetTarget(0)
	up.AddSink(d)
	var vp8 codec.VP8
	var win dedup.Window
	now := time.Now()
	send := func(i int, key bool) {
		p := vp8Packet(uint16(1000+i), uint32(3000*i), uint16(i), key)
		p.Marker = true
		up.handle(0, &p, &vp8, &win, now.Add(time.Duration(i)*33*time.Millisecond))
	}
	send(0, true) // a keyframe while waiting: the transport would drop it
	for i := 1; i < 5; i++ {
		send(i, false)
	}
	if len(w.sent) != 0 || len(plis) != 0 {
		t.Fatalf("while waiting: %d packets forwarded, keyframe requests %v; want none", len(w.sent), plis)
	}
	d.SetWaiting(false)
	if len(plis) != 1 || plis[0] != 0 {
		t.Fatalf("let go: keyframe requests %v, want one for layer 0", plis)
	}
	send(5, false)
	send(6, false)
	send(7, true)
	send(8, false)
	if len(w.sent) != 2 {
		t.Fatalf("forwarded %d packets after the wait, want the keyframe and the frame after it", len(w.sent))
	}
	var got codec.VP8
	if err := codec.ParseVP8(w.sent[0].Payload, &got); err != nil || !got.Keyframe {
		t.Errorf("the first packet forwarded is not a keyframe (%v)", err)
	}
	// Letting go again asks nothing more (the interval is long: a request
	// would show).
	d.SetWaiting(false)
	if len(plis) != 1 {
		t.Errorf("a second release asked for another keyframe: %v", plis)
	}
}
