package soak

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

// switchyardBinary builds the command once into the test's directory, or
// takes SWITCHYARD_SOAK_EXE.
func switchyardBinary(t *testing.T) string {
	t.Helper()
	if exe := os.Getenv("SWITCHYARD_SOAK_EXE"); exe != "" {
		return exe
	}
	exe := filepath.Join(t.TempDir(), "switchyard")
	cmd := exec.Command("go", "build", "-o", exe, "github.com/switchyard/switchyard")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return exe
}

// TestSoakShort runs `switchyard soak` for a minute: three node processes,
// churn through every departure kind, abuse, a node SIGKILLed half way.
// It passes when the command's checks pass (goroutines and open files back
// to baseline, nothing left on the survivors, media back within 5 s of the
// kill, every departure removed as documented, abuse answered as
// documented), and the JSON report says so figure by figure.
func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three node processes and a minute of churn")
	}
	if raceEnabled {
		t.Skip("too heavy for the race detector; CI runs it without (see .ci/run)")
	}
	exe := switchyardBinary(t)
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "soak.json")
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := Main(ctx, []string{"--exe", exe, "--duration", "60s", "--dir", filepath.Join(dir, "work"),
		"--json", jsonPath}, &stdout, &stderr)
	t.Logf("stdout:\n%s", stdout.String())
	if code != 0 {
		t.Logf("stderr:\n%s", stderr.String())
		logTails(t, filepath.Join(dir, "work"))
		t.Fatalf("soak exit status %d", code)
	}
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("soak.json: %v", err)
	}
	if !rep.OK || len(rep.Checks) != 9 {
		t.Fatalf("report OK %v with %d checks", rep.OK, len(rep.Checks))
	}
	lim := DefaultOptions().Limits
	killed := 0
	for _, n := range rep.Nodes {
		if n.Killed {
			killed++
			continue
		}
		if n.End == nil {
			t.Fatalf("node %s has no end figures", n.ID)
		}
		if d := n.End.Goroutines - n.Start.Goroutines; d > lim.GoroutineSlack {
			t.Errorf("%s: goroutines %d → %d", n.ID, n.Start.Goroutines, n.End.Goroutines)
		}
		if d := n.End.FDs - n.Start.FDs; d > lim.FDSlack {
			t.Errorf("%s: open files %d → %d", n.ID, n.Start.FDs, n.End.FDs)
		}
		if n.End.Participants+n.End.Rooms+n.End.Listed != 0 || len(n.Residual) > 0 {
			t.Errorf("%s holds %+v: %v", n.ID, *n.End, n.Residual)
		}
		if !(n.Start.Goroutines > 0 && n.Start.FDs > 0 && n.Start.HeapInUseMB > 0) {
			t.Errorf("%s: baseline figures missing: %+v", n.ID, n.Start)
		}
		if n.Exit != ExitStopped || len(n.Panics) > 0 {
			t.Errorf("%s ended %q, panics %v", n.ID, n.Exit, n.Panics)
		}
		if n.Counters["relay drops: authentication"] == 0 || n.Counters["switchyard_signaling_bad_messages_total"] == 0 {
			t.Errorf("%s counted no forged relay datagram or bad message: %v", n.ID, n.Counters)
		}
	}
	if len(rep.Nodes) != 3 || killed != 1 {
		t.Fatalf("%d nodes, %d killed; want 3 and 1", len(rep.Nodes), killed)
	}
	f := rep.Failover
	if f == nil || len(f.Moved) == 0 {
		t.Fatalf("failover %+v", f)
	}
	for _, m := range f.Moved {
		if m.Error != "" || !(m.MediaBackSec > 0) || m.MediaBackSec > lim.Failover.Seconds() || m.NewNode == f.Node {
			t.Errorf("moved participant %+v", m)
		}
	}
	for _, d := range rep.Departures {
		if d.Count == 0 || d.NotRemoved != 0 || d.Late != 0 || d.WrongReason != 0 || d.Unexpected != 0 {
			t.Errorf("departures %s: %+v", d.Kind, d)
		}
		if d.Count-d.LostWithNode != d.Removed {
			t.Errorf("departures %s: %d made, %d lost with the node, %d seen removed", d.Kind, d.Count, d.LostWithNode, d.Removed)
		}
	}
	for _, a := range rep.Abuse {
		if a.Sent == 0 || a.Unexpected != 0 {
			t.Errorf("abuse %s: %+v", a.Kind, a)
		}
	}
	if !rep.Media.FlowingAtEnd || rep.Media.Samples == 0 {
		t.Errorf("media %+v", rep.Media)
	}
	if !strings.Contains(stdout.String(), "PASS  "+CheckFailover) {
		t.Errorf("no failover line in the table")
	}
}

// logTails shows the end of every log the soak kept, for a failure in CI.
func logTails(t *testing.T, dir string) {
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, l := range logs {
		data, err := os.ReadFile(l)
		if err != nil {
			continue
		}
		if len(data) > 3000 {
			data = data[len(data)-3000:]
		}
		t.Logf("end of %s:\n%s", filepath.Base(l), data)
	}
}

// TestMainUsage: bad flags are refused with status 2 before anything runs.
func TestMainUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"short duration", []string{"--duration", "5s"}, "at least 10s"},
		{"kill after the end", []string{"--duration", "20s", "--kill-at", "30s"}, "within --duration"},
		{"no churn", []string{"--churn-clients", "0"}, "at least 1"},
		{"negative slack", []string{"--fd-slack", "-1"}, "must not be negative"},
		{"zero failover limit", []string{"--failover-limit", "0s"}, "must be positive"},
		{"argument", []string{"now"}, "unexpected argument"},
		{"unknown flag", []string{"--nodes", "5"}, "unknown flag"},
		{"missing binary", []string{"--exe", "/nonexistent/switchyard"}, "is not a file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := Main(context.Background(), tt.args, &stdout, &stderr); code != 2 {
				t.Errorf("exit %d, want 2 (stderr %q)", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q, want %q", stderr.String(), tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q", stdout.String())
			}
		})
	}
}
