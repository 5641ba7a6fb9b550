package record

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/switchyard/switchyard/media"
)

func TestNewRecordingUnwritable(t *testing.T) {
	// Tests run as root, which permission bits do not stop: a file where a
	// directory should be stops everyone.
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{notDir, filepath.Join(notDir, "sub")} {
		rec, err := NewRecording(dir, "room", time.Now())
		if err == nil || !errors.Is(err, syscall.ENOTDIR) && !errors.Is(err, os.ErrExist) {
			t.Errorf("NewRecording(%s) = %v, %v; want ENOTDIR", dir, rec, err)
		}
	}
}

func TestAddTrackDirectoryGone(t *testing.T) {
	rec, err := NewRecording(t.TempDir(), "room", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(rec.Dir()); err != nil {
		t.Fatal(err)
	}
	tr, err := rec.AddTrack(TrackInfo{Participant: "p", Codec: vp8Codec})
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("AddTrack = %v, %v; want ENOENT", tr, err)
	}
	if _, err := rec.AddTrack(TrackInfo{Participant: "p", Codec: opusCodec}); err == nil {
		t.Fatal("AddTrack succeeded without a directory")
	}
	if err := rec.Close(); err == nil {
		t.Error("Close could write the manifest without a directory")
	}
	if _, err := rec.AddTrack(TrackInfo{Participant: "p", Codec: opusCodec}); !errors.Is(err, ErrRecordingClosed) {
		t.Errorf("AddTrack after Close: %v", err)
	}
}

func TestUnsupportedCodec(t *testing.T) {
	rec, err := NewRecording(t.TempDir(), "room", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	h264 := vp8Codec
	h264.MimeType = "video/H264"
	redNoPrimary := redCodec
	redNoPrimary.SDPFmtpLine = ""
	if _, err := rec.AddTrack(TrackInfo{Participant: "p", Codec: h264}); !errors.Is(err, ErrUnsupportedCodec) {
		t.Errorf("H264: %v, want ErrUnsupportedCodec", err)
	}
	if _, err := rec.AddTrack(TrackInfo{Participant: "p", Codec: redNoPrimary}); !errors.Is(err, ErrUnsupportedCodec) {
		t.Errorf("RED without a primary: %v, want ErrUnsupportedCodec", err)
	}
}

// A full disk (/dev/full: every write fails with ENOSPC) stops the track,
// reports the error once, and the caller goes on unblocked.
func TestRecordDiskFull(t *testing.T) {
	needFFmpeg(t)
	rec, err := NewRecording(t.TempDir(), "room", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/full", filepath.Join(rec.Dir(), "alice-camera.webm")); err != nil {
		t.Fatal(err)
	}
	pub := newPublisher(t, scenario{duration: 2 * time.Second, seed: 9})
	var reported []error
	var mu sync.Mutex
	vt, err := rec.AddTrack(TrackInfo{Participant: "alice", Source: media.SourceCamera, Codec: vp8Codec,
		RequestKeyframe: pub.requestKeyframe,
		OnError:         func(err error) { mu.Lock(); reported = append(reported, err); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	at, err := rec.AddTrack(TrackInfo{Participant: "alice", Source: media.SourceMic, Codec: opusCodec})
	if err != nil {
		t.Fatal(err)
	}
	pub.vUp.AddSink(vt)
	pub.aUp.AddSink(at)
	pub.sinks = []*Track{vt, at}
	pub.run()
	err = rec.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Close: %v, want ENOSPC", err)
	}
	mu.Lock()
	if len(reported) != 1 || !errors.Is(reported[0], syscall.ENOSPC) {
		t.Errorf("OnError told %v, want one ENOSPC", reported)
	}
	mu.Unlock()
	if !errors.Is(vt.Err(), syscall.ENOSPC) || at.Err() != nil {
		t.Errorf("video %v, audio %v", vt.Err(), at.Err())
	}
	m, err := ReadManifest(rec.ManifestPath())
	if err != nil {
		t.Fatal(err)
	}
	if m.Files[0].Error == "" || m.Files[1].Error != "" {
		t.Errorf("manifest errors %q, %q", m.Files[0].Error, m.Files[1].Error)
	}
	// The audio file is whole.
	checkFile(t, at.Path(), "opus", pub.fedAudio)
}

// failAfter is a file whose writes fail once limit bytes are written, as a
// disk filling up mid-recording does.
type failAfter struct {
	*os.File
	limit   int64
	written int64
	err     error
}

var errInjected = errors.New("injected: no space left")

func (f *failAfter) Write(b []byte) (int, error) {
	if f.written+int64(len(b)) > f.limit {
		return 0, f.err
	}
	f.written += int64(len(b))
	return f.File.Write(b)
}

func TestRecordWriterFailsMidStream(t *testing.T) {
	dir := t.TempDir()
	pub := newPublisher(t, scenario{duration: 4 * time.Second, seed: 11})
	var calls atomic.Int32
	var told atomic.Pointer[error]
	cfg := TrackConfig{
		Codec:           vp8Codec,
		RequestKeyframe: pub.requestKeyframe,
		OnError:         func(err error) { calls.Add(1); told.Store(&err) },
		open: func(path string) (file, error) {
			f, err := os.Create(path)
			return &failAfter{File: f, limit: 200 << 10, err: errInjected}, err
		},
	}
	vt, err := NewTrack(filepath.Join(dir, "v.webm"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	pub.vUp.AddSink(vt)
	pub.sinks = []*Track{vt}
	pub.run() // goes on past the failure: WriteRTP must neither block nor panic
	if err := vt.Close(); !errors.Is(err, errInjected) {
		t.Fatalf("Close: %v", err)
	}
	if calls.Load() != 1 || !errors.Is(*told.Load(), errInjected) {
		t.Errorf("OnError called %d times", calls.Load())
	}
	if st := vt.Stats(); st.Frames == 0 || st.Bytes > 200<<10 {
		t.Errorf("stats %+v: some frames before the failure, no byte past it", st)
	}
}

// Garbage among good packets is dropped and counted; the file still decodes.
func TestRecordGarbage(t *testing.T) {
	needFFmpeg(t)
	c := loadClips(t)
	dir := t.TempDir()
	vt, err := NewTrack(filepath.Join(dir, "v.webm"), TrackConfig{Codec: vp8Codec})
	if err != nil {
		t.Fatal(err)
	}
	pz := rtp.NewPacketizerWithOptions(1200, &codecs.VP8Payloader{EnablePictureID: true},
		rtp.NewFixedSequencer(1), 90000, rtp.WithSSRC(5), rtp.WithTimestamp(0))
	garbage := []struct {
		layer   int
		payload []byte
	}{
		{2, nil},                      // empty
		{2, []byte{0x80}},             // X set, extension octet missing
		{2, []byte{0x90, 0x80, 0x80}}, // 15-bit picture id cut short
		{2, []byte{0x10}},             // descriptor without data
		{2, []byte{0x10, 0x01, 0xff, 0xff, 0xff, 1}}, // interframe whose first partition runs past it
		{7, []byte{0x10, 0x00, 0, 0}},                // no such layer
		{2, make([]byte, 2000)},                      // longer than any packet
	}
	var seq uint16 = 1
	writeAt := func(layer int, hdr rtp.Header, payload []byte, at time.Duration) {
		hdr.SequenceNumber = seq
		seq++
		vt.WriteRTP(&media.Packet{Header: &hdr, Payload: payload, Layer: layer, Arrival: int64(at)})
	}
	sent := 0
	frames := c.video[2]
	var fed time.Duration
	for i := range 2 * len(frames) {
		at := time.Duration(i) * time.Second / 30
		for _, pkt := range pz.Packetize(frames[i%len(frames)], 3000) {
			writeAt(2, pkt.Header, pkt.Payload, at)
		}
		// Garbage breaks the chain until the next keyframe, one a second:
		// none in the last second, so that the end is recorded.
		if i%10 == 5 && i < 2*len(frames)-30 {
			g := garbage[(i/10)%len(garbage)]
			writeAt(g.layer, rtp.Header{Marker: true, Timestamp: uint32(i*3000 + 1)}, g.payload, at)
			sent++
		}
		fed = at + time.Second/30
		for len(vt.queue) > 0 {
			time.Sleep(20 * time.Microsecond)
		}
	}
	if err := vt.Close(); err != nil {
		t.Fatal(err)
	}
	st := vt.Stats()
	if st.Malformed != uint64(sent) {
		t.Errorf("malformed %d, want the %d garbage packets; %+v", st.Malformed, sent, st)
	}
	if st.Frames == 0 {
		t.Fatalf("no frame written: %+v", st)
	}
	if n := decodedFrames(t, vt.Path()); n != int(st.Frames) {
		t.Errorf("ffprobe decodes %d frames, the track wrote %d", n, st.Frames)
	}
	checkFile(t, vt.Path(), "vp8", fed)

	// Audio: an empty payload, and RED that does not parse.
	at, err := NewTrack(filepath.Join(dir, "a.webm"), TrackConfig{Codec: redCodec})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range [][]byte{nil, {0x80 | 111}, {0x80 | 111, 0, 0, 5, 111}, {0xbf, 0, 0, 1, 111, 1}} {
		at.WriteRTP(&media.Packet{Header: &rtp.Header{PayloadType: 63, SequenceNumber: uint16(i)}, Payload: p})
	}
	if err := at.Close(); err != nil {
		t.Fatal(err)
	}
	if st := at.Stats(); st.Malformed != 4 || st.Frames != 0 {
		t.Errorf("audio %+v, want 4 malformed", st)
	}
	if _, err := os.Stat(at.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a track without a frame left its file: %v", err)
	}
}
