package relay

// ReplayWindowSize is how far behind the newest sequence a datagram may
// arrive and still be accepted (once).
const ReplayWindowSize = 1024

// ReplayWindow remembers which of the last ReplayWindowSize sequence numbers
// of one sender have been accepted. The bitmap is a ring indexed by
// sequence modulo the window, which works because every tracked sequence
// lies within one window of the newest. Not safe for concurrent use.
type ReplayWindow struct {
	top     uint64 // newest accepted sequence
	started bool
	bits    [ReplayWindowSize / 64]uint64
}

// Check reports whether seq would be accepted. It changes nothing, so it
// can run before authentication.
func (w *ReplayWindow) Check(seq uint64) bool {
	if !w.started || seq > w.top {
		return true
	}
	if w.top-seq >= ReplayWindowSize {
		return false
	}
	i := seq % ReplayWindowSize
	return w.bits[i/64]&(1<<(i%64)) == 0
}

// Accept marks seq as seen, reporting false if it was already seen or is too
// old. Call it only for authenticated datagrams.
func (w *ReplayWindow) Accept(seq uint64) bool {
	if !w.Check(seq) {
		return false
	}
	switch {
	case !w.started:
		w.started = true
		w.top = seq
	case seq > w.top:
		if seq-w.top >= ReplayWindowSize {
			clear(w.bits[:])
		} else {
			for s := w.top + 1; s < seq; s++ {
				i := s % ReplayWindowSize
				w.bits[i/64] &^= 1 << (i % 64)
			}
		}
		w.top = seq
	}
	i := seq % ReplayWindowSize
	w.bits[i/64] |= 1 << (i % 64)
	return true
}

// Top returns the newest accepted sequence.
func (w *ReplayWindow) Top() uint64 { return w.top }
