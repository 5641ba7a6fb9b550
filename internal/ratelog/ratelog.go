// Package ratelog rate-limits log lines that traffic from the network can
// trigger, so that a flood of junk packets cannot fill the disk.
//
// Each line has a key (a message template, not its formatted text) with a
// token bucket of its own: Burst lines pass at once, then one per Every.
// Lines past the limit are counted; the next line let through carries the
// count as an attribute, suppressed=N.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for New.
const (
	DefaultBurst = 5
	DefaultEvery = 10 * time.Second
)

// SuppressedKey is the attribute a let-through line carries when lines with
// its key were dropped before it.
const SuppressedKey = "suppressed"

// maxKeys bounds a limiter's memory when keys come from the network: keys
// past it share one bucket.
const maxKeys = 1024

var total atomic.Uint64

// Suppressed returns how many lines all limiters in the process have dropped.
func Suppressed() uint64 { return total.Load() }

// Limiter holds one token bucket per key. It is safe for concurrent use.
type Limiter[K comparable] struct {
	now        func() time.Time
	burst      int
	every      time.Duration
	suppressed atomic.Uint64

	mu       sync.Mutex
	buckets  map[K]*bucket // guarded by mu
	overflow bucket        // guarded by mu; shared by keys past maxKeys
}

type bucket struct {
	tokens  int
	last    time.Time // when tokens were last refilled
	dropped uint64    // since the last line let through
}

// New returns a limiter letting burst lines per key through at once, then
// one per every. Zero values take the defaults; a nil now takes time.Now.
func New[K comparable](now func() time.Time, burst int, every time.Duration) *Limiter[K] {
	if now == nil {
		now = time.Now
	}
	if burst <= 0 {
		burst = DefaultBurst
	}
	if every <= 0 {
		every = DefaultEvery
	}
	return &Limiter[K]{now: now, burst: burst, every: every, buckets: make(map[K]*bucket)}
}

// Allow reports whether a line with key may be logged now and, if so, how
// many lines with that key were dropped since the last one let through.
// Call it only for lines the logger would write (after Enabled), so that
// lines below the level neither spend tokens nor cost a lock.
func (l *Limiter[K]) Allow(key K) (ok bool, dropped uint64) {
	now := l.now()
	l.mu.Lock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) < maxKeys {
			b = &bucket{tokens: l.burst, last: now}
			l.buckets[key] = b
		} else {
			b = &l.overflow
		}
	}
	b.refill(now, l.burst, l.every)
	if b.tokens == 0 {
		b.dropped++
		l.mu.Unlock()
		l.suppressed.Add(1)
		total.Add(1)
		return false, 0
	}
	b.tokens--
	dropped, b.dropped = b.dropped, 0
	l.mu.Unlock()
	return true, dropped
}

// Suppressed returns how many lines this limiter has dropped.
func (l *Limiter[K]) Suppressed() uint64 { return l.suppressed.Load() }

// refill adds one token per every since last, up to burst. A full bucket
// accrues nothing, so its clock restarts when a token is next taken.
func (b *bucket) refill(now time.Time, burst int, every time.Duration) {
	if b.tokens >= burst {
		b.last = now
		return
	}
	n := now.Sub(b.last) / every
	if n <= 0 { // also a clock that stepped back
		return
	}
	if n >= time.Duration(burst-b.tokens) {
		b.tokens, b.last = burst, now
		return
	}
	b.tokens += int(n)
	b.last = b.last.Add(n * every)
}

// NewHandler wraps h so that records share l's buckets by message: use it
// for loggers whose messages are constant and whose variable parts are
// attributes. Records below h's level are refused by Enabled as before and
// never reach the limiter.
func NewHandler(h slog.Handler, l *Limiter[string]) slog.Handler {
	return handler{h, l}
}

type handler struct {
	h slog.Handler
	l *Limiter[string]
}

func (h handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.h.Enabled(ctx, level)
}

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	ok, dropped := h.l.Allow(r.Message)
	if !ok {
		return nil
	}
	if dropped > 0 {
		// The caller's record may share its attribute storage.
		r = r.Clone()
		r.AddAttrs(slog.Uint64(SuppressedKey, dropped))
	}
	return h.h.Handle(ctx, r)
}

func (h handler) WithAttrs(as []slog.Attr) slog.Handler { return handler{h.h.WithAttrs(as), h.l} }
func (h handler) WithGroup(name string) slog.Handler    { return handler{h.h.WithGroup(name), h.l} }
