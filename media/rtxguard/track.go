package rtxguard

import "time"

// RingSize is how many recently forwarded sequence numbers a Track
// remembers, and so the largest MaxBack.
const RingSize = 256

// Defaults and clamps of TrackConfig and of the RTT passed to Check.
const (
	DefaultMaxBack = RingSize
	DefaultMaxAge  = time.Second
	DefaultRTT     = 100 * time.Millisecond
	MinRTT         = 20 * time.Millisecond
	MaxRTT         = 500 * time.Millisecond
)

// TrackConfig limits how far back a NACK may reach. Zero fields take the defaults.
type TrackConfig struct {
	MaxBack int           // packets behind the newest forwarded; at most RingSize
	MaxAge  time.Duration // since the packet was forwarded
}

// Track remembers when each recent sequence number of one outgoing track was
// forwarded and last resent. It is not safe for concurrent use; its methods
// do not allocate.
type Track struct {
	maxBack int64
	maxAge  int64 // ns

	started bool
	newest  int64 // extended (wrap-free) sequence number of the newest forwarded
	ring    [RingSize]slot
}

type slot struct {
	sent, resent int64 // ns
	seq          uint16
	valid        bool // seq was forwarded at sent
	answered     bool // and resent at resent
}

// NewTrack makes a Track.
func NewTrack(cfg TrackConfig) *Track {
	t := &Track{maxBack: int64(cfg.MaxBack), maxAge: int64(cfg.MaxAge)}
	if t.maxBack <= 0 || t.maxBack > RingSize {
		t.maxBack = DefaultMaxBack
	}
	if t.maxAge <= 0 {
		t.maxAge = int64(DefaultMaxAge)
	}
	return t
}

// extend places seq on the wrap-free line around the newest forwarded.
func (t *Track) extend(seq uint16) int64 {
	return t.newest + int64(int16(seq-uint16(t.newest)))
}

// Forwarded records that seq was sent at now (ns on the caller's clock, the
// same for every call). Call it for each packet forwarded, not for
// retransmissions; reordered packets may come late.
func (t *Track) Forwarded(seq uint16, now int64) {
	if !t.started {
		t.started, t.newest = true, int64(seq)
	}
	ext := t.extend(seq)
	switch {
	case ext > t.newest:
		t.newest = ext
	case t.newest-ext >= RingSize:
		return // its slot now belongs to a newer packet
	}
	t.ring[seq%RingSize] = slot{sent: now, seq: seq, valid: true}
}

// Check says whether a NACK for seq at now may be answered, given the
// receiver's round-trip time (0 for DefaultRTT; clamped to MinRTT..MaxRTT).
// It changes nothing: call Resent once the packet is sent.
func (t *Track) Check(seq uint16, now int64, rtt time.Duration) Reason {
	if !t.started {
		return Unknown
	}
	ext := t.extend(seq)
	switch {
	case ext > t.newest:
		return Unknown
	case t.newest-ext >= t.maxBack:
		return TooOld
	}
	s := &t.ring[seq%RingSize]
	if !s.valid || s.seq != seq {
		return Unknown
	}
	if now-s.sent > t.maxAge {
		return TooOld
	}
	if s.answered && now-s.resent < int64(clampRTT(rtt)) {
		return Duplicate
	}
	return Allowed
}

// Resent records that seq was retransmitted at now.
func (t *Track) Resent(seq uint16, now int64) {
	if s := &t.ring[seq%RingSize]; s.valid && s.seq == seq {
		s.answered, s.resent = true, now
	}
}

func clampRTT(rtt time.Duration) time.Duration {
	if rtt <= 0 {
		return DefaultRTT
	}
	return min(max(rtt, MinRTT), MaxRTT)
}
