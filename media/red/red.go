package red

import (
	"errors"
	"strconv"
	"strings"
)

// MimeType is RED's media type for audio, as pion spells codecs.
const MimeType = "audio/red"

// MaxRedundant is the most redundant blocks a payload may carry. Browsers
// send one or two; more is refused rather than parsed into a larger array.
const MaxRedundant = 4

// Limits of the block header fields.
const (
	MaxTSOffset = 1<<14 - 1 // 16383 ticks: 341 ms of 48 kHz audio
	MaxBlockLen = 1<<10 - 1 // 1023 bytes
)

// Reasons a payload is refused, cheapest check first.
var (
	ErrEmpty     = errors.New("red: no blocks")
	ErrTruncated = errors.New("red: block headers run past the payload")
	ErrTooMany   = errors.New("red: too many redundant blocks")
	ErrNested    = errors.New("red: block of the RED payload type itself")
	ErrPT        = errors.New("red: block of a payload type other than the primary's")
	ErrOverrun   = errors.New("red: block lengths run past the payload")
)

// Errors of Append.
var (
	ErrTSOffset = errors.New("red: timestamp offset does not fit 14 bits")
	ErrBlockLen = errors.New("red: block longer than 1023 bytes")
	ErrBlockPT  = errors.New("red: payload type does not fit 7 bits")
)

// Block is one redundant encoding: its payload type, how many RTP ticks it
// is older than the packet, and its bytes.
type Block struct {
	PT       uint8
	TSOffset uint16
	Payload  []byte
}

// Payload is a parsed RED payload. Its slices point into the parsed bytes:
// it is valid as long as they are.
type Payload struct {
	PT         uint8  // the primary's payload type
	Primary    []byte // the newest encoding
	redundant  [MaxRedundant]Block
	nRedundant int
}

// Redundant returns the redundant blocks, oldest first: the last one is
// normally the packet sent just before this one.
func (p *Payload) Redundant() []Block { return p.redundant[:p.nRedundant] }

// Parse reads b, a RED payload whose blocks must all be of payload type
// primaryPT (redPT is RED's own, which no block may carry), into out. It
// copies nothing and does not allocate. On error out is left empty.
func Parse(b []byte, redPT, primaryPT uint8, out *Payload) error {
	*out = Payload{}
	if len(b) == 0 {
		return ErrEmpty
	}
	// Headers first: n redundant ones of 4 bytes, then the primary's byte.
	n, off, total := 0, 0, 0
	for {
		if off >= len(b) {
			return ErrTruncated
		}
		if b[off]&0x80 == 0 {
			break
		}
		if off+4 > len(b) {
			return ErrTruncated
		}
		if n == MaxRedundant {
			return ErrTooMany
		}
		if err := checkPT(b[off]&0x7f, redPT, primaryPT); err != nil {
			return err
		}
		total += int(b[off+2]&0x03)<<8 | int(b[off+3])
		n++
		off += 4
	}
	if err := checkPT(b[off]&0x7f, redPT, primaryPT); err != nil {
		return err
	}
	data := off + 1
	if data+total > len(b) {
		return ErrOverrun
	}
	for i := range n {
		h := b[4*i:]
		l := int(h[2]&0x03)<<8 | int(h[3])
		out.redundant[i] = Block{
			PT:       h[0] & 0x7f,
			TSOffset: uint16(h[1])<<6 | uint16(h[2]>>2),
			Payload:  b[data : data+l : data+l],
		}
		data += l
	}
	out.nRedundant = n
	out.PT = b[off] & 0x7f
	out.Primary = b[data:]
	return nil
}

func checkPT(pt, redPT, primaryPT uint8) error {
	switch pt {
	case primaryPT:
		return nil
	case redPT:
		return ErrNested
	}
	return ErrPT
}

// Append appends to dst a RED payload carrying the redundant blocks (oldest
// first) and then primary, of payload type pt. It allocates only if dst is
// too small.
func Append(dst []byte, pt uint8, redundant []Block, primary []byte) ([]byte, error) {
	if len(redundant) > MaxRedundant {
		return dst, ErrTooMany
	}
	if pt > 0x7f {
		return dst, ErrBlockPT
	}
	for _, r := range redundant {
		switch {
		case r.PT > 0x7f:
			return dst, ErrBlockPT
		case r.TSOffset > MaxTSOffset:
			return dst, ErrTSOffset
		case len(r.Payload) > MaxBlockLen:
			return dst, ErrBlockLen
		}
	}
	for _, r := range redundant {
		l := len(r.Payload)
		dst = append(dst, 0x80|r.PT, byte(r.TSOffset>>6), byte(r.TSOffset<<2)|byte(l>>8), byte(l))
	}
	dst = append(dst, pt)
	for _, r := range redundant {
		dst = append(dst, r.Payload...)
	}
	return append(dst, primary...), nil
}

// SetPT changes the payload type of every block of b, a payload Parse
// accepted, to pt: for a receiver that numbers the primary codec otherwise.
func SetPT(b []byte, pt uint8) {
	for off := 0; off < len(b); off += 4 {
		b[off] = b[off]&0x80 | pt&0x7f
		if b[off]&0x80 == 0 {
			return
		}
	}
}

// PrimaryPT reads the primary payload type from RED's fmtp line, "111/111"
// (RFC 2198 section 5: the payload types of the blocks, primary first).
func PrimaryPT(fmtp string) (uint8, bool) {
	first, _, _ := strings.Cut(strings.TrimSpace(fmtp), "/")
	pt, err := strconv.ParseUint(first, 10, 8)
	if err != nil || pt > 0x7f {
		return 0, false
	}
	return uint8(pt), true
}
