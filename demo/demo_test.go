package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/syncbuf"
)

// runMain runs Main with args plus a summary file and returns the status,
// stdout and the decoded summary.
func runMain(t *testing.T, args ...string) (int, string, Summary) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "summary.json")
	args = append(args, "--summary", path)
	var stdout, stderr syncbuf.Buffer
	status := Main(context.Background(), args, &stdout, &stderr)
	t.Logf("stdout:\n%s", stdout.String())
	if e := stderr.String(); e != "" {
		t.Logf("stderr:\n%s", e)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("summary file: %v", err)
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("summary file: %v", err)
	}
	return status, stdout.String(), s
}

// TestMainShortRun exercises the whole run (nodes, participants, monitor,
// status lines, shutdown) briefly; it makes no media assertions, so it
// also runs under the race detector.
func TestMainShortRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for 6 s")
	}
	start := time.Now()
	status, out, s := runMain(t, "--headless", "--duration", "6s", "--port", "0", "--every", "2s",
		"--nodes", "2", "--conferences", "1", "--participants", "2", "--churn=false")
	if status != 0 && status != 1 {
		t.Errorf("exit status %d, want 0 or 1 (ran)", status)
	}
	if d := time.Since(start); d > 12*time.Second {
		t.Errorf("a 6 s demo took %v to return", d)
	}
	if len(s.Nodes) != 2 || len(s.Conferences) != 1 {
		t.Fatalf("%d nodes and %d conferences, want 2 and 1", len(s.Nodes), len(s.Conferences))
	}
	if n := len(s.Conferences[0].Participants); n != 2 {
		t.Errorf("%d participant sessions, want 2", n)
	}
	if !strings.Contains(out, "demo summary after") {
		t.Error("no final summary printed")
	}
}

// TestDemoHeadless is `switchyard demo --headless --duration 20s`: three
// cascaded nodes, two conferences with churn and a lossy participant.
func TestDemoHeadless(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the 20 s demo")
	}
	if raceEnabled {
		t.Skip("media timing is not real-time under the race detector; TestMainShortRun covers the run")
	}
	start := time.Now()
	status, out, s := runMain(t, "--headless", "--duration", "20s", "--port", "0", "--every", "5s")
	if status != 0 {
		t.Errorf("exit status %d, want 0", status)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("a 20 s demo took %v to return", d)
	}
	if !strings.Contains(out, "/r/demo?name=you") {
		t.Error("no browser URL printed")
	}
	if n := strings.Count(out, "\nt="); n < 3 {
		t.Errorf("%d status lines in 20 s, want one every 5 s", n)
	}
	if len(s.Nodes) != 3 || len(s.Conferences) != 2 {
		t.Fatalf("%d nodes and %d conferences, want 3 and 2", len(s.Nodes), len(s.Conferences))
	}
	if err := s.AllReceived(); err != nil {
		t.Errorf("media: %v", err)
	}
	if err := s.LossyLayerLower(); err != nil {
		t.Errorf("lossy layer: %v", err)
	}
	if err := s.LossySeesSpeaker(); err != nil && !errors.Is(err, ErrNotApplicable) {
		t.Errorf("lossy participant and the speaker: %v", err)
	}
	if err := s.DominantSpeakerChanged(); err != nil {
		t.Errorf("dominant speaker: %v", err)
	}
	if err := s.NodesHealthy(); err != nil {
		t.Errorf("nodes: %v", err)
	}
	// From here on the cascade is needed: without it AllReceived above
	// only checked participants sharing a node.
	if !s.Cascaded {
		t.Fatal("no node reported cascade peers")
	}
	if err := s.RelayedAcrossNodes(); err != nil {
		t.Errorf("relay: %v", err)
	}
	if err := s.RedirectedHome(); err != nil {
		t.Errorf("bridge selection: %v", err)
	}
	if got := s.Pairs(); got < 6 {
		t.Errorf("only %d receiver-publisher pairs checked", got)
	}
}

// The console hides what was printed before it, so the browser URL goes in
// its hint line too; headless prints it at the start.
func TestBrowserURLShown(t *testing.T) {
	nodes, err := startNodes(context.Background(), options{nodes: 1}, quietLogger(), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	defer closeNodes(nodes, 2*time.Second)
	url := nodes[0].URL() + "/r/demo?name=you"
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Errorf("browser URL %s is not on loopback", url)
	}
	if got, want := consoleOptions(nil, quietLogger(), nodes).Hint, "open "+url+" in a browser"; got != want {
		t.Errorf("console hint %q, want %q", got, want)
	}
	var out bytes.Buffer
	writeBanner(&out, options{nodes: 1, conferences: 1, participants: 2, headless: true}, nodes)
	if !strings.Contains(out.String(), url+"\n") {
		t.Errorf("headless banner lacks %s:\n%s", url, out.String())
	}
}
