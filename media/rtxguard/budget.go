package rtxguard

import (
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of BudgetConfig.
const (
	DefaultFraction     = 0.25
	DefaultFloorPackets = 20     // packets/s
	DefaultFloorBytes   = 25_000 // bytes/s, 200 kbit/s
	DefaultBurst        = 500 * time.Millisecond
)

// rateWindow is the time constant of the forwarded-rate estimate that sizes
// the burst.
const rateWindow = time.Second

// BudgetConfig sets how much a receiver may have resent. Zero fields take the defaults.
type BudgetConfig struct {
	// Fraction of the packets and bytes forwarded to the receiver it may
	// have retransmitted.
	Fraction float64
	// FloorPackets and FloorBytes per second are allowed whatever was
	// forwarded, so a receiver of a thin stream on a lossy link is repaired.
	FloorPackets, FloorBytes float64
	// Burst is how many seconds' worth of allowance may be saved up.
	Burst time.Duration
}

func (c BudgetConfig) withDefaults() BudgetConfig {
	if c.Fraction <= 0 {
		c.Fraction = DefaultFraction
	}
	if c.FloorPackets <= 0 {
		c.FloorPackets = DefaultFloorPackets
	}
	if c.FloorBytes <= 0 {
		c.FloorBytes = DefaultFloorBytes
	}
	if c.Burst <= 0 {
		c.Burst = DefaultBurst
	}
	return c
}

// Budget is a token bucket for one receiver's retransmissions, filled by
// what the receiver is forwarded: over any interval T it grants at most
// Burst's worth + max(Floor×T, Fraction×forwarded) packets and bytes (the
// bytes check may overshoot by one packet). Every track sent to the
// receiver shares it; it is safe for concurrent use.
type Budget struct {
	cfg BudgetConfig

	// Added by the forwarding path without the lock.
	fwdPackets, fwdBytes atomic.Uint64

	mu    sync.Mutex // guards the rest
	last  time.Time
	seenP uint64 // forwarded counts as of last
	seenB uint64
	rateP float64 // forwarded per second, smoothed over rateWindow
	rateB float64
	tokP  float64 // packets that may be resent now
	tokB  float64 // bytes; negative after a packet larger than what was left
}

// NewBudget makes a Budget at now; it starts with the floor's burst.
func NewBudget(cfg BudgetConfig, now time.Time) *Budget {
	b := &Budget{cfg: cfg.withDefaults(), last: now}
	burst := b.cfg.Burst.Seconds()
	b.tokP, b.tokB = b.cfg.FloorPackets*burst, b.cfg.FloorBytes*burst
	return b
}

// Forwarded counts packets and bytes sent to the receiver. It takes no lock
// and does not allocate, but its atomic adds cost tens of ns where they are
// contended: callers on the forwarding path add up a few packets first.
func (b *Budget) Forwarded(packets, bytes int) {
	b.fwdPackets.Add(uint64(packets))
	b.fwdBytes.Add(uint64(bytes))
}

// Allow asks to resend one packet at now. When it returns true the caller
// must call either Retransmitted with the bytes sent or Cancel.
func (b *Budget) Allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	if b.tokP < 1 || b.tokB <= 0 {
		return false
	}
	b.tokP--
	return true
}

// Retransmitted charges the n bytes of a packet resent after Allow.
func (b *Budget) Retransmitted(n int) {
	b.mu.Lock()
	b.tokB -= float64(n)
	b.mu.Unlock()
}

// Cancel returns the allowance of an Allow whose packet was not sent.
func (b *Budget) Cancel() {
	b.mu.Lock()
	b.tokP++
	b.mu.Unlock()
}

// refill credits what was forwarded since the last call; called with mu held.
func (b *Budget) refill(now time.Time) {
	fp, fb := b.fwdPackets.Load(), b.fwdBytes.Load()
	c := &b.cfg
	burst := c.Burst.Seconds()
	dt := now.Sub(b.last).Seconds()
	if dt <= 0 {
		return // nothing to credit; a clock that went back credits nothing
	}
	dp, db := float64(fp-b.seenP), float64(fb-b.seenB)
	b.last, b.seenP, b.seenB = now, fp, fb
	// The forwarded rate is smoothed (an exponential average over
	// rateWindow) and the allowance grows at Fraction of it: what it credits
	// for an interval is what was forwarded less what the average still
	// holds, so over any run the credit never exceeds Fraction × forwarded,
	// and the floor applies only when the stream is thinner than it. Each
	// credit is at least 0, so taking the larger of it and the floor's keeps
	// that bound.
	win := rateWindow.Seconds()
	rateP, rateB := dp/dt, db/dt // an interval this long is its own average
	if dt < win {
		keep := 1 - dt/win
		rateP, rateB = b.rateP*keep+dp/win, b.rateB*keep+db/win
	}
	creditP, creditB := dp+win*(b.rateP-rateP), db+win*(b.rateB-rateB)
	b.rateP, b.rateB = rateP, rateB
	b.tokP = min(b.tokP+max(c.FloorPackets*dt, c.Fraction*creditP), burst*max(c.FloorPackets, c.Fraction*rateP))
	b.tokB = min(b.tokB+max(c.FloorBytes*dt, c.Fraction*creditB), burst*max(c.FloorBytes, c.Fraction*rateB))
}
