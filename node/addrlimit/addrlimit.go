// Package addrlimit bounds what one network address may hold and do at the
// node: concurrent connections and joins per second, so that one host cannot
// lock everybody else out.
package addrlimit

import (
	"errors"
	"net/netip"
	"sync"
	"time"
)

// ErrTooMany is returned when an address holds its share of connections.
var ErrTooMany = errors.New("addrlimit: too many connections from this address")

// Config sets the limits; a zero field means no limit of that kind.
type Config struct {
	Conns     int     // concurrent connections per address
	JoinRate  float64 // joins per second per address, sustained
	JoinBurst int     // joins an address may make at once
	// Exempt addresses are never limited (the demo and the benchmark run
	// every participant from loopback).
	Exempt func(netip.Addr) bool
}

// Limiter tracks every address that holds a connection or recently joined.
// Safe for concurrent use.
type Limiter struct {
	cfg Config
	now func() time.Time

	mu    sync.Mutex
	addrs map[netip.Addr]*entry
}

type entry struct {
	conns  int
	tokens float64
	at     time.Time // when tokens was last topped up
}

// New makes a Limiter; now is the clock (time.Now outside tests).
func New(cfg Config, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{cfg: cfg, now: now, addrs: make(map[netip.Addr]*entry)}
}

func (l *Limiter) exempt(a netip.Addr) bool { return l.cfg.Exempt != nil && l.cfg.Exempt(a) }

// Acquire takes a connection slot for a; call the returned release exactly
// once when the connection ends.
func (l *Limiter) Acquire(a netip.Addr) (release func(), err error) {
	a = a.Unmap()
	if l.cfg.Conns <= 0 || l.exempt(a) {
		return func() {}, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entry(a)
	if e.conns >= l.cfg.Conns {
		l.tidy(a, e)
		return nil, ErrTooMany
	}
	e.conns++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			e.conns--
			l.tidy(a, e)
		})
	}, nil
}

// AllowJoin reports whether a may join now, and spends one join if so.
func (l *Limiter) AllowJoin(a netip.Addr) bool {
	a = a.Unmap()
	if l.cfg.JoinRate <= 0 || l.exempt(a) {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entry(a)
	now := l.now()
	e.tokens = min(float64(l.burst()), e.tokens+now.Sub(e.at).Seconds()*l.cfg.JoinRate)
	e.at = now
	ok := e.tokens >= 1
	if ok {
		e.tokens--
	}
	l.tidy(a, e)
	return ok
}

// Tracked is how many addresses the limiter holds state for.
func (l *Limiter) Tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.addrs)
}

func (l *Limiter) burst() int { return max(l.cfg.JoinBurst, 1) }

// entry returns a's state, new ones with a full bucket; called with mu held.
func (l *Limiter) entry(a netip.Addr) *entry {
	e := l.addrs[a]
	if e == nil {
		e = &entry{tokens: float64(l.burst()), at: l.now()}
		l.addrs[a] = e
	}
	return e
}

// tidy forgets an address that holds nothing and whose bucket would be full
// again, so the map does not grow with every address ever seen; called with
// mu held.
func (l *Limiter) tidy(a netip.Addr, e *entry) {
	if e.conns > 0 {
		return
	}
	full := l.cfg.JoinRate <= 0 ||
		e.tokens+l.now().Sub(e.at).Seconds()*l.cfg.JoinRate >= float64(l.burst())
	if full && l.addrs[a] == e {
		delete(l.addrs, a)
	}
}

// Sweep forgets every address that holds nothing and would have a full
// bucket again; call it now and then (the node does every few seconds).
func (l *Limiter) Sweep() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for a, e := range l.addrs {
		l.tidy(a, e)
	}
}
