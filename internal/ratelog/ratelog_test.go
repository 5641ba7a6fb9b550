package ratelog

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestAllow(t *testing.T) {
	type step struct {
		after   time.Duration // clock advance before the call
		key     string
		ok      bool
		dropped uint64
	}
	tests := []struct {
		name  string
		burst int
		steps []step
	}{
		{"burst then one per interval", 2, []step{
			{0, "a", true, 0},
			{0, "a", true, 0},
			{0, "a", false, 0},
			{0, "a", false, 0},
			{9 * time.Second, "a", false, 0},
			{time.Second, "a", true, 3},
			{0, "a", false, 0},
			{10 * time.Second, "a", true, 1},
		}},
		{"keys do not share a bucket", 1, []step{
			{0, "a", true, 0},
			{0, "a", false, 0},
			{0, "b", true, 0},
			{0, "b", false, 0},
			{0, "b", false, 0},
			{10 * time.Second, "a", true, 1},
			{0, "b", true, 2},
		}},
		{"refill stops at burst", 2, []step{
			{0, "a", true, 0},
			{0, "a", true, 0},
			{time.Hour, "a", true, 0},
			{0, "a", true, 0},
			{0, "a", false, 0},
		}},
		{"a full bucket's clock restarts when a token is taken", 1, []step{
			{time.Hour, "a", true, 0},
			{9 * time.Second, "a", false, 0},
			{time.Second, "a", true, 1},
		}},
		{"partial intervals carry over", 3, []step{
			{0, "a", true, 0},
			{0, "a", true, 0},
			{0, "a", true, 0},
			{15 * time.Second, "a", true, 0},
			{5 * time.Second, "a", true, 0},
			{0, "a", false, 0},
		}},
		{"clock stepping back grants nothing", 1, []step{
			{0, "a", true, 0},
			{-time.Hour, "a", false, 0},
			{time.Hour, "a", false, 0},
			{10 * time.Second, "a", true, 2},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{time.Unix(1e9, 0)}
			l := New[string](c.now, tt.burst, 10*time.Second)
			var drops uint64
			for i, s := range tt.steps {
				c.t = c.t.Add(s.after)
				ok, dropped := l.Allow(s.key)
				if ok != s.ok || dropped != s.dropped {
					t.Fatalf("step %d: Allow(%q) = %v, %d; want %v, %d", i, s.key, ok, dropped, s.ok, s.dropped)
				}
				if !ok {
					drops++
				}
			}
			if got := l.Suppressed(); got != drops {
				t.Errorf("Suppressed() = %d, want %d", got, drops)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	l := New[int](c.now, 0, 0)
	for i := range DefaultBurst {
		if ok, _ := l.Allow(1); !ok {
			t.Fatalf("line %d of the burst dropped", i)
		}
	}
	if ok, _ := l.Allow(1); ok {
		t.Fatal("line past the burst let through")
	}
	c.t = c.t.Add(DefaultEvery)
	if ok, n := l.Allow(1); !ok || n != 1 {
		t.Fatalf("after DefaultEvery: %v, %d", ok, n)
	}
}

// Keys from the network must not grow the map without bound.
func TestKeysBounded(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	l := New[int](c.now, 1, time.Second)
	let := 0
	for k := range 10 * maxKeys {
		if ok, _ := l.Allow(k); ok {
			let++
		}
	}
	if len(l.buckets) != maxKeys {
		t.Errorf("%d buckets, want %d", len(l.buckets), maxKeys)
	}
	if let != maxKeys+1 {
		t.Errorf("%d lines let through, want %d (one per bucket plus the overflow's)", let, maxKeys+1)
	}
}

func TestConcurrent(t *testing.T) {
	before := Suppressed()
	l := New[string](nil, 5, time.Hour)
	var wg sync.WaitGroup
	var mu sync.Mutex
	let := map[string]int{}
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				k := fmt.Sprint((g + i) % 3)
				if ok, _ := l.Allow(k); ok {
					mu.Lock()
					let[k]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for k, n := range let {
		if n != 5 {
			t.Errorf("key %s: %d let through, want 5", k, n)
		}
	}
	if got := l.Suppressed(); got != 8000-15 {
		t.Errorf("Suppressed() = %d, want %d", got, 8000-15)
	}
	if got := Suppressed() - before; got < 8000-15 {
		t.Errorf("process total grew by %d, want at least %d", got, 8000-15)
	}
}

func TestHandler(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	var buf bytes.Buffer
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	log := slog.New(NewHandler(h, New[string](c.now, 2, 10*time.Second))).With("scope", "x")
	for i := range 100 {
		log.Warn("bad packet", "from", i)
		log.Debug("below the level", "i", i)
	}
	c.t = c.t.Add(10 * time.Second)
	log.Warn("bad packet", "from", 100)
	want := `level=WARN msg="bad packet" scope=x from=0
level=WARN msg="bad packet" scope=x from=1
level=WARN msg="bad packet" scope=x from=100 suppressed=98
`
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// A record below the level must cost nothing: no lock, no token, no
// allocation.
func TestBelowLevelFree(t *testing.T) {
	l := New[string](nil, 1, time.Hour)
	log := slog.New(NewHandler(slog.NewTextHandler(&strings.Builder{}, nil), l))
	allocs := testing.AllocsPerRun(1000, func() {
		log.Debug("hidden")
	})
	if allocs != 0 {
		t.Errorf("%v allocations per line below the level", allocs)
	}
	if len(l.buckets) != 0 {
		t.Errorf("a line below the level reached the limiter")
	}
	if !log.Enabled(context.Background(), slog.LevelInfo) {
		t.Error("Enabled does not follow the wrapped handler")
	}
}

func TestAllowAllocs(t *testing.T) {
	l := New[string](nil, 1, time.Hour)
	l.Allow("k")
	if allocs := testing.AllocsPerRun(1000, func() { l.Allow("k") }); allocs != 0 {
		t.Errorf("%v allocations per dropped line", allocs)
	}
}
