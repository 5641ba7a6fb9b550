package rtcpreport

import (
	"sync"
	"time"

	"github.com/pion/rtcp"
)

// RFC 3550 A.1's limits for sequence number jumps.
const (
	maxDropout  = 3000 // a jump forward of up to this is a gap
	maxMisorder = 100  // a jump back of up to this is reordering
	seqMod      = 1 << 16
)

// maxJitterStep is the largest transit difference, in seconds, jitter
// takes in: a bigger one is a timestamp jump (a source restarted or
// switched), not jitter, as libwebrtc also judges.
const maxJitterStep = 5

// receiveStats is what a reception report block needs of one stream the
// PeerConnection receives: RFC 3550 A.1 (sequence numbers), A.3 (loss) and
// A.8 (jitter). Not safe for concurrent use.
type receiveStats struct {
	clockRate uint32

	started  bool
	maxSeq   uint16 // highest sequence number seen
	cycles   uint32 // sequence number wraps, times 2^16
	baseSeq  uint32 // the first sequence number
	badSeq   uint32 // the number after a big jump; seqMod+1 for none
	received uint32 // packets received, reordered and duplicates included
	// At the previous report, for the fraction lost in between.
	expectedPrior, receivedPrior uint32

	transit    uint32 // arrival - timestamp of the previous packet, RTP units
	hasTransit bool
	jitter     uint32 // interarrival jitter times 16 (A.8's integer form)

	heard bool // a packet counted since the previous report
}

// init restarts the sequence at seq (A.1 init_seq).
func (r *receiveStats) init(seq uint16) {
	r.started = true
	r.baseSeq = uint32(seq)
	r.maxSeq = seq
	r.badSeq = seqMod + 1
	r.cycles = 0
	r.received = 0
	r.expectedPrior, r.receivedPrior = 0, 0
	r.hasTransit = false
}

// update counts a packet with sequence number seq and timestamp ts that
// arrived at arrival, in RTP units of the stream's clock (A.1 update_seq,
// A.8). A packet far from the sequence is not counted unless the next one
// follows it, which restarts the sequence (the source restarted).
func (r *receiveStats) update(seq uint16, ts, arrival uint32) {
	if !r.started {
		r.init(seq)
	} else {
		udelta := seq - r.maxSeq
		switch {
		case udelta < maxDropout:
			if seq < r.maxSeq {
				r.cycles += seqMod
			}
			r.maxSeq = seq
		case uint32(udelta) <= seqMod-maxMisorder:
			if uint32(seq) != r.badSeq {
				r.badSeq = (uint32(seq) + 1) & (seqMod - 1)
				return
			}
			r.init(seq)
		default:
			// Duplicate or reordered: counted, the maximum stays.
		}
	}
	r.received++
	r.heard = true

	transit := arrival - ts
	if r.hasTransit && r.clockRate > 0 {
		d := int64(int32(transit - r.transit))
		if d < 0 {
			d = -d
		}
		if d <= maxJitterStep*int64(r.clockRate) {
			r.jitter += uint32(d) - (r.jitter+8)>>4
		}
	}
	r.transit, r.hasTransit = transit, true
}

// Cumulative loss is a signed 24-bit field (RFC 3550 6.4.1).
const maxCumulativeLost = 1<<23 - 1

// block is the reception report block for ssrc without LSR and DLSR, and
// starts the next interval; false when no packet was counted since the
// previous report (RFC 3550 6.4: blocks are for sources heard since).
// Duplicates can make the cumulative loss negative, which is reported as
// 0: receivers differ on reading the field as signed.
func (r *receiveStats) block(ssrc uint32) (rtcp.ReceptionReport, bool) {
	if !r.heard {
		return rtcp.ReceptionReport{}, false
	}
	r.heard = false
	extMax := r.cycles + uint32(r.maxSeq)
	expected := extMax - r.baseSeq + 1
	lost := min(max(int64(expected)-int64(r.received), 0), maxCumulativeLost)

	expInterval := expected - r.expectedPrior
	recvInterval := r.received - r.receivedPrior
	r.expectedPrior, r.receivedPrior = expected, r.received
	var fraction uint8
	if lostInterval := int64(expInterval) - int64(recvInterval); expInterval > 0 && lostInterval > 0 {
		fraction = uint8(min(lostInterval<<8/int64(expInterval), 255))
	}
	return rtcp.ReceptionReport{
		SSRC:               ssrc,
		FractionLost:       fraction,
		TotalLost:          uint32(lost),
		LastSequenceNumber: extMax,
		Jitter:             r.jitter >> 4,
	}, true
}

// remoteStream is one stream the PeerConnection receives.
type remoteStream struct {
	ssrc uint32

	mu    sync.Mutex // the receive path and the reporter
	rx    receiveStats
	lsr   uint32    // the middle 32 bits of the latest SR's NTP time
	lsrAt time.Time // when it arrived; zero for none
}

// received counts a packet; the receive path.
func (s *remoteStream) received(seq uint16, ts, arrival uint32) {
	s.mu.Lock()
	s.rx.update(seq, ts, arrival)
	s.mu.Unlock()
}

// senderReport records an SR from the stream's source that arrived at now.
// The same SR read twice (pion hands a compound packet to the reader of
// every SSRC it names) keeps its first arrival.
func (s *remoteStream) senderReport(ntp uint64, now time.Time) {
	lsr := uint32(ntp >> 16)
	s.mu.Lock()
	if s.lsrAt.IsZero() || s.lsr != lsr {
		s.lsr, s.lsrAt = lsr, now
	}
	s.mu.Unlock()
}

// block is the stream's report block at now; false if not heard since the
// previous one. Reporter only.
func (s *remoteStream) block(now time.Time) (rtcp.ReceptionReport, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.rx.block(s.ssrc)
	if ok && !s.lsrAt.IsZero() {
		b.LastSenderReport = s.lsr
		b.Delay = dlsr(now.Sub(s.lsrAt))
	}
	return b, ok
}

// dlsr is d in units of 1/65536 s, truncated, 0 for negative d and at
// most the field's maximum.
func dlsr(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	u := uint64(d/time.Second)<<16 + uint64(d%time.Second)<<16/uint64(time.Second)
	return uint32(min(u, 1<<32-1))
}

// rtpTime is a duration as a 32-bit RTP clock reading of rate Hz,
// wrapping as RTP timestamps do.
func rtpTime(d time.Duration, rate uint32) uint32 {
	return uint32(rtpTicks(d, rate))
}
