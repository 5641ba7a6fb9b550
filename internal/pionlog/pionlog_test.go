package pionlog

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/ratelog"
)

func TestLevels(t *testing.T) {
	var buf bytes.Buffer
	f := Factory{
		Logger:  slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Limiter: ratelog.New[Template](nil, 0, 0), // the shared one may be spent by -count
	}
	l := f.NewLogger("ice")
	l.Debugf("hidden %d", 1)
	l.Info("hidden too")
	l.Warnf("candidate %s", "x")
	l.Error("boom")
	out := buf.String()
	for _, want := range []string{"level=INFO msg=\"candidate x\" pion=ice", "level=WARN msg=boom pion=ice"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
	if strings.Contains(out, "hidden") {
		t.Errorf("debug-level lines leaked: %q", out)
	}
}

// An attacker who knows a ufrag gets a line per STUN request from pion:
// lines with one format must not reach the log one each.
func TestFloodBounded(t *testing.T) {
	var buf bytes.Buffer
	f := Factory{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	l := f.NewLogger("ice")
	for i := range 10_000 {
		l.Warnf("Discard request with broken integrity from (%s), %v", fmt.Sprintf("127.0.0.1:%d", 1024+i), "integrity check failed")
		l.Errorf("Failed to handle STUN packet from %s: %v", fmt.Sprintf("127.0.0.1:%d", 1024+i), "bad")
	}
	lines := strings.Count(buf.String(), "\n")
	if lines > 2*ratelog.DefaultBurst {
		t.Errorf("20000 lines from the network wrote %d records, %d bytes", lines, buf.Len())
	}
	t.Logf("%d records, %d bytes of log for 20000 lines", lines, buf.Len())
}

func TestRateLimitByTemplate(t *testing.T) {
	now := time.Unix(1e9, 0)
	lim := ratelog.New[Template](func() time.Time { return now }, 2, 10*time.Second)
	var buf bytes.Buffer
	f := Factory{
		Logger:  slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Limiter: lim,
	}
	ice, ice2, dtls := f.NewLogger("ice"), f.NewLogger("ice"), f.NewLogger("dtls")
	const stun = "Discard request with wrong username from (%s), %v"
	for i := range 1000 {
		from := fmt.Sprintf("10.0.0.%d:%d", i%250, 40000+i)
		ice.Warnf(stun, from, "bad")
		ice2.Warnf(stun, from, "bad") // another agent, same scope: same bucket
		dtls.Warnf(stun, from, "bad") // another scope: a bucket of its own
		ice.Info("no format")         // pion Info is logged at Debug; limited all the same
		ice.Trace("trace lines are not limited")
	}
	now = now.Add(10 * time.Second)
	ice.Warnf(stun, "10.0.0.1:1", "bad")

	out := buf.String()
	count := func(s string) int { return strings.Count(out, s) }
	if n := count("wrong username") - count("pion=dtls"); n != 3 {
		t.Errorf("%d ice lines of one template, want 2 plus 1 after the interval:\n%s", n, out)
	}
	if n := count("pion=dtls"); n != 2 {
		t.Errorf("%d dtls lines, want 2", n)
	}
	if n := count("no format"); n != 2 {
		t.Errorf("%d unformatted lines, want 2", n)
	}
	if n := count("trace lines"); n != 0 {
		t.Errorf("%d trace lines below the level", n)
	}
	if !strings.Contains(out, "pion=ice suppressed=1998\n") {
		t.Errorf("the line after the interval does not carry the count dropped:\n%s", out[max(0, len(out)-300):])
	}
	if got, want := lim.Suppressed(), uint64(2*1000-2+1000-2+1000-2); got != want {
		t.Errorf("Suppressed() = %d, want %d", got, want)
	}
}

// A line below the level costs what it did before the limiter: no token,
// no formatting, no allocation.
func TestBelowLevelFree(t *testing.T) {
	lim := ratelog.New[Template](nil, 1, time.Hour)
	l := Factory{Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), Limiter: lim}.NewLogger("ice")
	allocs := testing.AllocsPerRun(1000, func() { l.Info("hidden") })
	if allocs != 0 {
		t.Errorf("%v allocations per line below the level", allocs)
	}
	if lim.Suppressed() != 0 {
		t.Error("lines below the level reached the limiter")
	}
}
