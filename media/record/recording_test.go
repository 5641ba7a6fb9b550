package record

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/switchyard/switchyard/media"
)

func TestSafeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"alice", "alice"},
		{"Room 1/../x", "Room_1_.._x"},
		{"../../etc", "_._.._etc"},
		{".hidden", "_hidden"},
		{"", "def"},
		{"é", "_"},
		{string(make([]byte, 100)), string(slices.Repeat([]byte{'_'}, 64))},
	}
	for _, tc := range tests {
		if got := safeName(tc.in, "def"); got != tc.want {
			t.Errorf("safeName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A directory per recording, a file per track, a second publication of the
// same source gets a file of its own, and the manifest follows along.
func TestRecordingLayout(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 5, 4, 3, 2, 1, 0, time.FixedZone("X", 3600))
	rec, err := NewRecording(dir, "team/daily", start)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "team_daily-20260504T020201Z"); rec.Dir() != want {
		t.Errorf("dir %s, want %s", rec.Dir(), want)
	}
	again, err := NewRecording(dir, "team/daily", start)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "team_daily-20260504T020201Z-2"); again.Dir() != want {
		t.Errorf("second recording of the same second: %s, want %s", again.Dir(), want)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(rec.ManifestPath())
	if err != nil {
		t.Fatal(err)
	}
	if m.Room != "team/daily" || !m.Started.Equal(start) || m.Ended != nil || len(m.Files) != 0 {
		t.Errorf("first manifest %+v", m)
	}
	var names []string
	for range 2 {
		tr, err := rec.AddTrack(TrackInfo{Participant: "p/1", Source: media.SourceScreen, Codec: vp8Codec})
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, filepath.Base(tr.Path()))
		if err := tr.Close(); err != nil { // nothing written: no file
			t.Fatal(err)
		}
		if _, err := os.Stat(tr.Path()); !os.IsNotExist(err) {
			t.Errorf("empty track left %s", tr.Path())
		}
	}
	if !slices.Equal(names, []string{"p_1-screen.webm", "p_1-screen-2.webm"}) {
		t.Errorf("files %v", names)
	}
	m, err = ReadManifest(rec.ManifestPath())
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != 2 || m.Files[0].Ended == nil || m.Files[0].FirstPacket != nil || m.Files[0].Source != media.SourceScreen {
		t.Errorf("manifest after two empty tracks: %+v", m.Files)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(rec.Dir())
	if err != nil || len(entries) != 1 || entries[0].Name() != ManifestName {
		t.Errorf("directory holds %v (%v), want the manifest alone", entries, err)
	}
}

// slowFile makes every write take a while, as a disk that stalls does.
type slowFile struct {
	*os.File
}

func (f slowFile) Write(b []byte) (int, error) {
	time.Sleep(time.Millisecond)
	return f.File.Write(b)
}

// A writer that falls behind: WriteRTP drops, counts and asks for a
// keyframe, and the file recovers cleanly from the next one.
func TestRecordQueueOverflow(t *testing.T) {
	needFFmpeg(t)
	pub := newPublisher(t, scenario{duration: 6 * time.Second, seed: 13, floodUntil: 3 * time.Second})
	vt, err := NewTrack(filepath.Join(t.TempDir(), "v.webm"), TrackConfig{
		Codec: vp8Codec, RequestKeyframe: pub.requestKeyframe, QueueSize: 16,
		open: func(path string) (file, error) {
			f, err := os.Create(path)
			return slowFile{f}, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	pub.vUp.AddSink(vt)
	pub.sinks = []*Track{vt}
	pub.run() // the first 3 s without waiting for the writer: it falls behind
	if err := vt.Close(); err != nil {
		t.Fatal(err)
	}
	st := vt.Stats()
	t.Logf("%+v", st)
	if st.QueueDrops == 0 || st.KeyframeRequests < 2 || st.Lost == 0 || st.Frames == 0 {
		t.Errorf("stats %+v: want drops, keyframe requests, frames", st)
	}
	checkFile(t, vt.Path(), "vp8", pub.fedVideo) // recovered by the end
	if n := decodedFrames(t, vt.Path()); n != int(st.Frames) {
		t.Errorf("ffprobe decodes %d frames, the track wrote %d", n, st.Frames)
	}
}
