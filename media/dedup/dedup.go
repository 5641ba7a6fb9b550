package dedup

// MaxAge is how far behind the newest sequence number a packet may arrive
// and still be accepted.
const MaxAge = 1024

// bitmapSize covers MaxAge+1 positions; a power of two keeps indexing cheap.
const bitmapSize = 2 * MaxAge

// resyncAfter is how many too-old packets in a row make the window assume the
// sender restarted its sequence numbers. Real late packets come alone or in
// short bursts; a restart would otherwise be dropped for 32768 packets.
const resyncAfter = 64

// Window remembers which recent sequence numbers of one RTP stream were seen.
// The zero value is ready to use. A Window is not safe for concurrent use.
type Window struct {
	started bool
	// Extended (wrap-free) sequence numbers.
	first   int64
	highest int64
	seen    [bitmapSize / 64]uint64

	received uint64
	// expectedCarry holds the expected count of sequence runs before a
	// resynchronisation.
	expectedCarry uint64
	tooOld        int
}

// Add records seq and reports whether it is new. It returns false for a
// sequence number already seen and for one more than MaxAge behind the newest.
func (w *Window) Add(seq uint16) bool {
	if !w.started {
		w.start(seq)
		return true
	}
	ext := w.highest + int64(int16(seq-uint16(w.highest)))
	switch {
	case ext > w.highest:
		w.advance(ext)
	case w.highest-ext > MaxAge:
		w.tooOld++
		if w.tooOld >= resyncAfter {
			w.expectedCarry += uint64(w.highest - w.first + 1)
			w.start(seq)
			return true
		}
		return false
	case w.has(ext):
		w.tooOld = 0
		return false
	}
	w.tooOld = 0
	w.set(ext)
	if ext < w.first {
		// Reordered ahead of the first packet seen: it belongs to the run.
		w.first = ext
	}
	w.received++
	return true
}

// Counts returns how many distinct packets were accepted and how many the
// sender sent over the same span (newest - oldest + 1), for loss accounting.
func (w *Window) Counts() (received, expected uint64) {
	if !w.started {
		return 0, 0
	}
	return w.received, w.expectedCarry + uint64(w.highest-w.first+1)
}

// start begins a new run at seq; the base keeps extended numbers positive.
func (w *Window) start(seq uint16) {
	w.started = true
	w.first = 1<<32 + int64(seq)
	w.highest = w.first
	w.seen = [bitmapSize / 64]uint64{}
	w.set(w.first)
	w.received++
	w.tooOld = 0
}

// advance moves the newest sequence number to ext, forgetting the bits that
// now stand for numbers too old to be accepted anyway.
func (w *Window) advance(ext int64) {
	if ext-w.highest >= bitmapSize {
		w.seen = [bitmapSize / 64]uint64{}
	} else {
		for e := w.highest + 1; e <= ext; e++ {
			i := e & (bitmapSize - 1)
			w.seen[i/64] &^= 1 << (i % 64)
		}
	}
	w.highest = ext
}

func (w *Window) has(ext int64) bool {
	i := ext & (bitmapSize - 1)
	return w.seen[i/64]&(1<<(i%64)) != 0
}

func (w *Window) set(ext int64) {
	i := ext & (bitmapSize - 1)
	w.seen[i/64] |= 1 << (i % 64)
}
