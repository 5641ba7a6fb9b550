package pionlog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestLevels(t *testing.T) {
	var buf bytes.Buffer
	f := Factory{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))}
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
