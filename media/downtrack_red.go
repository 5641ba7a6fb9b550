package media

import (
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/media/forward"
	"github.com/switchyard/switchyard/media/red"
)

// What a DownTrack does with a publisher's audio RED (RFC 2198).
type redMode uint8

const (
	redNone    redMode = iota // not RED, or RED sent as it is (same payload types)
	redRewrite                // RED to a receiver that numbers the blocks' codec otherwise
	redStrip                  // the primary alone, as Opus, to a receiver without RED
)

// recoveredRing is how many rebuilt sequence numbers a stripping DownTrack
// remembers, so that the late original of one is not sent twice.
const recoveredRing = 4

// redState is a DownTrack's RED state; guarded by its mu.
type redState struct {
	mode    redMode
	primary uint8 // redRewrite: the receiver's payload type of the blocks

	// redStrip: the newest primary forwarded, as the publisher numbered it.
	have bool
	seq  uint16
	ts   uint32
	// Sequence numbers sent from redundancy, newest at next-1.
	recovered [recoveredRing]uint16
	nrec      int
	next      int
	rtx       red.Payload // scratch for a retransmission's parse
}

// redModeFor is what to do with up's packets for a receiver that
// negotiated c, the publisher's own codec.
func redModeFor(up *UpTrack, c webrtc.RTPCodecParameters) redMode {
	if !up.isRED {
		return redNone
	}
	if pt, ok := red.PrimaryPT(c.SDPFmtpLine); ok && pt != up.redPrimary {
		return redRewrite
	}
	return redNone
}

// SetREDRecovery turns on or off (it starts on) the rebuilding of lost Opus
// packets from the redundancy of the next RED packet, for a receiver that
// gets the primary encodings only. It never blocks.
func (d *DownTrack) SetREDRecovery(on bool) { d.noRecovery.Store(!on) }

// beforeStrip runs before a RED packet is stripped to its primary: first
// the packets lost just before it that its redundancy holds are sent, in
// order, with the sequence numbers and timestamps they had; then it reports
// whether p itself is to be forwarded (not the late original of a packet
// already rebuilt). Called with mu held.
func (d *DownTrack) beforeStrip(p *Packet) bool {
	if p.RED == nil {
		return false // the UpTrack parses every RED packet; never sent unparsed
	}
	s := &d.redState
	seq := p.Header.SequenceNumber
	if d.fwd.Current() != p.Layer || d.fwd.Target() != p.Layer {
		// Paused, or starting afresh after a pause: nothing to continue from.
		s.have, s.nrec = false, 0
		return true
	}
	if s.have && int16(seq-s.seq) < 0 {
		for i := range s.nrec {
			if s.recovered[i] == seq {
				return false
			}
		}
		return true
	}
	if !s.have || d.noRecovery.Load() {
		return true
	}
	missing := int(seq-s.seq) - 1
	if missing < 1 || missing > 2 {
		return true // none lost, or more than the redundancy browsers send
	}
	// The redundant blocks are the encodings sent just before p, oldest
	// first: the last is seq-1, the one before it seq-2. Each must fall
	// strictly between the last primary forwarded and p.
	blocks := p.RED.Redundant()
	prev := s.ts
	for k := missing; k >= 1; k-- {
		i := len(blocks) - k
		if i < 0 {
			continue
		}
		b := &blocks[i]
		ts := p.Header.Timestamp - uint32(b.TSOffset)
		if b.TSOffset == 0 || len(b.Payload) == 0 || int32(ts-prev) <= 0 {
			continue
		}
		fp := forward.Packet{Layer: p.Layer, Seq: seq - uint16(k), Timestamp: ts, Keyframe: true, Arrival: p.Arrival}
		out, decision := d.fwd.Process(&fp)
		if decision != forward.DecisionForward {
			continue
		}
		d.emit(false, out, b.Payload, p.Arrival)
		d.Recovered.Add(1)
		s.recovered[s.next] = fp.Seq
		s.next = (s.next + 1) % recoveredRing
		s.nrec = min(s.nrec+1, recoveredRing)
		prev = ts
	}
	return true
}

// stripped notes p's primary as forwarded; called with mu held.
func (d *DownTrack) stripped(p *Packet) {
	s := &d.redState
	if seq := p.Header.SequenceNumber; !s.have || int16(seq-s.seq) > 0 {
		s.have, s.seq, s.ts = true, seq, p.Header.Timestamp
	}
}

// redRetransmit turns a cached packet's payload into what this receiver
// was sent: the primary for a stripped track, blocks renumbered for a
// rewritten one. payload is the DownTrack's own copy. Called with mu held.
func (d *DownTrack) redRetransmit(up *UpTrack, payload []byte) ([]byte, bool) {
	switch d.redState.mode {
	case redStrip:
		if red.Parse(payload, up.redPT, up.redPrimary, &d.redState.rtx) != nil {
			return nil, false
		}
		return d.redState.rtx.Primary, true
	case redRewrite:
		red.SetPT(payload, d.redState.primary)
	}
	return payload, true
}
