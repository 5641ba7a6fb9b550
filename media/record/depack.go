package record

import (
	"encoding/binary"

	"github.com/pion/rtp/codecs"
)

// assembler rebuilds VP8 frames from RTP payloads in sequence order (RFC
// 7741): a frame starts with a packet whose S bit is set for partition 0 and
// ends with the RTP marker bit. After any loss, a damaged or malformed frame,
// it drops whole frames until the next keyframe, so that nothing the decoder
// cannot decode reaches the file. It does not allocate once its buffer has
// grown to the largest frame.
type assembler struct {
	desc     codecs.VP8Packet // scratch for the descriptor of each payload
	buf      []byte
	maxFrame int

	inFrame bool
	broken  bool // the frame being assembled lost a packet
	ts      uint32
	needKey bool // the decoding chain is broken: drop frames until a keyframe
}

// asmResult is what one payload did.
type asmResult struct {
	// Frame is a complete frame to write, valid until the next push.
	Frame    []byte
	Keyframe bool
	TS       uint32
	// Width and Height are the keyframe's size; 0 for other frames.
	Width, Height int

	Dropped   int  // frames discarded (damaged, malformed or waiting for a keyframe)
	Malformed bool // the payload itself could not be parsed
	// Broken is set when the decoding chain broke here.
	Broken bool
	// WantKey is set while frames are dropped for want of a keyframe: the
	// caller asks the publisher for one (throttled), again and again, as a
	// requested keyframe can be lost too.
	WantKey bool
}

// newAssembler makes an assembler that waits for a keyframe first and refuses
// frames larger than maxFrame bytes.
func newAssembler(maxFrame int) *assembler {
	return &assembler{maxFrame: maxFrame, needKey: true}
}

// push adds the next payload in sequence order. gap says that sequence
// numbers were lost just before it.
func (a *assembler) push(payload []byte, ts uint32, marker, gap bool) (r asmResult) {
	defer func() { r.WantKey = a.needKey && (r.Broken || r.Dropped > 0) }()
	if gap {
		a.breakChain(&r)
	}
	data, err := a.desc.Unmarshal(payload)
	if err != nil || len(data) == 0 {
		r.Malformed = true
		a.breakChain(&r)
		return r
	}
	start := a.desc.S == 1 && a.desc.PID == 0
	switch {
	case start:
		if a.inFrame {
			// The previous frame never saw its marker.
			r.Dropped++
			a.breakChain(&r)
		}
		a.inFrame, a.broken, a.ts = true, false, ts
		a.buf = a.buf[:0]
	case !a.inFrame:
		// The frame's start was lost; the gap already broke the chain.
		return r
	case ts != a.ts:
		// A new frame without its start packet.
		a.broken = true
		a.breakChain(&r)
	}
	if !a.broken {
		if len(a.buf)+len(data) > a.maxFrame {
			a.broken = true
			a.breakChain(&r)
		} else {
			a.buf = append(a.buf, data...)
		}
	}
	if !marker {
		return r
	}
	a.inFrame = false
	if a.broken {
		r.Dropped++
		return r
	}
	key, w, h, ok := vp8FrameInfo(a.buf)
	switch {
	case !ok:
		r.Malformed = true
		r.Dropped++
		a.breakChain(&r)
	case a.needKey && !key:
		r.Dropped++
	default:
		a.needKey = false
		r.Frame, r.Keyframe, r.TS, r.Width, r.Height = a.buf, key, a.ts, w, h
	}
	return r
}

// breakChain marks the decoding chain broken: frames are dropped until the
// next keyframe, and the frame being assembled is given up.
func (a *assembler) breakChain(r *asmResult) {
	if a.inFrame && !a.broken {
		a.broken = true
	}
	if !a.needKey {
		r.Broken = true
	}
	a.needKey = true
}

// flush gives up a frame still being assembled; it reports whether there was one.
func (a *assembler) flush() bool {
	was := a.inFrame
	a.inFrame = false
	return was
}

// vp8FrameInfo checks a VP8 frame's header (RFC 6386 section 9.1): the frame
// tag's version and first partition size, and for a keyframe its start code
// and size. ok is false for a frame that cannot be a VP8 frame.
func vp8FrameInfo(f []byte) (key bool, width, height int, ok bool) {
	if len(f) < 3 {
		return false, 0, 0, false
	}
	tag := uint32(f[0]) | uint32(f[1])<<8 | uint32(f[2])<<16
	key = tag&1 == 0
	version := (tag >> 1) & 7
	firstPart := int(tag >> 5)
	hdr := 3
	if key {
		hdr = 10
	}
	if version > 3 || len(f) < hdr || firstPart > len(f)-hdr {
		return false, 0, 0, false
	}
	if !key {
		return false, 0, 0, true
	}
	if f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a {
		return false, 0, 0, false
	}
	width = int(binary.LittleEndian.Uint16(f[6:]) & 0x3fff)
	height = int(binary.LittleEndian.Uint16(f[8:]) & 0x3fff)
	if width == 0 || height == 0 {
		return false, 0, 0, false
	}
	return true, width, height, true
}
