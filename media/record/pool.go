package record

import "github.com/switchyard/switchyard/media/red"

// maxPayload is the largest RTP payload a slot takes; anything longer cannot
// have come over a 1500-byte path and is refused as malformed.
const maxPayload = 1500

// slot is one packet copied out of the forwarding goroutine. Slots are
// pooled: their buffers are made on first use and reused after.
type slot struct {
	seq     uint16
	ts      uint32
	marker  bool
	layer   int
	arrival int64

	buf []byte // the payload; for audio the Opus primary, then the redundant blocks
	// Audio RED: the redundant blocks stored after the primary, oldest first.
	nRed   int
	redLen [red.MaxRedundant]int
	redOff [red.MaxRedundant]uint32 // ticks before ts
}

// primary is the payload (video) or the primary Opus block (audio).
func (s *slot) primary() []byte {
	n := len(s.buf)
	for i := range s.nRed {
		n -= s.redLen[i]
	}
	return s.buf[:n]
}

// redundant returns the i-th redundant block, oldest first, and its timestamp.
func (s *slot) redundant(i int) ([]byte, uint32) {
	off := len(s.primary())
	for k := range i {
		off += s.redLen[k]
	}
	return s.buf[off : off+s.redLen[i]], s.ts - s.redOff[i]
}

// pool is a LIFO free list of slots, so that only as many buffers are made as
// are ever in flight at once. The Track's mutex guards it.
type pool struct {
	free []*slot
}

func newPool(n int) *pool {
	p := &pool{free: make([]*slot, n)}
	all := make([]slot, n)
	for i := range all {
		p.free[i] = &all[i]
	}
	return p
}

// get returns a free slot with its buffer reset, or nil when none is left.
func (p *pool) get() *slot {
	n := len(p.free)
	if n == 0 {
		return nil
	}
	s := p.free[n-1]
	p.free = p.free[:n-1]
	if s.buf == nil {
		s.buf = make([]byte, 0, maxPayload)
	}
	s.buf = s.buf[:0]
	s.nRed = 0
	return s
}

func (p *pool) put(s *slot) { p.free = append(p.free, s) }
