package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// switchyardBinary builds the command, or takes SWITCHYARD_BENCH_EXE.
func switchyardBinary(t *testing.T) string {
	t.Helper()
	if exe := os.Getenv("SWITCHYARD_BENCH_EXE"); exe != "" {
		return exe
	}
	exe := filepath.Join(t.TempDir(), "switchyard")
	cmd := exec.Command("go", "build", "-o", exe, "github.com/switchyard/switchyard")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return exe
}

// TestBenchSmoke runs the 5x2 scenario for about 5 seconds through the real
// binary (node, load generator and reflector as processes) and checks that
// its JSON has every figure.
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs node, load and reflector processes")
	}
	exe := switchyardBinary(t)
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := Main(ctx, []string{"--exe", exe, "--scenarios", "5x2", "--warmup", "1s", "--window", "4s",
		"--out", out}, &stdout, &stderr)
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	if code != 0 {
		t.Fatalf("bench exit %d", code)
	}
	data, err := os.ReadFile(filepath.Join(out, "5x2.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("5x2.json: %v", err)
	}
	n, l := r.Node, r.Load
	for name, v := range map[string]float64{
		"node cpu sec": n.CPUSec, "node cpu per packet": n.CPUPerPacketUs, "egress pps": n.EgressPPS,
		"egress mbps": n.EgressMbps, "cpu per mbit": n.CPUPerMbitMs, "peak rss": n.PeakRSSMB,
		"memory per participant": n.MemPerParticipantKB, "forward delay p50": n.ForwardDelayP50Us,
		"forward delay p99": n.ForwardDelayP99Us,
		"join p50":          l.JoinP50Ms, "first frame p50": l.FirstFrameP50Ms, "first frame p95": l.FirstFrameP95Ms,
		"received mbps": l.ReceivedMbps, "rtt p50": l.RTTP50Ms,
	} {
		if !(v > 0) {
			t.Errorf("%s = %v, want > 0", name, v)
		}
	}
	if n.Participants != 7 || l.NoMedia != 0 || l.JoinFailures != 0 {
		t.Errorf("participants %d, %d without media, %d failed joins", n.Participants, l.NoMedia, l.JoinFailures)
	}
	if r.Reflector == nil || !(r.Reflector.CPUPerPacketUs > 0) || r.Reflector.Forwarded == 0 || !(r.Ratio > 0) {
		t.Errorf("reflector %+v, ratio %v", r.Reflector, r.Ratio)
	}
	if r.Machine.Cores == 0 || r.Machine.GoVersion == "" {
		t.Errorf("machine %+v", r.Machine)
	}
	if !strings.Contains(stdout.String(), "| 5x2 | 7 |") {
		t.Errorf("no 5x2 row in the table:\n%s", stdout.String())
	}
	for _, f := range []string{"table.md", "cpu-vs-subscribers.svg"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
