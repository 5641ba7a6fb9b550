package rtcpreport

import "encoding/binary"

// senderInfo is what a reception report needs of a received SR.
type senderInfo struct {
	SSRC uint32
	NTP  uint64
}

const (
	typeSR   = 200
	hdrSize  = 4
	srMinLen = srSize // pion rejects a shorter one
)

// readSRs appends the SSRC and NTP time of each sender report in the
// compound RTCP packet b to dst, without allocating while dst has room.
// It walks the packets by their length fields and reads nothing else of
// the other packets; it reports false, and appends nothing, if b is not a
// well-formed sequence of RTCP packets (a version other than 2, a length
// past the end, a sender report shorter than its fixed part) or is empty.
func readSRs(dst []senderInfo, b []byte) ([]senderInfo, bool) {
	if len(b) == 0 {
		return dst, false
	}
	n := len(dst)
	for len(b) > 0 {
		if len(b) < hdrSize || b[0]>>6 != 2 {
			return dst[:n], false
		}
		size := (int(binary.BigEndian.Uint16(b[2:])) + 1) * 4
		if size > len(b) {
			return dst[:n], false
		}
		if b[1] == typeSR {
			if size < srMinLen {
				return dst[:n], false
			}
			dst = append(dst, senderInfo{
				SSRC: binary.BigEndian.Uint32(b[4:]),
				NTP:  binary.BigEndian.Uint64(b[8:]),
			})
		}
		b = b[size:]
	}
	return dst, true
}
