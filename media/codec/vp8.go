package codec

import (
	"errors"
	"fmt"
)

// Errors returned by ParseVP8. They are wrapped with the offending offset, so
// callers should compare with errors.Is.
var (
	ErrVP8Short    = errors.New("vp8: payload truncated")
	ErrVP8Empty    = errors.New("vp8: no data after payload descriptor")
	ErrVP8Keyframe = errors.New("vp8: bad keyframe header")
)

// Bits of the first two descriptor octets (RFC 7741 section 4.2).
const (
	vp8X   = 0x80 // extension octet present
	vp8S   = 0x10 // start of partition
	vp8PID = 0x07 // partition index
	vp8I   = 0x80 // picture id present
	vp8L   = 0x40 // TL0PICIDX present
	vp8T   = 0x20 // TID present
	vp8K   = 0x10 // KEYIDX present
	vp8M   = 0x80 // 15-bit picture id
)

// VP8 is a parsed RTP VP8 payload descriptor. It is meant to be reused across
// packets so that parsing does not allocate.
type VP8 struct {
	// HeaderLen is the descriptor length; the VP8 bitstream starts there.
	HeaderLen int
	// Start is set on the first packet of a frame (S=1 and partition 0).
	Start bool
	// Keyframe is set on the first packet of a keyframe, a switch point.
	Keyframe bool
	// Width and Height come from the keyframe header; 0 on other packets.
	Width, Height int

	HasPictureID  bool
	PictureIDBits int // 7 or 15
	PictureID     uint16
	HasTL0        bool
	TL0PICIDX     uint8
	HasTID        bool
	TID           uint8

	// Offsets into the payload for RewriteVP8; meaningful only when the
	// matching Has* field is set.
	pictureIDOff int
	tl0Off       int
}

// ParseVP8 parses the payload descriptor of an RTP VP8 payload into d. On
// error d holds the fields parsed before the problem was found.
func ParseVP8(payload []byte, d *VP8) error {
	*d = VP8{}
	if len(payload) < 1 {
		return fmt.Errorf("%w: empty payload", ErrVP8Short)
	}
	b0 := payload[0]
	off := 1
	if b0&vp8X != 0 {
		if len(payload) < off+1 {
			return fmt.Errorf("%w: missing extension octet at %d", ErrVP8Short, off)
		}
		x := payload[off]
		off++
		if x&vp8I != 0 {
			if len(payload) < off+1 {
				return fmt.Errorf("%w: missing picture id at %d", ErrVP8Short, off)
			}
			d.HasPictureID = true
			d.pictureIDOff = off
			if payload[off]&vp8M != 0 {
				if len(payload) < off+2 {
					return fmt.Errorf("%w: missing second picture id octet at %d", ErrVP8Short, off+1)
				}
				d.PictureIDBits = 15
				d.PictureID = uint16(payload[off]&0x7f)<<8 | uint16(payload[off+1])
				off += 2
			} else {
				d.PictureIDBits = 7
				d.PictureID = uint16(payload[off] & 0x7f)
				off++
			}
		}
		if x&vp8L != 0 {
			if len(payload) < off+1 {
				return fmt.Errorf("%w: missing TL0PICIDX at %d", ErrVP8Short, off)
			}
			d.HasTL0 = true
			d.tl0Off = off
			d.TL0PICIDX = payload[off]
			off++
		}
		// T and K share one octet; either bit makes it present.
		if x&(vp8T|vp8K) != 0 {
			if len(payload) < off+1 {
				return fmt.Errorf("%w: missing TID/KEYIDX octet at %d", ErrVP8Short, off)
			}
			if x&vp8T != 0 {
				d.HasTID = true
				d.TID = payload[off] >> 6
			}
			off++
		}
	}
	d.HeaderLen = off
	if len(payload) <= off {
		return fmt.Errorf("%w: descriptor is %d bytes, payload %d", ErrVP8Empty, off, len(payload))
	}
	d.Start = b0&vp8S != 0 && b0&vp8PID == 0
	// The inverse keyframe flag is bit 0 of the frame tag, which only the
	// first packet of a frame carries.
	d.Keyframe = d.Start && payload[off]&1 == 0
	if !d.Keyframe {
		return nil
	}
	// Keyframe header: 3-byte frame tag, start code 9d 01 2a, then 14-bit
	// width and height, each with 2 scaling bits on top, little endian.
	h := payload[off:]
	if len(h) < 10 {
		return fmt.Errorf("%w: %d bytes, need 10", ErrVP8Keyframe, len(h))
	}
	if h[3] != 0x9d || h[4] != 0x01 || h[5] != 0x2a {
		return fmt.Errorf("%w: start code %02x %02x %02x", ErrVP8Keyframe, h[3], h[4], h[5])
	}
	d.Width = int(uint16(h[6])|uint16(h[7])<<8) & 0x3fff
	d.Height = int(uint16(h[8])|uint16(h[9])<<8) & 0x3fff
	return nil
}

// RewriteVP8 overwrites, in place, the picture id and TL0PICIDX of a payload
// previously parsed into d. The picture id keeps its 7- or 15-bit width, so
// pictureID is taken modulo that width. Fields the payload lacks are left
// alone, and so is a payload too short for d (a caller bug, not a crash).
// d itself is only read: one parsed descriptor serves every receiver of a
// packet, each rewriting its own copy of the payload.
func RewriteVP8(payload []byte, d *VP8, pictureID uint16, tl0 uint8) {
	if d.HasPictureID {
		switch d.PictureIDBits {
		case 15:
			if d.pictureIDOff+1 < len(payload) {
				payload[d.pictureIDOff] = vp8M | byte(pictureID>>8)&0x7f
				payload[d.pictureIDOff+1] = byte(pictureID)
			}
		case 7:
			if d.pictureIDOff < len(payload) {
				payload[d.pictureIDOff] = byte(pictureID) & 0x7f
			}
		}
	}
	if d.HasTL0 && d.tl0Off < len(payload) {
		payload[d.tl0Off] = tl0
	}
}
