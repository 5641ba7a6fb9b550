package media

import (
	"strings"

	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/media/red"
)

// Redundancy the node adds itself (media.red = protect-speakers): a
// publisher's plain Opus goes to a receiver that negotiated RED as RED
// carrying the previous encodings too, while SetProtect is on, so that the
// receiver's decoder rebuilds a lost packet from the next one (RFC 2198).

// protectDistance is how many previous encodings a protected packet repeats:
// as many as Chromium's own RED.
const protectDistance = 2

// protectState is a DownTrack's own-RED state; guarded by its mu except
// protect.
type protectState struct {
	// wrapPT is the receiver's RED payload type whose primary is the Opus
	// payload type the track is sent as; 0 when protection is impossible
	// (not Opus, the publisher sends RED itself, the receiver has no RED).
	wrapPT uint8
	enc    *red.Encoder
	buf    [1200]byte // scratch for a protected payload
}

// wrapPTFor is the RED payload type of codecs that carries c (Opus) as its
// primary, 0 if none.
func wrapPTFor(codecs []webrtc.RTPCodecParameters, c webrtc.RTPCodecParameters) uint8 {
	if !strings.EqualFold(c.MimeType, webrtc.MimeTypeOpus) {
		return 0
	}
	for _, r := range codecs {
		if !strings.EqualFold(r.MimeType, red.MimeType) {
			continue
		}
		if pt, ok := red.PrimaryPT(r.SDPFmtpLine); ok && pt == uint8(c.PayloadType) {
			return uint8(r.PayloadType)
		}
	}
	return 0
}

// setProtection prepares own RED for the codec the track is now sent as;
// called with mu held by setCodec.
func (d *DownTrack) setProtection(c webrtc.RTPCodecParameters, mode redMode) {
	d.protectState.wrapPT = 0
	if up := d.up.Load(); mode != redNone || up == nil || up.isRED {
		return
	}
	if pt := wrapPTFor(d.codecs, c); pt != 0 {
		d.protectState.wrapPT = pt
		if d.protectState.enc == nil {
			d.protectState.enc = red.NewEncoder(uint8(c.PayloadType), protectDistance)
		}
	}
}

// SetProtect turns the node's own redundancy on or off for this track; it
// takes effect where the receiver negotiated RED and the publisher sends
// plain Opus (CanProtect). It never blocks.
func (d *DownTrack) SetProtect(on bool) { d.protect.Store(on) }

// Protecting reports whether the track now carries the node's own RED.
func (d *DownTrack) Protecting() bool { return d.protect.Load() && d.canProtect.Load() }

// CanProtect reports whether the node could add RED to this track.
func (d *DownTrack) CanProtect() bool { return d.canProtect.Load() }

// protected returns payload as RED with the previous encodings when
// protection is on, and the payload type to send it with; called with mu
// held, for packets going out in order.
func (d *DownTrack) protected(ts uint32, payload []byte) ([]byte, uint8) {
	s := &d.protectState
	if s.wrapPT == 0 || !d.protect.Load() {
		return payload, d.pt
	}
	// A payload that could not fit with its redundancy goes as it is (the
	// scratch buffer never grows, so nothing is allocated).
	if (protectDistance+1)*len(payload)+4*protectDistance+1 > len(s.buf) {
		return payload, d.pt
	}
	return s.enc.Encode(s.buf[:0], ts, payload), s.wrapPT
}
