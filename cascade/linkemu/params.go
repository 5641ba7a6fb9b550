package linkemu

import (
	"fmt"
	"time"
)

// Params describes the impairment of one direction of one link.
type Params struct {
	// Delay is added to every datagram.
	Delay time.Duration
	// Jitter spreads the delay uniformly over [Delay-Jitter, Delay+Jitter]
	// (never below zero).
	Jitter time.Duration
	// Loss is the probability, in [0,1], that a datagram is dropped.
	Loss float64
	// RateBitsPerSec caps the link's bandwidth; 0 means unlimited. Datagrams
	// queue behind each other at this rate, as on a real bottleneck.
	RateBitsPerSec int64
	// QueueBytes bounds the bytes not yet transmitted at the bottleneck
	// (counting the datagram in transmission) when RateBitsPerSec is set;
	// datagrams that do not fit are dropped. 0 means DefaultQueueBytes.
	QueueBytes int
	// Reorder lets jitter reorder datagrams. Without it a datagram never
	// overtakes an earlier one, as on most real paths, so jitter shows up as
	// delay variation only.
	Reorder bool
}

// DefaultQueueBytes is the bottleneck queue when Params.QueueBytes is 0.
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
		return fmt.Errorf("linkemu: negative rate %d", p.RateBitsPerSec)
	case p.QueueBytes < 0:
		return fmt.Errorf("linkemu: negative queue %d", p.QueueBytes)
	}
	return nil
}

func (p Params) queueBytes() int {
	if p.QueueBytes == 0 {
		return DefaultQueueBytes
	}
	return p.QueueBytes
}
