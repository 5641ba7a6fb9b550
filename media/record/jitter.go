package record

// jitter reorders packets by sequence number before they are depacketized.
// It holds at most its capacity, a power of two, of sequence numbers ahead
// of the next one due. A missing packet is waited for until maxDelay has
// passed (on the packets' arrival clock) since a later one was held, or
// until a packet too far ahead needs the room; then it is given up, and the
// next packet emitted carries gap=true.
//
// It is a pure state machine: time is what the caller passes, and emitted
// packets go to the callback, in sequence order, during push or flush.
type jitter[T any] struct {
	ring     []jitterEntry[T]
	mask     uint16
	next     uint16 // the sequence number due next
	started  bool
	held     int
	maxDelay int64 // ns

	waiting   bool  // the head is missing and later packets are held
	waitSince int64 // arrival clock when the wait began
	gap       bool  // a sequence number was given up: flag the next emitted
	lost      uint64
}

type jitterEntry[T any] struct {
	v  T
	ok bool
}

// resyncDistance is how far behind the next sequence number a packet must be
// to be taken for a restarted stream rather than a late packet.
const resyncDistance = 4096

// newJitter returns a buffer holding up to capacity packets (rounded up to a
// power of two, at most 4096) and waiting up to maxDelay ns for a missing one.
func newJitter[T any](capacity int, maxDelay int64) *jitter[T] {
	n := 1
	for n < capacity && n < 4096 {
		n <<= 1
	}
	return &jitter[T]{ring: make([]jitterEntry[T], n), mask: uint16(n - 1), maxDelay: maxDelay}
}

// push adds packet v with sequence number seq, which arrived at now, and
// emits every packet that is ready. It returns false, keeping nothing, for a
// packet that is late (its number was emitted or given up) or a duplicate.
func (j *jitter[T]) push(seq uint16, now int64, v T, emit func(v T, gap bool)) bool {
	if !j.started {
		j.started, j.next = true, seq
	}
	d := int(int16(seq - j.next))
	switch {
	case d < -resyncDistance:
		// Far behind: the sender restarted its numbering.
		j.flush(emit)
		j.next = seq
		j.gap = true
		d = 0
	case d < 0:
		return false
	case d >= len(j.ring):
		// Too far ahead to hold: everything held is older, so it goes now,
		// and the numbers between are lost.
		j.flush(emit)
		j.lost += uint64(int(uint16(seq - j.next)))
		j.next = seq
		j.gap = true
		d = 0
	}
	e := &j.ring[seq&j.mask]
	if e.ok {
		return false
	}
	e.v, e.ok = v, true
	j.held++
	j.release(now, emit)
	return true
}

// release emits the run at the head; if the head is missing, it waits for it
// until maxDelay has passed since the wait began, then gives it up.
func (j *jitter[T]) release(now int64, emit func(v T, gap bool)) {
	for j.held > 0 {
		e := &j.ring[j.next&j.mask]
		if e.ok {
			j.emitHead(e, emit)
			j.waiting = false
			continue
		}
		if !j.waiting {
			j.waiting, j.waitSince = true, now
		}
		if now-j.waitSince < j.maxDelay {
			return
		}
		j.skipToHeld()
		// Packets after the next hole have waited too; they get a fresh
		// wait from now, which bounds the added latency by maxDelay per hole.
		j.waitSince = now
	}
	j.waiting = false
}

// flush emits everything held, in order, giving up the missing numbers.
func (j *jitter[T]) flush(emit func(v T, gap bool)) {
	for j.held > 0 {
		e := &j.ring[j.next&j.mask]
		if !e.ok {
			j.skipToHeld()
			continue
		}
		j.emitHead(e, emit)
	}
	j.waiting = false
}

func (j *jitter[T]) emitHead(e *jitterEntry[T], emit func(v T, gap bool)) {
	v, gap := e.v, j.gap
	var zero T
	e.v, e.ok = zero, false
	j.held--
	j.gap = false
	j.next++
	emit(v, gap)
}

// skipToHeld gives up the missing numbers from next to the first held one.
// Call it only with something held.
func (j *jitter[T]) skipToHeld() {
	for !j.ring[j.next&j.mask].ok {
		j.next++
		j.lost++
	}
	j.gap = true
}

// Lost is how many sequence numbers were given up.
func (j *jitter[T]) Lost() uint64 { return j.lost }
