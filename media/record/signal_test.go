package record

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/media"
)

// helperEnv names the directory a helper process records into.
const helperEnv = "RECORD_TEST_HELPER_DIR"

// TestHelperRecordProcess is not a test: run by the tests below as a
// separate process, it records a participant in real time until it is
// signalled. On SIGTERM it closes the recording, as the node does when it
// shuts down.
func TestHelperRecordProcess(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("helper process for TestRecordStoppedBySignal")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	rec, err := NewRecording(dir, "signal", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pub := newPublisher(t, scenario{duration: time.Minute, seed: 30, realtime: true})
	vt, err := rec.AddTrack(TrackInfo{Participant: "p", Source: media.SourceCamera, Codec: vp8Codec, RequestKeyframe: pub.requestKeyframe})
	if err != nil {
		t.Fatal(err)
	}
	at, err := rec.AddTrack(TrackInfo{Participant: "p", Source: media.SourceMic, Codec: opusCodec})
	if err != nil {
		t.Fatal(err)
	}
	pub.vUp.AddSink(vt)
	pub.aUp.AddSink(at)
	go pub.run()
	<-ctx.Done()
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	os.Exit(0)
}

// startHelper runs the helper process and waits until both files have
// started and about two seconds are recorded.
func startHelper(t *testing.T) (*exec.Cmd, string) {
	t.Helper()
	needFFmpeg(t)
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperRecordProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := helperManifest(dir); m != nil && len(m.Files) == 2 && m.Files[0].FirstPacket != nil && m.Files[1].FirstPacket != nil {
			time.Sleep(2 * time.Second)
			return cmd, dir
		}
		if time.Now().After(deadline) {
			t.Fatal("the helper did not start recording in 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func helperManifest(dir string) *Manifest {
	paths, _ := filepath.Glob(filepath.Join(dir, "signal-*", ManifestName))
	if len(paths) != 1 {
		return nil
	}
	m, err := ReadManifest(paths[0])
	if err != nil {
		return nil
	}
	return m
}

// SIGTERM: the node closes the recording; every file is finalised and
// plays, and the manifest has the end.
func TestRecordStoppedBySIGTERM(t *testing.T) {
	cmd, dir := startHelper(t)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	m := helperManifest(dir)
	if m == nil || m.Ended == nil {
		t.Fatalf("manifest %+v: no end", m)
	}
	rdir := filepath.Dir(mustGlob(t, filepath.Join(dir, "signal-*", ManifestName)))
	for _, f := range m.Files {
		want := time.Duration(f.Duration * float64(time.Second))
		if want < time.Second || f.Ended == nil || f.Error != "" {
			t.Fatalf("file %+v", f)
		}
		checkFile(t, filepath.Join(rdir, f.File), map[media.Kind]string{media.KindVideo: "vp8", media.KindAudio: "opus"}[f.Kind], want)
	}
}

// SIGKILL: nothing is finalised, yet what was written decodes (clusters
// are written as they come, without sizes to patch) and tells its duration
// to within a second.
func TestRecordKilled(t *testing.T) {
	cmd, dir := startHelper(t)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	m := helperManifest(dir)
	if m == nil || m.Ended != nil {
		t.Fatalf("manifest %+v", m)
	}
	rdir := filepath.Dir(mustGlob(t, filepath.Join(dir, "signal-*", ManifestName)))
	for _, f := range m.Files {
		path := filepath.Join(rdir, f.File)
		n := decodedFrames(t, path)
		// About two seconds were recorded: at least one of 30 fps video or
		// 50 packets a second of audio.
		if n < 30 {
			t.Errorf("%s: %d frames decode", f.File, n)
		}
		if errs := decodeErrors(t, path); errs != "" && !truncatedTail(errs) {
			t.Errorf("%s: ffmpeg decoding errors:\n%s", f.File, errs)
		}
		// The header's duration was kept up to date, once a second.
		if d, rate := probeDurationOrNaN(path), frameRate(f.Kind); math.IsNaN(d) || d < 1 || d > float64(n)/rate+0.1 {
			t.Errorf("%s: duration %v for %d frames", f.File, d, n)
		}
	}
}

// frameRate is the clips' frames per second.
func frameRate(k media.Kind) float64 {
	if k == media.KindVideo {
		return 30
	}
	return 50
}

// truncatedTail tells the one complaint a killed writer may leave: its last
// block cut short.
func truncatedTail(errs string) bool {
	for _, l := range strings.Split(errs, "\n") {
		if !strings.Contains(l, "Read error") && !strings.Contains(l, "truncated") && !strings.Contains(l, "EOF") {
			return false
		}
	}
	return true
}

func probeDurationOrNaN(path string) float64 {
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration",
		"-of", "default=noprint_wrappers=1:nokey=1", path).Output()
	if err != nil {
		return math.NaN()
	}
	var d float64
	if _, err := fmt.Sscan(strings.TrimSpace(string(out)), &d); err != nil {
		return math.NaN()
	}
	return d
}

func mustGlob(t *testing.T, pattern string) string {
	t.Helper()
	paths, err := filepath.Glob(pattern)
	if err != nil || len(paths) != 1 {
		t.Fatalf("glob %s: %v %v", pattern, paths, err)
	}
	return paths[0]
}
