package linkemu

import (
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// Verdict is what a link did with a datagram.
type Verdict uint8

// Verdicts.
const (
	Queued   Verdict = iota // will be delivered at its arrival time
	Lost                    // dropped by the random loss (Params.Loss)
	Overflow                // dropped because the bottleneck queue was full
	Closed                  // the link was closed
)

func (v Verdict) String() string {
	switch v {
	case Queued:
		return "queued"
	case Lost:
		return "lost"
	case Overflow:
		return "overflow"
	case Closed:
		return "closed"
	}
	return "unknown"
}

// Stats counts what happened to one direction's datagrams.
type Stats struct {
	Sent      uint64 // handed to the link
	Delivered uint64 // passed on at the far end
	Lost      uint64 // dropped by random loss
	Overflow  uint64 // dropped at a full bottleneck queue
}

// counters are a direction's Stats, safe to read from any goroutine.
type counters struct {
	sent, delivered, lost, overflow atomic.Uint64
}

func (c *counters) load() Stats {
	return Stats{
		Sent:      c.sent.Load(),
		Delivered: c.delivered.Load(),
		Lost:      c.lost.Load(),
		Overflow:  c.overflow.Load(),
	}
}

// count records a datagram offered to the link and what became of it.
func (c *counters) count(v Verdict) {
	c.sent.Add(1)
	switch v {
	case Lost:
		c.lost.Add(1)
	case Overflow:
		c.overflow.Add(1)
	}
}

// newRand gives each direction its own stream, so the draws of one do not
// depend on the traffic of another.
func newRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream))
}

// shaper is one direction of a link as a pure state machine: given the time a
// datagram is offered and its size, it says when the datagram arrives, or
// that it does not (see the package doc for the rules). It is not safe for
// concurrent use; its owner serialises calls.
type shaper struct {
	p           Params
	rng         *rand.Rand
	freeAt      time.Time // when the bottleneck finishes the last queued datagram
	lastArrival time.Time
}

func newShaper(p Params, rng *rand.Rand) shaper { return shaper{p: p, rng: rng} }

// admit decides the fate of a datagram of size bytes offered at now. Only a
// Queued verdict comes with an arrival time.
func (s *shaper) admit(now time.Time, size int) (time.Time, Verdict) {
	p := &s.p
	if p.Loss > 0 && s.rng.Float64() < p.Loss {
		return time.Time{}, Lost
	}
	depart := now
	if p.RateBitsPerSec > 0 {
		if s.freeAt.After(now) {
			queued := int64(s.freeAt.Sub(now)) * p.RateBitsPerSec / 8 / int64(time.Second)
			if queued+int64(size) > int64(p.queueBytes()) {
				return time.Time{}, Overflow
			}
			depart = s.freeAt
		}
		depart = depart.Add(time.Duration(int64(size) * 8 * int64(time.Second) / p.RateBitsPerSec))
		s.freeAt = depart
	}
	delay := p.Delay
	if p.Jitter > 0 {
		delay += time.Duration(s.rng.Int64N(2*int64(p.Jitter)+1)) - p.Jitter
		delay = max(delay, 0)
	}
	at := depart.Add(delay)
	if !p.Reorder && at.Before(s.lastArrival) {
		at = s.lastArrival
	}
	s.lastArrival = at
	return at, Queued
}
