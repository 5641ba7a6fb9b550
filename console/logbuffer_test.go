package console

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

func TestLogBufferKeepsLastN(t *testing.T) {
	cases := []struct {
		n, logged int
		want      []string // messages, oldest first
	}{
		{n: 3, logged: 0, want: nil},
		{n: 3, logged: 2, want: []string{"m0", "m1"}},
		{n: 3, logged: 3, want: []string{"m0", "m1", "m2"}},
		{n: 3, logged: 7, want: []string{"m4", "m5", "m6"}},
		{n: 1, logged: 5, want: []string{"m4"}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("n%d_logged%d", tc.n, tc.logged), func(t *testing.T) {
			b := NewLogBuffer(tc.n, nil)
			log := slog.New(b)
			for i := range tc.logged {
				log.Info(fmt.Sprintf("m%d", i))
			}
			var got []string
			for _, e := range b.Entries() {
				got = append(got, e.Message)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("entries %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLogBufferDefaultSize(t *testing.T) {
	b := NewLogBuffer(0, nil)
	log := slog.New(b)
	for i := range defaultLogEntries + 10 {
		log.Info("x", "i", i)
	}
	es := b.Entries()
	if len(es) != defaultLogEntries || es[0].Attrs != "i=10" {
		t.Fatalf("kept %d, first %q", len(es), es[0].Attrs)
	}
}

func TestLogBufferAttrsAndGroups(t *testing.T) {
	b := NewLogBuffer(10, nil)
	log := slog.New(b).With("node", "n1").WithGroup("room").With("name", "standup")
	log.Info("joined", "participant", "p 1", slog.Group("net", "rtt_ms", 42), "empty", "", "esc", "a\x1bb")
	es := b.Entries()
	if len(es) != 1 {
		t.Fatalf("%d entries", len(es))
	}
	want := `node=n1 room.name=standup room.participant="p 1" room.net.rtt_ms=42 room.empty="" room.esc="a\x1bb"`
	if es[0].Attrs != want {
		t.Fatalf("attrs\n got %s\nwant %s", es[0].Attrs, want)
	}
	// The parent handler is unchanged by With.
	slog.New(b).Info("plain")
	if got := b.Entries()[1].Attrs; got != "" {
		t.Fatalf("parent picked up attrs %q", got)
	}
}

func TestLogBufferPassesOn(t *testing.T) {
	var out bytes.Buffer
	next := slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn})
	b := NewLogBuffer(10, next)
	log := slog.New(b).With("k", "v")
	ctx := context.Background()
	cases := []struct {
		level   slog.Level
		enabled bool // by the buffer
		kept    bool
		passed  bool
	}{
		{slog.LevelDebug, false, false, false},
		{slog.LevelInfo, true, true, false},
		{slog.LevelWarn, true, true, true},
		{slog.LevelError, true, true, true},
	}
	for _, tc := range cases {
		out.Reset()
		before := len(b.Entries())
		if got := b.Enabled(ctx, tc.level); got != tc.enabled {
			t.Errorf("%v: Enabled = %v, want %v", tc.level, got, tc.enabled)
		}
		log.Log(ctx, tc.level, "msg")
		if kept := len(b.Entries()) > before; kept != tc.kept {
			t.Errorf("%v: kept = %v, want %v", tc.level, kept, tc.kept)
		}
		if passed := strings.Contains(out.String(), "k=v"); passed != tc.passed {
			t.Errorf("%v: passed on = %v (%q), want %v", tc.level, passed, out.String(), tc.passed)
		}
	}
	// Debug is kept when the next handler wants it.
	dbg := NewLogBuffer(10, slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	slog.New(dbg).Debug("d")
	if len(dbg.Entries()) != 1 {
		t.Fatal("debug record not kept although next handler is at debug")
	}
}

func TestLogBufferConcurrent(t *testing.T) {
	b := NewLogBuffer(50, nil)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			log := slog.New(b).With("g", g)
			for i := range 200 {
				log.Info("m", "i", i)
				if i%20 == 0 {
					_ = b.Entries()
				}
			}
		}()
	}
	wg.Wait()
	if n := len(b.Entries()); n != 50 {
		t.Fatalf("kept %d, want 50", n)
	}
}
