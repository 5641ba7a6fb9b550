package twcc

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/pion/rtcp"

	"github.com/switchyard/switchyard/media/bwe"
)

// ringSize is how many packets' send records are kept: about 8 s at 1000
// packets a second, far longer than feedback takes.
const ringSize = 1 << 13

// slot is one sent packet. seq (the unwrapped number plus one, 0 for
// never written) is stored last, so a reader that sees it sees the rest.
type slot struct {
	seq   atomic.Int64
	at    atomic.Int64 // ns
	meta  atomic.Uint64
	ext   [2]byte // the extension's bytes, alive until the slot is reused
	probe atomic.Int32
}

// Sender numbers outgoing packets and remembers them. Stamp is safe for
// concurrent use; Feedback is called from one goroutine at a time.
type Sender struct {
	next  atomic.Int64 // the next unwrapped sequence number
	probe atomic.Int32 // the probe cluster packets belong to now, 0 for none
	ring  [ringSize]slot

	out []bwe.Packet // reused by Feedback
}

// NewSender returns a Sender numbering from 0.
func NewSender() *Sender { return &Sender{} }

// SetProbe marks packets stamped from now on as part of probe cluster id
// (0 ends the cluster).
func (s *Sender) SetProbe(id int) { s.probe.Store(int32(id)) }

// Stamp numbers one packet of size bytes sent at now (ns) and returns the
// extension's two bytes. They stay valid until ringSize more packets have
// been stamped, so the caller may hand them to the packet's header without
// copying.
func (s *Sender) Stamp(size int, now int64) []byte {
	n := s.next.Add(1) - 1
	sl := &s.ring[n&(ringSize-1)]
	sl.at.Store(now)
	sl.meta.Store(uint64(size))
	sl.probe.Store(s.probe.Load())
	sl.ext[0], sl.ext[1] = byte(n>>8), byte(n)
	sl.seq.Store(n + 1)
	return sl.ext[:]
}

// Errors of Feedback.
var (
	ErrFeedbackMalformed = errors.New("twcc: malformed feedback")
	ErrFeedbackUnknown   = errors.New("twcc: feedback for packets not sent")
)

// Feedback turns a feedback packet into per-packet results, in sequence
// order. Packets the ring no longer (or never) held are left out; a report
// on none at all is an error. The slice is reused by the next call.
func (s *Sender) Feedback(fb *rtcp.TransportLayerCC) ([]bwe.Packet, error) {
	s.out = s.out[:0]
	latest := s.next.Load() - 1
	if latest < 0 {
		return nil, ErrFeedbackUnknown
	}
	// Unwrap the 16-bit base against the newest number sent: feedback is
	// about the past.
	base := latest - int64(uint16(latest)-fb.BaseSequenceNumber)
	arrival := int64(fb.ReferenceTime) * 64e6 // ns
	deltas := fb.RecvDeltas
	i := 0 // status index
	handle := func(status uint16) error {
		seq := base + int64(i)
		i++
		received := status == rtcp.TypeTCCPacketReceivedSmallDelta || status == rtcp.TypeTCCPacketReceivedLargeDelta
		var at int64
		if received {
			if len(deltas) == 0 {
				return fmt.Errorf("%w: %d received packets but fewer deltas", ErrFeedbackMalformed, i)
			}
			if deltas[0] == nil {
				return fmt.Errorf("%w: nil delta", ErrFeedbackMalformed)
			}
			arrival += deltas[0].Delta * 1000
			at = arrival
			deltas = deltas[1:]
		}
		if seq < 0 || seq > latest || latest-seq >= ringSize {
			return nil
		}
		sl := &s.ring[seq&(ringSize-1)]
		if sl.seq.Load() != seq+1 {
			return nil // overwritten since
		}
		s.out = append(s.out, bwe.Packet{
			Seq: seq, SendTime: sl.at.Load(), Size: int(sl.meta.Load()), Probe: int(sl.probe.Load()),
			Received: received, Arrival: at,
		})
		return nil
	}
	count := int(fb.PacketStatusCount)
	for _, c := range fb.PacketChunks {
		if i >= count {
			break
		}
		switch c := c.(type) {
		case *rtcp.RunLengthChunk:
			for j := 0; j < int(c.RunLength) && i < count; j++ {
				if err := handle(c.PacketStatusSymbol); err != nil {
					return nil, err
				}
			}
		case *rtcp.StatusVectorChunk:
			for _, sym := range c.SymbolList {
				if i >= count {
					break
				}
				if err := handle(sym); err != nil {
					return nil, err
				}
			}
		default:
			return nil, fmt.Errorf("%w: chunk of type %T", ErrFeedbackMalformed, c)
		}
	}
	if len(s.out) == 0 {
		return nil, ErrFeedbackUnknown
	}
	return s.out, nil
}
