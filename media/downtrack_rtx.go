package media

// Retransmissions and padding on the receiver's RTX stream (RFC 4588): a
// video receiver that negotiated RTX for the codec it is sent gets each
// retransmission on the RTX SSRC, with the RTX payload type whose apt is
// that codec's, the RTX stream's own sequence numbers and, as the first two
// bytes of the payload, the sequence number it knows the packet by (OSN).
// A receiver without RTX gets the original packet again on the media SSRC.
// The RTX stream also carries padding-only packets, for bandwidth probes.

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/media/forward"
)

const (
	rtpHeaderLen = 12 // without CSRCs and extensions, as the track writes it
	osnLen       = 2  // RFC 4588's original sequence number
	// MaxPadding is the most padding one RTP packet carries: its count is
	// one byte (RFC 3550 5.1).
	MaxPadding = 255
)

// A retransmission read from the cache into rtxBuf starts after the cached
// header fields, which are decoded by then: the OSN goes in front of the
// payload in place.
const _ = uint(cachedHeadLen - osnLen)

// rtxState is a DownTrack's RTX stream; guarded by mu but for the atomics.
type rtxState struct {
	ssrc   uint32 // the receiver's RTX SSRC; 0 when it negotiated none
	pt     uint8  // the RTX payload type for the codec sent; 0 when none
	seq    uint16 // the RTX stream's next sequence number
	lastTS uint32 // the timestamp of the latest packet forwarded
	canPad atomic.Bool
	pad    [MaxPadding]byte // padding payloads: zero but for the count byte while written

	// PaddingPackets and PaddingBytes count the padding-only packets sent
	// and their RTP size (header and padding).
	PaddingPackets atomic.Uint64
	PaddingBytes   atomic.Uint64
}

// bindRTX records the receiver's RTX SSRC (0 for none); called with mu
// held, by Bind. A new RTX stream starts at a random sequence number.
func (d *DownTrack) bindRTX(ssrc uint32) {
	if ssrc != d.rtxState.ssrc {
		d.rtxState.seq = uint16(rand.Uint32())
	}
	d.rtxState.ssrc = ssrc
	d.rtxState.canPad.Store(d.rtxState.ssrc != 0 && d.rtxState.pt != 0)
}

// setRTXCodec finds the RTX payload type for the codec sent, d.pt, among the
// receiver's codecs; called with mu held whenever the codec is set.
// Retransmissions of audio stay on the media SSRC.
func (d *DownTrack) setRTXCodec() {
	d.rtxState.pt = 0
	if d.kind == webrtc.RTPCodecTypeVideo {
		d.rtxState.pt = rtxPayloadType(d.codecs, d.pt)
	}
	d.rtxState.canPad.Store(d.rtxState.ssrc != 0 && d.rtxState.pt != 0)
}

// rtxPayloadType is the payload type of the RTX codec among codecs whose
// apt is pt, 0 if none (RTX takes a dynamic payload type, never 0).
func rtxPayloadType(codecs []webrtc.RTPCodecParameters, pt uint8) uint8 {
	for _, c := range codecs {
		if !strings.EqualFold(c.MimeType, webrtc.MimeTypeRTX) {
			continue
		}
		if apt, ok := fmtpApt(c.SDPFmtpLine); ok && apt == pt {
			return uint8(c.PayloadType)
		}
	}
	return 0
}

// fmtpApt reads apt from an RTX format line such as "apt=96;rtx-time=3000".
func fmtpApt(fmtp string) (uint8, bool) {
	for len(fmtp) > 0 {
		var param string
		param, fmtp, _ = strings.Cut(fmtp, ";")
		k, v, ok := strings.Cut(strings.TrimSpace(param), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "apt") {
			continue
		}
		apt, err := strconv.ParseUint(strings.TrimSpace(v), 10, 7)
		return uint8(apt), err == nil
	}
	return 0, false
}

// CanPad reports whether SendPadding can send: the receiver negotiated RTX
// for the codec it is sent. It never blocks.
func (d *DownTrack) CanPad() bool { return d.rtxState.canPad.Load() }

// resend writes a retransmission of the packet the receiver knows by
// out.Seq: on the RTX stream when the receiver has one for the codec sent,
// else as the original. payload is the original payload, usually where
// retransmit read it, d.rtxBuf after the cached header fields. It returns
// the packet's RTP size; called with mu held. It does not allocate.
func (d *DownTrack) resend(marker bool, out forward.Out, payload []byte) (int, error) {
	if d.rtxState.ssrc == 0 || d.rtxState.pt == 0 {
		return rtpHeaderLen + len(payload), d.write(marker, out, payload)
	}
	var pkt []byte
	if len(payload) > 0 && &payload[0] == &d.rtxBuf[cachedHeadLen] {
		pkt = d.rtxBuf[cachedHeadLen-osnLen : cachedHeadLen+len(payload)]
	} else {
		// Elsewhere (or empty): moved behind room for the OSN. copy
		// handles a payload that overlaps rtxBuf.
		if osnLen+len(payload) > len(d.rtxBuf) {
			return 0, errRTXTooLong
		}
		pkt = d.rtxBuf[:osnLen+copy(d.rtxBuf[osnLen:], payload)]
	}
	binary.BigEndian.PutUint16(pkt, out.Seq)
	h := d.header(rtp.Header{
		Version:        2,
		Marker:         marker,
		PayloadType:    d.rtxState.pt,
		SequenceNumber: d.rtxState.seq,
		Timestamp:      out.Timestamp,
		SSRC:           d.rtxState.ssrc,
	})
	// The sequence number is spent even if the write fails, as a packet
	// lost on the way would spend it.
	d.rtxState.seq++
	_, err := d.writer.WriteRTP(h, pkt)
	return rtpHeaderLen + len(pkt), err
}

// errRTXTooLong is returned for a payload that does not fit a packet with
// the OSN in front; the cache never holds one.
var errRTXTooLong = errors.New("media: payload too long for an RTX packet")

// SendPadding sends padding-only packets on the receiver's RTX stream, for
// a bandwidth probe: RTP packets with the padding bit set whose whole
// payload is padding (RFC 3550 5.1), at most MaxPadding bytes each, with
// the RTX payload type and sequence numbers and the latest forwarded
// timestamp. It sends packets until bytes, counted as RTP size (header and
// padding), are sent, overshooting by at most one header, and returns the
// RTP size sent. It returns 0 when the receiver negotiated no RTX for the
// codec it is sent or the track is not bound, and stops early if a write
// fails. It takes the data path's lock per packet and does not allocate.
func (d *DownTrack) SendPadding(bytes int) int {
	sent := 0
	for sent < bytes {
		n := min(MaxPadding, max(bytes-sent-rtpHeaderLen, 1))
		d.mu.Lock()
		if d.writer == nil || d.rtxState.ssrc == 0 || d.rtxState.pt == 0 {
			d.mu.Unlock()
			break
		}
		// The padding is in the payload, with the header's PaddingSize 0,
		// so that every writer on the way counts its bytes (the
		// transport-wide CC sender among them). pion's SRTP marshals such
		// a packet as it is (rtp.MarshalPacketTo, which then also zeroes
		// a byte past the packet in its 1492-byte buffer).
		pad := d.rtxState.pad[:n]
		pad[n-1] = byte(n)
		h := d.header(rtp.Header{
			Version:        2,
			Padding:        true,
			PayloadType:    d.rtxState.pt,
			SequenceNumber: d.rtxState.seq,
			Timestamp:      d.rtxState.lastTS,
			SSRC:           d.rtxState.ssrc,
		})
		d.rtxState.seq++
		_, err := d.writer.WriteRTP(h, pad)
		pad[n-1] = 0
		d.mu.Unlock()
		if err != nil {
			break
		}
		sent += rtpHeaderLen + n
		d.rtxState.PaddingPackets.Add(1)
		d.rtxState.PaddingBytes.Add(uint64(rtpHeaderLen + n))
	}
	return sent
}
