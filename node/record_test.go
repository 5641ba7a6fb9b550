package node_test

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/media"
	"github.com/switchyard/switchyard/media/record"
	"github.com/switchyard/switchyard/node"
	"github.com/switchyard/switchyard/node/nodetest"
	"github.com/switchyard/switchyard/node/snapshot"
)

// recordingAPI calls the recording endpoint of n's API.
func recordingAPI(t *testing.T, n *node.Node, method, room string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, n.URL()+"/api/v1/conferences/"+room+"/recording", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func needFFprobe(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"ffprobe", "ffmpeg"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("SWITCHYARD_REQUIRE_BROWSERS") != "" {
				t.Fatalf("%s is required (CI installs ffmpeg): %v", tool, err)
			}
			t.Skipf("%s not installed", tool)
		}
	}
}

// probe returns a media file's duration and, for video, its largest frame
// width, and fails the test if ffmpeg finds decode errors in it.
func probe(t *testing.T, path string) (time.Duration, int) {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration:stream=width",
		"-of", "default=noprint_wrappers=1", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, out)
	}
	var dur time.Duration
	width := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "duration":
			s, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("ffprobe %s: duration %q", path, v)
			}
			dur = time.Duration(s * float64(time.Second))
		case "width":
			width, _ = strconv.Atoi(v)
		}
	}
	// -enc_time_base -1 keeps the file's own time base: browsers stamp
	// frames when they capture them, and under load two can fall in one
	// 1/fps slot, which the plain null muxer calls an error ("non
	// monotonically increasing dts") although the file is fine.
	if msg, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-enc_time_base", "-1", "-f", "null", "-").CombinedOutput(); err != nil || len(strings.TrimSpace(string(msg))) > 0 {
		t.Errorf("ffmpeg finds errors in %s: %v\n%s", path, err, msg)
	}
	return dur, width
}

// checkRecording reads a finished recording's manifest and checks every
// file with ffprobe and ffmpeg: its duration matches the time from its
// first frame to the end of the recording within 10%.
func checkRecording(t *testing.T, dir string) *record.Manifest {
	t.Helper()
	m, err := record.ReadManifest(filepath.Join(dir, record.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	if m.Ended == nil {
		t.Fatalf("manifest of %s has no end time", dir)
	}
	for _, f := range m.Files {
		if f.FirstPacket == nil {
			t.Errorf("%s (%s of %s) never started", f.File, f.Source, f.Name)
			continue
		}
		want := m.Ended.Sub(*f.FirstPacket)
		got, width := probe(t, filepath.Join(dir, f.File))
		t.Logf("%s: %s %s, %v (wall %v), width %d", f.File, f.Name, f.Source, got.Round(10*time.Millisecond), want.Round(10*time.Millisecond), width)
		if math.Abs(float64(got-want)) > 0.1*float64(want) {
			t.Errorf("%s lasts %v, recorded for %v", f.File, got, want)
		}
	}
	return m
}

// TestServerRecording: the API starts a recording of a conference; everyone
// is told; an encrypted participant is left out with why; every file plays
// without a decode error for as long as it was recorded; stopping tells
// everyone and closes the files.
func TestServerRecording(t *testing.T) {
	needFFprobe(t)
	dir := t.TempDir()
	n := nodetest.Start(t, func(c *node.Config) { c.RecordingDir = dir })
	a := join(t, n, "rec", "alice", publishing)
	b := join(t, n, "rec", "bob", publishing)
	c := join(t, n, "rec", "carol", func(o *client.Options) { publishing(o); o.E2EE = true })
	receivesAt(t, 20*time.Second, a, b, 0)
	receivesAt(t, 20*time.Second, b, a, 0)
	receivesAt(t, 20*time.Second, a, c, 0)

	if code, body := recordingAPI(t, n, http.MethodPost, "nosuchroom"); code != http.StatusNotFound {
		t.Errorf("POST for an unknown conference: %d %s", code, body)
	}
	code, body := recordingAPI(t, n, http.MethodPost, "rec")
	if code != http.StatusCreated {
		t.Fatalf("POST recording: %d %s", code, body)
	}
	var rec snapshot.Recording
	if err := json.Unmarshal([]byte(body), &rec); err != nil || rec.Dir == "" {
		t.Fatalf("POST recording answered %q: %v", body, err)
	}
	if code, _ := recordingAPI(t, n, http.MethodPost, "rec"); code != http.StatusConflict {
		t.Errorf("a second POST: %d, want 409", code)
	}
	for _, who := range []*client.Client{a, b, c} {
		waitFor(t, 5*time.Second, who.ID()+" to be told of the recording", func() (bool, string) { return who.Recorded(), "" })
	}
	// A participant who joins during the recording is told too.
	d := join(t, n, "rec", "dave", nil)
	waitFor(t, 5*time.Second, "a latecomer to be told of the recording", func() (bool, string) { return d.Recorded(), "" })

	snap := n.Snapshot()
	conf, _ := snap.Find("rec")
	if conf.Recording == nil || conf.Recording.Files != 4 || len(conf.Recording.Refused) != 1 ||
		conf.Recording.Refused[0].Participant != c.ID() || !strings.Contains(conf.Recording.Refused[0].Reason, "encrypted") {
		t.Fatalf("the API shows the recording as %+v, want 4 files (alice's and bob's) and carol refused as encrypted", conf.Recording)
	}
	time.Sleep(8 * time.Second)
	if code, body := recordingAPI(t, n, http.MethodDelete, "rec"); code != http.StatusNoContent {
		t.Fatalf("DELETE recording: %d %s", code, body)
	}
	if code, _ := recordingAPI(t, n, http.MethodDelete, "rec"); code != http.StatusNotFound {
		t.Errorf("a second DELETE: %d, want 404", code)
	}
	waitFor(t, 5*time.Second, "alice to be told the recording stopped", func() (bool, string) { return !a.Recorded(), "" })
	m := checkRecording(t, rec.Dir)
	if len(m.Files) != 4 {
		t.Fatalf("manifest lists %d files, want 4: %+v", len(m.Files), m.Files)
	}
	for _, f := range m.Files {
		if f.Participant == c.ID() {
			t.Errorf("carol's encrypted media was recorded: %+v", f)
		}
	}
}

// TestRecordingStopsWithNode: a node stopped while recording leaves files
// that play.
func TestRecordingStopsWithNode(t *testing.T) {
	needFFprobe(t)
	dir := t.TempDir()
	n := nodetest.Start(t, func(c *node.Config) { c.RecordingDir = dir })
	a := join(t, n, "stop", "alice", publishing)
	b := join(t, n, "stop", "bob", nil)
	receivesAt(t, 20*time.Second, b, a, 0)
	if err := n.StartRecording("stop", "test"); err != nil {
		t.Fatal(err)
	}
	snap := n.Snapshot()
	conf, _ := snap.Find("stop")
	time.Sleep(4 * time.Second)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if m := checkRecording(t, conf.Recording.Dir); len(m.Files) != 2 {
		t.Fatalf("manifest lists %d files, want alice's 2", len(m.Files))
	}
}

// TestRecordingUnwritable: a directory the node cannot write stops the
// recording with an error in the API; the call goes on.
func TestRecordingUnwritable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Log("running as root: permissions do not stop root, a file stands in for the directory")
	}
	base := t.TempDir()
	blocked := filepath.Join(base, "file")
	if err := os.WriteFile(blocked, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	n := nodetest.Start(t, func(c *node.Config) { c.RecordingDir = filepath.Join(blocked, "recordings") })
	a := join(t, n, "ro", "alice", publishing)
	b := join(t, n, "ro", "bob", nil)
	receivesAt(t, 20*time.Second, b, a, 0)
	code, body := recordingAPI(t, n, http.MethodPost, "ro")
	if code != http.StatusInternalServerError || !strings.Contains(body, "recordings") {
		t.Fatalf("POST with an unwritable directory: %d %s", code, body)
	}
	snap := n.Snapshot()
	conf, _ := snap.Find("ro")
	if conf.Recording != nil || conf.RecordingError == "" {
		t.Fatalf("the API shows %+v / %q, want no recording and the error", conf.Recording, conf.RecordingError)
	}
	receivesAt(t, 10*time.Second, b, a, 0)
}

// TestCascadeRecording: a node records a participant of another node at
// the top layer, although its own receiver wants only the smallest: the
// recording asks the peer for it.
func TestCascadeRecording(t *testing.T) {
	needFFprobe(t)
	dir := t.TempDir()
	nodes := startCascade(t, []string{"us", "eu"}, func(region string, c *node.Config) { c.RecordingDir = dir })
	a := joinAt(t, nodes["us"], "crec", "alice", "us", publishing)
	b := joinAt(t, nodes["eu"], "crec", "bob", "eu", func(o *client.Options) { o.MaxHeight = 180 })
	receivesAt(t, 20*time.Second, b, a, 0)
	if err := nodes["eu"].StartRecording("crec", "test"); err != nil {
		t.Fatal(err)
	}
	// Everyone in the conference is told, on the other node too.
	for _, who := range []*client.Client{a, b} {
		waitFor(t, 5*time.Second, who.ID()+" to be told of the recording on eu", func() (bool, string) { return who.Recorded(), "" })
	}
	snap := nodes["eu"].Snapshot()
	conf, _ := snap.Find("crec")
	time.Sleep(6 * time.Second)
	if err := nodes["eu"].StopRecording("crec"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "alice on us to be told the recording stopped", func() (bool, string) { return !a.Recorded(), "" })
	m := checkRecording(t, conf.Recording.Dir)
	var camera bool
	for _, f := range m.Files {
		if f.Participant == a.ID() && f.Source == media.SourceCamera {
			camera = true
			if lo, hi := frameWidths(t, filepath.Join(conf.Recording.Dir, f.File)); lo != 1280 || hi != 1280 {
				t.Errorf("alice's camera recorded %d to %d wide on eu, want the top layer's 1280 throughout", lo, hi)
			}
		}
	}
	if !camera || len(m.Files) != 2 {
		t.Fatalf("eu recorded %+v, want alice's camera and microphone", m.Files)
	}
}

// frameWidths decodes a video file and returns its narrowest and widest frame.
func frameWidths(t *testing.T, path string) (lo, hi int) {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "frame=width",
		"-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, out)
	}
	lo = math.MaxInt
	for _, line := range strings.Fields(string(out)) {
		w, err := strconv.Atoi(strings.Trim(line, ","))
		if err != nil {
			t.Fatalf("ffprobe %s: frame width %q", path, line)
		}
		lo, hi = min(lo, w), max(hi, w)
	}
	return lo, hi
}
