// Package repair finds the packets a relayed stream lost on the link from
// the previous node and says when to ask for them again: hop-by-hop NACK.
package repair

import "time"

// Defaults for a Tracker.
const (
	// MaxGap is the largest jump in sequence numbers treated as loss. A
	// larger one means the previous node paused the layer (nobody here
	// needed it) and resumed it: nothing to repair.
	MaxGap = 128
	// MaxMissing bounds the sequence numbers tracked at once.
	MaxMissing = 256
	// MaxTries is how often one packet is asked for.
	MaxTries = 4
	// MaxAge is how long a missing packet is worth asking for: after that
	// the receivers behind this node have given up on it too.
	MaxAge = time.Second
)

type missing struct {
	seq   uint16
	since int64 // when the gap was seen, ns
	asked int64 // last NACK, ns; meaningful once tries > 0
	tries int
}

// Tracker follows one stream's sequence numbers. The zero value is ready;
// it is not safe for concurrent use and does not allocate.
type Tracker struct {
	started bool
	highest uint16
	miss    [MaxMissing]missing
	n       int

	Repaired uint64 // gaps filled by a later arrival
	Lost     uint64 // gaps given up on
	Gaps     uint64 // sequence numbers found missing
}

// Push records an arrival at now (ns) and reports whether it filled a gap.
func (t *Tracker) Push(seq uint16, now int64) bool {
	if !t.started {
		t.started, t.highest = true, seq
		return false
	}
	d := int16(seq - t.highest)
	switch {
	case d > 0 && int(d) <= MaxGap:
		for s := t.highest + 1; s != seq; s++ {
			t.add(s, now)
		}
		t.highest = seq
		return false
	case d > 0, int(d) < -2*MaxGap:
		// Resumed after a pause, or restarted: start over.
		t.Lost += uint64(t.n)
		t.n = 0
		t.highest = seq
		return false
	case d == 0:
		return false
	}
	for i := 0; i < t.n; i++ {
		if t.miss[i].seq == seq {
			t.removeAt(i)
			t.Repaired++
			return true
		}
	}
	return false
}

// Reset forgets the stream's position and what it missed: the previous node
// is about to pause or resume it on purpose, and the jump in sequence
// numbers that follows is not loss.
func (t *Tracker) Reset() {
	t.Lost += uint64(t.n)
	t.n = 0
	t.started = false
}

func (t *Tracker) add(seq uint16, now int64) {
	t.Gaps++
	if t.n == MaxMissing {
		// The oldest is the least likely to be useful.
		t.removeAt(0)
		t.Lost++
	}
	t.miss[t.n] = missing{seq: seq, since: now}
	t.n++
}

func (t *Tracker) removeAt(i int) {
	copy(t.miss[i:t.n], t.miss[i+1:t.n])
	t.n--
}

// Due appends to dst the sequence numbers to NACK at now: those never asked
// for, and those asked for more than retry ago (one link RTT and a little),
// up to MaxTries each. Entries older than MaxAge or out of tries are
// dropped and counted as lost.
func (t *Tracker) Due(dst []uint16, now int64, retry time.Duration) []uint16 {
	j := 0
	for i := 0; i < t.n; i++ {
		m := t.miss[i]
		if now-m.since > int64(MaxAge) || (m.tries >= MaxTries && now-m.asked > int64(retry)) {
			t.Lost++
			continue
		}
		if m.tries == 0 || (m.tries < MaxTries && now-m.asked >= int64(retry)) {
			m.asked = now
			m.tries++
			dst = append(dst, m.seq)
		}
		t.miss[j] = m
		j++
	}
	t.n = j
	return dst
}

// Pending is how many sequence numbers are missing now.
func (t *Tracker) Pending() int { return t.n }
