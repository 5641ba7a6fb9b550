package codec

// NAL unit types (RFC 6184).
const (
	naluIDR   = 5
	naluSPS   = 7
	naluSTAPA = 24
	naluFUA   = 28
)

// H264Keyframe reports whether an RTP H.264 payload starts a keyframe: an IDR
// slice or SPS as a single NAL unit, inside a STAP-A aggregate, or as the
// first fragment of an FU-A. Malformed input yields false.
func H264Keyframe(payload []byte) bool {
	if len(payload) < 1 {
		return false
	}
	switch t := payload[0] & 0x1f; t {
	case naluIDR, naluSPS:
		return true
	case naluSTAPA:
		// Each aggregated unit is a 16-bit size followed by the NAL unit.
		for off := 1; off+2 < len(payload); {
			size := int(payload[off])<<8 | int(payload[off+1])
			off += 2
			if size == 0 || off+size > len(payload) {
				return false
			}
			if nt := payload[off] & 0x1f; nt == naluIDR || nt == naluSPS {
				return true
			}
			off += size
		}
		return false
	case naluFUA:
		if len(payload) < 2 {
			return false
		}
		fu := payload[1]
		nt := fu & 0x1f
		return fu&0x80 != 0 && (nt == naluIDR || nt == naluSPS)
	default:
		return false
	}
}
