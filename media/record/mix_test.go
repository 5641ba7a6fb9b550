package record

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/media"
)

// Two participants, the second joining a second later: the mix lays their
// videos side by side, mixes their audio, and lasts from the first start to
// the last end.
func TestMixArgs(t *testing.T) {
	needFFmpeg(t)
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rec, err := NewRecording(t.TempDir(), "mix", start)
	if err != nil {
		t.Fatal(err)
	}
	const clip = 3 * time.Second
	for i, who := range []string{"alice", "bob"} {
		joined := start.Add(time.Duration(i) * time.Second)
		pub := newPublisher(t, scenario{duration: clip, seed: uint64(20 + i)})
		var sinks []*Track
		for _, src := range []media.Source{media.SourceCamera, media.SourceMic} {
			codec := opusCodec
			if src == media.SourceCamera {
				codec = vp8Codec
			}
			tr, err := rec.AddTrack(TrackInfo{Participant: who, Source: src, Codec: codec,
				RequestKeyframe: pub.requestKeyframe, Config: TrackConfig{Clock: func() time.Time { return joined }}})
			if err != nil {
				t.Fatal(err)
			}
			sinks = append(sinks, tr)
		}
		pub.vUp.AddSink(sinks[0])
		pub.aUp.AddSink(sinks[1])
		pub.sinks = sinks
		pub.run()
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	args, err := MixArgs(rec.ManifestPath())
	if err != nil {
		t.Fatal(err)
	}
	graph := args[indexOf(args, "-filter_complex")+1]
	if !strings.Contains(graph, "tpad=start_duration=1.000") || !strings.Contains(graph, "adelay=1000:all=1") {
		t.Errorf("bob is not delayed by a second: %s", graph)
	}
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	mix := filepath.Join(rec.Dir(), MixName)
	if _, w, h := ffprobeStream(t, mix); w != 2*mixTileW || h != mixTileH {
		t.Errorf("mix is %dx%d, want two tiles side by side", w, h)
	}
	checkFile(t, mix, "vp8", clip+time.Second)
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", mix).Output()
	if err != nil || strings.Fields(string(out))[1] != "opus" {
		t.Errorf("mix streams %q (%v), want video and opus", out, err)
	}
}

func TestMixArgsRefuses(t *testing.T) {
	rec, err := NewRecording(t.TempDir(), "empty", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := MixArgs(rec.ManifestPath()); !errors.Is(err, ErrNothingToMix) {
		t.Errorf("empty recording: %v", err)
	}
	if _, err := MixArgs(filepath.Join(rec.Dir(), "nope.json")); err == nil {
		t.Error("missing manifest accepted")
	}
	// A manifest that points outside its directory is refused.
	m := rec.Manifest()
	now := time.Now()
	m.Files = append(m.Files, FileInfo{Kind: media.KindVideo, Source: media.SourceCamera, File: "../../etc/passwd", FirstPacket: &now})
	if err := writeManifest(rec.ManifestPath(), &m); err != nil {
		t.Fatal(err)
	}
	if _, err := MixArgs(rec.ManifestPath()); err == nil {
		t.Error("manifest naming ../../etc/passwd accepted")
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
