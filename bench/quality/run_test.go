package quality

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMainRTT150 runs the uncapped rtt150 case for 8 s through Main (a node
// in this process, a publisher, a receiver behind linkemu) and checks that
// the readings hold what the report is made of: the receiver's video and
// layer, the node's subscription and estimate, the link's counters. It makes
// no assertion on quality figures. Sockets stay on loopback; run it in a
// network namespace like the node tests.
func TestMainRTT150(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a node and two clients for 8 s")
	}
	out := t.TempDir()
	var stdout, stderr strings.Builder
	code := Main(t.Context(), []string{"--cases", "rtt150", "--duration", "8s", "--out", out}, &stdout, &stderr)
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	data, err := os.ReadFile(filepath.Join(out, "rtt150.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("rtt150.json: %v", err)
	}
	if r.Case != "rtt150" || r.Error != "" || len(r.Samples) == 0 {
		t.Fatalf("case %q, error %q, %d readings", r.Case, r.Error, len(r.Samples))
	}
	var layered, forwarded, estimated, linked bool
	for _, s := range r.Samples {
		layered = layered || s.Layer != ""
		forwarded = forwarded || s.Forwarded != ""
		estimated = estimated || s.EstimateBps > 0
		linked = linked || s.LinkSent > 0
	}
	last := r.Samples[len(r.Samples)-1]
	if !layered || last.Frames == 0 || last.VideoBytes == 0 || last.WireBytes == 0 {
		t.Errorf("the receiver got no video: layer seen %v, %d frames, %d video bytes, %d wire bytes",
			layered, last.Frames, last.VideoBytes, last.WireBytes)
	}
	if !forwarded || !estimated {
		t.Errorf("no node reading: forwarded rid seen %v, estimate seen %v", forwarded, estimated)
	}
	if !linked {
		t.Error("nothing went through the receiver's emulated link")
	}
	sum := r.Summary
	if len(sum.Timeline) != 8 || strings.Trim(sum.Timeline, "-?") == "" {
		t.Errorf("timeline %q: want 8 seconds with some video", sum.Timeline)
	}
	if sum.Share["q"]+sum.Share["h"]+sum.Share["f"] == 0 {
		t.Errorf("no share of time with video: %v", sum.Share)
	}
	if !strings.Contains(stdout.String(), "| rtt150 |") {
		t.Errorf("no table row for rtt150 in the output")
	}
	if _, err := os.Stat(filepath.Join(out, "quality.md")); err != nil {
		t.Errorf("table file: %v", err)
	}
}
