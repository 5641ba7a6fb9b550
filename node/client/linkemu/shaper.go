// Package linkemu emulates a participant's access link (delay, jitter, loss
// and a bandwidth cap) underneath pion's transport.Net, so that a synthetic
// participant on loopback can sit on a bad network.
package linkemu

import (
	"errors"
	"fmt"
	"math/rand"
	"time"
)

// DefaultQueue is how long a packet may wait behind the bandwidth cap when
// Impairment.Queue is zero: about what a home router buffers.
const DefaultQueue = 200 * time.Millisecond

// minBurst keeps a tiny cap from starving full-size packets forever: the
// bucket always holds at least two MTU-sized packets.
const minBurst = 2 * 1500 * 8

// Impairment describes one direction of a link. The zero value is a perfect link.
type Impairment struct {
	// Delay is the one-way base latency.
	Delay time.Duration
	// Jitter adds a uniformly random extra delay in [0, Jitter). Packets are
	// never reordered: a packet is held until the one before it is delivered.
	Jitter time.Duration
	// Loss is the probability (0..1) that a packet is dropped at random.
	Loss float64
	// RateBps caps the throughput in bits per second; 0 means no cap.
	RateBps int64
	// Burst is the token bucket depth in bits; 0 means 20 ms at RateBps.
	Burst int64
	// Queue is the longest a packet waits for tokens before the link drops
	// it (tail drop); 0 means DefaultQueue.
	Queue time.Duration
}

// Validate reports settings that no link can have.
func (i Impairment) Validate() error {
	var errs []error
	if i.Delay < 0 {
		errs = append(errs, fmt.Errorf("delay %v is negative", i.Delay))
	}
	if i.Jitter < 0 {
		errs = append(errs, fmt.Errorf("jitter %v is negative", i.Jitter))
	}
	if i.Loss < 0 || i.Loss > 1 || i.Loss != i.Loss {
		errs = append(errs, fmt.Errorf("loss %v is outside 0..1", i.Loss))
	}
	if i.RateBps < 0 {
		errs = append(errs, fmt.Errorf("rate %d bit/s is negative", i.RateBps))
	}
	if i.Burst < 0 {
		errs = append(errs, fmt.Errorf("burst %d bits is negative", i.Burst))
	}
	if i.Queue < 0 {
		errs = append(errs, fmt.Errorf("queue %v is negative", i.Queue))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("linkemu: %w", err)
	}
	return nil
}

func (i Impairment) burst() float64 {
	b := i.Burst
	if b == 0 {
		b = i.RateBps / 50
	}
	return float64(max(b, minBurst))
}

func (i Impairment) queue() time.Duration {
	if i.Queue == 0 {
		return DefaultQueue
	}
	return i.Queue
}

// Verdict is what the link does with one packet.
type Verdict int

// Verdicts.
const (
	Deliver   Verdict = iota // delivered at the returned time
	LostRand                 // lost at random (Impairment.Loss)
	LostQueue                // dropped because the queue behind the cap is full
)

// shaper is one direction of a link as a pure state machine: given the time a
// packet is offered and its size it says when the packet comes out, or that it
// does not. It is not safe for concurrent use; the Link serialises calls.
type shaper struct {
	imp Impairment
	rng *rand.Rand

	// tokens (bits) at time ref; negative while packets queue for the cap.
	tokens float64
	ref    time.Time
	// lastOut keeps delivery times monotonic so jitter never reorders.
	lastOut time.Time
}

func newShaper(imp Impairment, seed int64) *shaper {
	return &shaper{imp: imp, rng: rand.New(rand.NewSource(seed)), tokens: imp.burst()}
}

// set changes the impairment; packets already admitted keep their times.
func (s *shaper) set(imp Impairment) {
	s.imp = imp
	if s.tokens > imp.burst() {
		s.tokens = imp.burst()
	}
}

// admit decides the fate of a packet of size bytes offered at now.
func (s *shaper) admit(now time.Time, size int) (time.Time, Verdict) {
	imp := s.imp
	if imp.Loss > 0 && s.rng.Float64() < imp.Loss {
		return time.Time{}, LostRand
	}
	out := now
	if imp.RateBps > 0 {
		rate := float64(imp.RateBps)
		if !s.ref.IsZero() && now.After(s.ref) {
			s.tokens = min(imp.burst(), s.tokens+now.Sub(s.ref).Seconds()*rate)
		}
		if now.After(s.ref) {
			s.ref = now
		}
		bits := float64(size) * 8
		wait := time.Duration(0)
		if left := s.tokens - bits; left < 0 {
			wait = time.Duration(-left / rate * float64(time.Second))
		}
		if wait > imp.queue() {
			return time.Time{}, LostQueue
		}
		s.tokens -= bits
		out = now.Add(wait)
	}
	out = out.Add(imp.Delay)
	if imp.Jitter > 0 {
		out = out.Add(time.Duration(s.rng.Int63n(int64(imp.Jitter))))
	}
	if out.Before(s.lastOut) {
		out = s.lastOut
	}
	s.lastOut = out
	return out, Deliver
}
