package record

import (
	"math"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/switchyard/switchyard/media"
)

// recordScenario records one synthetic participant's camera and mic through
// a Recording and returns the tracks (closed) and the recording.
func recordScenario(t *testing.T, sc scenario) (*Recording, *Track, *Track, *publisher) {
	t.Helper()
	needFFmpeg(t)
	rec, err := NewRecording(t.TempDir(), "room 1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pub := newPublisher(t, sc)
	vt, err := rec.AddTrack(TrackInfo{Participant: "alice", Name: "Alice", Source: media.SourceCamera,
		Codec: vp8Codec, RequestKeyframe: pub.requestKeyframe})
	if err != nil {
		t.Fatal(err)
	}
	at, err := rec.AddTrack(TrackInfo{Participant: "alice", Name: "Alice", Source: media.SourceMic,
		Codec: pub.aUp.Codec(), RequestKeyframe: pub.requestKeyframe})
	if err != nil {
		t.Fatal(err)
	}
	pub.vUp.AddSink(vt)
	pub.aUp.AddSink(at)
	pub.sinks = []*Track{vt, at}
	pub.run()
	if err := rec.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	return rec, vt, at, pub
}

// checkFile checks a file with ffprobe and ffmpeg: its codec, a duration
// within 10% of want, and a decode without a single error.
func checkFile(t *testing.T, path, codec string, want time.Duration) {
	t.Helper()
	if got, _, _ := ffprobeStream(t, path); got != codec {
		t.Errorf("%s: codec %q, want %q", filepath.Base(path), got, codec)
	}
	d := ffprobeDuration(t, path)
	if math.Abs(d-want.Seconds()) > 0.1*want.Seconds() {
		t.Errorf("%s: duration %.3f s, want %.3f s within 10%%", filepath.Base(path), d, want.Seconds())
	}
	if errs := decodeErrors(t, path); errs != "" {
		t.Errorf("%s: ffmpeg decoding errors:\n%s", filepath.Base(path), errs)
	}
}

func TestRecordClean(t *testing.T) {
	rec, vt, at, pub := recordScenario(t, scenario{duration: 6 * time.Second, seed: 1})
	checkFile(t, vt.Path(), "vp8", pub.fedVideo)
	checkFile(t, at.Path(), "opus", pub.fedAudio)
	if _, w, h := ffprobeStream(t, vt.Path()); w != 1280 || h != 720 {
		t.Errorf("video %dx%d, want the top layer's 1280x720", w, h)
	}

	// The Opus track carries its OpusHead (RFC 7845): version 1, two
	// channels, no pre-skip, 48 kHz, no gain, mapping family 0.
	out, err := exec.Command("ffprobe", "-v", "error", "-show_streams", "-show_data", at.Path()).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "00000000: 4f70 7573 4865 6164 0102 0000 80bb 0000  OpusHead") ||
		!strings.Contains(string(out), "00000010: 0000 00 ") || !strings.Contains(string(out), "extradata_size=19") {
		t.Errorf("OpusHead as ffprobe reads it:\n%s", out)
	}

	fed := int(pub.fedVideo / (time.Second / 30))
	vs := vt.Stats()
	if vs.Frames != uint64(fed) || vs.FramesDropped != 0 || vs.Lost != 0 || vs.QueueDrops != 0 || vs.Malformed != 0 {
		t.Errorf("video stats %+v, want all %d frames written and nothing lost", vs, fed)
	}
	if n := decodedFrames(t, vt.Path()); n != int(vs.Frames) {
		t.Errorf("ffprobe decodes %d frames, the track wrote %d", n, vs.Frames)
	}
	as := at.Stats()
	if want := uint64(pub.fedAudio / (20 * time.Millisecond)); as.Frames != want || as.Lost != 0 {
		t.Errorf("audio stats %+v, want %d frames", as, want)
	}

	m, err := ReadManifest(rec.ManifestPath())
	if err != nil {
		t.Fatal(err)
	}
	if m.Room != "room 1" || m.Ended == nil || m.Ended.Before(m.Started) || len(m.Files) != 2 {
		t.Fatalf("manifest %+v", m)
	}
	for i, tr := range []*Track{vt, at} {
		f := m.Files[i]
		st, ok := tr.Started()
		if !ok || f.FirstPacket == nil || !f.FirstPacket.Equal(st.Wall.UTC()) ||
			f.FirstRTPTimestamp == nil || *f.FirstRTPTimestamp != st.RTPTimestamp {
			t.Errorf("manifest file %d: %+v, track started %+v", i, f, st)
		}
		if f.File != filepath.Base(tr.Path()) || f.Participant != "alice" || f.Name != "Alice" || f.Ended == nil {
			t.Errorf("manifest file %d: %+v", i, f)
		}
	}
	if f := m.Files[0]; f.Kind != media.KindVideo || f.Source != media.SourceCamera || f.Codec != "VP8" || f.ClockRate != 90000 {
		t.Errorf("video entry %+v", f)
	}
	if f := m.Files[1]; f.Kind != media.KindAudio || f.Source != media.SourceMic || f.Codec != "opus" || f.ClockRate != 48000 {
		t.Errorf("audio entry %+v", f)
	}
	// Both started within a frame of each other in the simulation.
	if d := m.Files[0].FirstPacket.Sub(*m.Files[1].FirstPacket); d.Abs() > 50*time.Millisecond {
		t.Errorf("first packets %v apart", d)
	}
}

func TestRecordLossAndReordering(t *testing.T) {
	sc := scenario{duration: 20 * time.Second, loss: 0.05, reorder: 0.05, seed: 42, red: true}
	_, vt, at, pub := recordScenario(t, sc)
	checkFile(t, vt.Path(), "vp8", pub.fedVideo)
	checkFile(t, at.Path(), "opus", pub.fedAudio)

	vs := vt.Stats()
	t.Logf("video %+v", vs)
	if vs.Lost == 0 || vs.FramesDropped == 0 || vs.KeyframeRequests < 2 {
		t.Errorf("video stats %+v: losses should have dropped frames and asked for keyframes", vs)
	}
	if vs.Frames < uint64(pub.fedVideo/(time.Second/30))/4 {
		t.Errorf("only %d frames written of %v", vs.Frames, pub.fedVideo)
	}
	if n := decodedFrames(t, vt.Path()); n != int(vs.Frames) {
		t.Errorf("ffprobe decodes %d frames, the track wrote %d", n, vs.Frames)
	}
	as := at.Stats()
	t.Logf("audio %+v", as)
	if as.Recovered == 0 || as.Lost == 0 {
		t.Errorf("audio stats %+v: RED should have rebuilt lost packets", as)
	}
	// Lost packets whose next packet came carry them in its redundancy:
	// most of the losses are rebuilt.
	if want := uint64(pub.fedAudio/(20*time.Millisecond)) - as.Lost + as.Recovered; as.Frames != want {
		t.Errorf("audio frames %d, want %d", as.Frames, want)
	}
}

func TestRecordSimulcastSwitch(t *testing.T) {
	// The top layer stops from 3 s to 6 s: the recording goes on from the
	// middle layer and comes back.
	off := func(layer int, at time.Duration) bool {
		return layer == 2 && at >= 3*time.Second && at < 6*time.Second
	}
	_, vt, _, pub := recordScenario(t, scenario{duration: 9 * time.Second, seed: 3, layerOff: off})
	checkFile(t, vt.Path(), "vp8", pub.fedVideo)
	vs := vt.Stats()
	if vs.Switches != 3 {
		t.Errorf("switches %d, want 3 (start, down to h, back to f); %+v", vs.Switches, vs)
	}
	widths := frameWidths(t, vt.Path())
	if widths[1280] == 0 || widths[640] == 0 || widths[320] != 0 {
		t.Errorf("frame widths %v: want 1280 and 640 only", widths)
	}
	// The middle layer covers the outage less the layer timeout and the
	// wait for its keyframe.
	if widths[640] < 30 || widths[640] > 90 {
		t.Errorf("%d frames at 640 wide for a 3 s outage", widths[640])
	}
}

// frameWidths counts the decoded frames by width.
func frameWidths(t *testing.T, path string) map[int]int {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=width",
		"-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe frames: %v\n%s", err, out)
	}
	m := map[int]int{}
	for _, l := range strings.Fields(string(out)) {
		w, err := strconv.Atoi(strings.TrimSuffix(l, ","))
		if err != nil {
			t.Fatalf("ffprobe frame width %q", l)
		}
		m[w]++
	}
	return m
}

func TestRecordCloseMidStream(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	pub := newPublisher(t, scenario{duration: 6 * time.Second, stopAt: 2500 * time.Millisecond, seed: 5, reorder: 0.1})
	vt, err := NewTrack(filepath.Join(dir, "v.webm"), TrackConfig{Codec: vp8Codec, RequestKeyframe: pub.requestKeyframe})
	if err != nil {
		t.Fatal(err)
	}
	at, err := NewTrack(filepath.Join(dir, "a.webm"), TrackConfig{Codec: opusCodec})
	if err != nil {
		t.Fatal(err)
	}
	pub.vUp.AddSink(vt)
	pub.aUp.AddSink(at)
	pub.sinks = []*Track{vt, at}
	pub.run()
	// Half of the next frame arrives, and one packet after a hole that the
	// jitter buffer is still waiting to fill: Close cuts in there.
	ls := pub.layers[2]
	pkts := ls.pz.Packetize(pub.c.video[2][ls.idx%len(pub.c.video[2])], 3000)
	if len(pkts) < 3 {
		t.Fatalf("frame of %d packets; want a longer one", len(pkts))
	}
	now := pub.base.Add(pub.fedVideo)
	pub.vUp.Feed(2, pkts[0], now)
	pub.vUp.Feed(2, pkts[2], now)
	if err := vt.Close(); err != nil {
		t.Fatal(err)
	}
	if err := at.Close(); err != nil {
		t.Fatal(err)
	}
	if err := vt.Close(); err != nil { // twice is fine
		t.Fatal(err)
	}
	vt.WriteRTP(&media.Packet{Header: &rtp.Header{}, Payload: []byte{0x10, 0}}) // after Close: ignored
	checkFile(t, vt.Path(), "vp8", pub.fedVideo)
	checkFile(t, at.Path(), "opus", pub.fedAudio)
	if vs := vt.Stats(); vs.FramesDropped != 1 {
		t.Errorf("video %+v: the unfinished frame should be the one dropped", vs)
	}
}
