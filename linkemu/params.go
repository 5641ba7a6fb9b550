package linkemu

import (
	"fmt"
	"time"
)

// Params describes the impairment of one direction of one link. The zero
// value is a perfect link.
type Params struct {
	// Delay is the one-way latency added to every datagram after the
	// bottleneck.
	Delay time.Duration
	// Jitter spreads the delay uniformly over [Delay-Jitter, Delay+Jitter],
	// clamped at zero, so the mean stays Delay when Jitter <= Delay.
	Jitter time.Duration
	// Loss is the probability, in [0,1], that a datagram is dropped at random.
	Loss float64
	// RateBitsPerSec caps the link's bandwidth in bits per second; 0 means
	// unlimited. Datagrams queue behind each other at this rate, as on a real
	// bottleneck, so each also takes its transmission time (size*8/rate).
	RateBitsPerSec int64
	// QueueBytes bounds the bytes not yet transmitted at the bottleneck
	// (counting the datagram in transmission and the one offered) when
	// RateBitsPerSec is set; datagrams that do not fit are dropped (tail
	// drop). 0 means DefaultQueueBytes. A queue of B bytes holds at most
	// B*8/RateBitsPerSec seconds of waiting.
	QueueBytes int
	// Reorder lets jitter reorder datagrams. Without it a datagram never
	// overtakes an earlier one, as on most real paths, so jitter shows up as
	// delay variation only.
	Reorder bool
}

// DefaultQueueBytes is the bottleneck queue when Params.QueueBytes is 0:
// about 500 ms at 1 Mbit/s, a home router's buffer.
const DefaultQueueBytes = 64 << 10

// IsZero reports whether p impairs nothing, so callers can bypass emulation.
func (p Params) IsZero() bool { return p == Params{} }

// Validate reports parameters that cannot be emulated.
func (p Params) Validate() error {
	switch {
	case p.Delay < 0:
		return fmt.Errorf("linkemu: negative delay %v", p.Delay)
	case p.Jitter < 0:
		return fmt.Errorf("linkemu: negative jitter %v", p.Jitter)
	case p.Loss < 0 || p.Loss > 1 || p.Loss != p.Loss:
		return fmt.Errorf("linkemu: loss %v outside [0,1]", p.Loss)
	case p.RateBitsPerSec < 0:
		return fmt.Errorf("linkemu: negative rate %d bit/s", p.RateBitsPerSec)
	case p.QueueBytes < 0:
		return fmt.Errorf("linkemu: negative queue %d bytes", p.QueueBytes)
	}
	return nil
}

func (p Params) queueBytes() int {
	if p.QueueBytes == 0 {
		return DefaultQueueBytes
	}
	return p.QueueBytes
}
