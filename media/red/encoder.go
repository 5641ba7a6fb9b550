package red

// Encoder makes RED payloads that carry, besides each new encoding, up to
// a chosen number of the encodings before it. It is not safe for
// concurrent use; after its buffers have grown it does not allocate.
type Encoder struct {
	pt       uint8
	distance int
	// history is a ring of the latest encodings, newest at next-1.
	history [MaxRedundant]struct {
		ts      uint32
		payload []byte
	}
	next, n int
	blocks  [MaxRedundant]Block
}

// NewEncoder returns an Encoder of payload type pt (the primary codec's)
// that repeats up to distance previous encodings (at most MaxRedundant).
func NewEncoder(pt uint8, distance int) *Encoder {
	return &Encoder{pt: pt & 0x7f, distance: min(max(distance, 0), MaxRedundant)}
}

// Encode appends to dst the RED payload for primary, the encoding of RTP
// timestamp ts, and remembers it for the next calls. Previous encodings
// that a block header cannot describe (older than MaxTSOffset ticks, not
// older than ts, or longer than MaxBlockLen) are left out.
func (e *Encoder) Encode(dst []byte, ts uint32, primary []byte) []byte {
	blocks := e.blocks[:0]
	for i := min(e.n, e.distance); i >= 1; i-- { // oldest first
		h := &e.history[(e.next-i+MaxRedundant)%MaxRedundant]
		off := ts - h.ts
		if off == 0 || off > MaxTSOffset || len(h.payload) > MaxBlockLen {
			continue
		}
		blocks = append(blocks, Block{PT: e.pt, TSOffset: uint16(off), Payload: h.payload})
	}
	// Append cannot fail: every block was checked above.
	dst, _ = Append(dst, e.pt, blocks, primary)
	if e.distance > 0 {
		h := &e.history[e.next]
		h.ts = ts
		h.payload = append(h.payload[:0], primary...)
		e.next = (e.next + 1) % MaxRedundant
		e.n = min(e.n+1, MaxRedundant)
	}
	return dst
}
