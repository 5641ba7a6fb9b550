package rtcpreport

import (
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// localStream is what a sender report needs of one stream the
// PeerConnection sends. The send path writes the atomics; the reporter
// reads them and owns the fields below them.
type localStream struct {
	ssrc      uint32
	clockRate uint32

	packets atomic.Uint32 // RTP packets sent, wrapping as the SR field does
	octets  atomic.Uint32 // payload octets sent, padding excluded
	seq     atomic.Uint32 // 1<<16 | highest sequence number sent; 0 before the first
	// anchor is the RTP timestamp of the latest frame sent (high 32 bits)
	// and the time its first packet went out, in µs since the
	// interceptor's base modulo 2^32 (low 32 bits): one word, so the
	// reporter never pairs a timestamp with another frame's time.
	anchor atomic.Uint64

	// The reporter's own: the anchor it decoded last and its full time.
	seen    uint64
	decoded bool
	sentAt  time.Duration // since base
}

// sent counts one packet written on the stream; the send path. Packets on
// another SSRC (the RTX stream, which pion writes through the same writer)
// are not counted: they are not this stream's.
func (s *localStream) sent(h *rtp.Header, payload []byte, since func() time.Duration) {
	if h.SSRC != s.ssrc {
		return
	}
	// The anchor first, then the count: a reporter that sees a count sees
	// the first packet's anchor too.
	prev := s.seq.Load()
	if prev == 0 || seqNewer(h.SequenceNumber, uint16(prev)) {
		s.seq.Store(1<<16 | uint32(h.SequenceNumber))
		// Only the first packet of a frame moves the anchor, so that the
		// pacing of a large frame does not shift the SR's RTP time.
		if prev == 0 || uint32(s.anchor.Load()>>32) != h.Timestamp {
			us := uint32(since() / time.Microsecond)
			s.anchor.Store(uint64(h.Timestamp)<<32 | uint64(us))
		}
	}
	s.octets.Add(uint32(payloadOctets(h, payload)))
	s.packets.Add(1)
}

// seqNewer reports whether a follows b within half the sequence space.
func seqNewer(a, b uint16) bool {
	d := a - b
	return d != 0 && d < 1<<15
}

// payloadOctets is the payload size without padding (RFC 3550 6.4.1's
// sender's octet count). pion appends h.PaddingSize bytes of padding
// after the payload; with the padding bit but no PaddingSize the padding is
// the payload's tail, its last byte the count.
func payloadOctets(h *rtp.Header, payload []byte) int {
	n := len(payload)
	if h.Padding && h.PaddingSize == 0 && n > 0 {
		n -= min(int(payload[n-1]), n)
	}
	return n
}

// sendCounters is one stream's state at a report.
type sendCounters struct {
	Packets, Octets uint32
	RTPTime         uint32    // the latest frame's timestamp
	SentAt          time.Time // when its first packet went out
}

// counters reads the stream for a report at since (from base); false
// before the first packet (RFC 3550 6.4: not a sender yet). Reporter only.
func (s *localStream) counters(base time.Time, since time.Duration) (sendCounters, bool) {
	p := s.packets.Load()
	if p == 0 {
		return sendCounters{}, false
	}
	a := s.anchor.Load()
	if !s.decoded || a != s.seen {
		s.seen, s.decoded = a, true
		s.sentAt = anchorTime(uint32(a), since)
	}
	return sendCounters{Packets: p, Octets: s.octets.Load(), RTPTime: uint32(a >> 32), SentAt: base.Add(s.sentAt)}, true
}

// anchorTime turns an anchor's 32-bit µs into the full time since base,
// given since, a time within 35 minutes of it (either way: the packet may
// have been written after since was read). The reporter decodes each
// anchor within an interval of its writing.
func anchorTime(us uint32, since time.Duration) time.Duration {
	d := int32(uint32(since/time.Microsecond) - us)
	return since/time.Microsecond*time.Microsecond - time.Duration(d)*time.Microsecond
}

// senderReport is the SR of a stream at now: its RTP time is the latest
// frame's timestamp advanced by the time since that frame went out, at
// the stream's clock rate, so that the SR's NTP and RTP times name the
// same instant (RFC 3550 6.4.1). It carries no report blocks.
func senderReport(ssrc, clockRate uint32, c sendCounters, now time.Time) *rtcp.SenderReport {
	return &rtcp.SenderReport{
		SSRC:        ssrc,
		NTPTime:     toNTP(now),
		RTPTime:     c.RTPTime + uint32(rtpTicks(now.Sub(c.SentAt), clockRate)),
		PacketCount: c.Packets,
		OctetCount:  c.Octets,
	}
}

// rtpTicks is d in units of a clock of rate Hz, rounded to the nearest,
// negative for negative d; exact for any d a time.Duration holds.
func rtpTicks(d time.Duration, rate uint32) int64 {
	neg := d < 0
	if neg {
		d = -d
	}
	r := int64(rate)
	sec, frac := int64(d/time.Second), int64(d%time.Second)
	t := sec*r + (frac*r+int64(time.Second)/2)/int64(time.Second)
	if neg {
		return -t
	}
	return t
}

// ntpEpochOffset is the seconds from 1900 (NTP's era 0) to 1970.
const ntpEpochOffset = 2_208_988_800

// toNTP is t as a 64-bit NTP timestamp: seconds since 1900 in the high 32
// bits, the fraction of a second in the low 32, truncated.
func toNTP(t time.Time) uint64 {
	sec := uint64(t.Unix() + ntpEpochOffset)
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return sec<<32 | frac
}
