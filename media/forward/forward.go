package forward

// Decision says what to do with a packet.
type Decision uint8

const (
	// DecisionDrop means the packet is not sent to this receiver.
	DecisionDrop Decision = iota
	// DecisionForward means the packet is sent with the fields of Out.
	DecisionForward
)

func (d Decision) String() string {
	if d == DecisionForward {
		return "forward"
	}
	return "drop"
}

// Packet is what the forwarder needs to know about an incoming RTP packet.
type Packet struct {
	Layer     int // simulcast layer index, 0=q, 1=h, 2=f (0 for audio)
	Seq       uint16
	Timestamp uint32
	// Keyframe marks the first packet of a keyframe, where a receiver can
	// start decoding. For audio every packet is one.
	Keyframe bool
	// Arrival is the arrival time in nanoseconds on the caller's clock.
	Arrival int64

	HasPictureID  bool
	PictureID     uint16
	PictureIDBits int // 7 or 15
	HasTL0        bool
	TL0PICIDX     uint8
}

// Out holds the rewritten header fields of a forwarded packet. PictureID and
// TL0PICIDX are meaningful only when the packet carried them.
type Out struct {
	Seq       uint16
	Timestamp uint32
	PictureID uint16
	TL0PICIDX uint8
}

// Stats are cumulative counters of a Forwarder.
type Stats struct {
	Forwarded uint64
	Dropped   uint64 // all dropped packets, Late included
	Late      uint64 // packets of the current layer older than its switch point
	Switches  uint64 // starts, resumes and layer changes
}

// historySize is how many switch points Locate remembers. Receivers NACK
// within a few hundred milliseconds, and layers do not change that often.
const historySize = 8

// Mapping is how a run of one layer is rewritten: what is added to each
// incoming packet's fields. It changes only at a switch.
type Mapping struct {
	SeqOffset uint16
	TSOffset  uint32
	PicOffset uint16
	TL0Offset uint8
}

// Apply rewrites p's header fields. A retransmission rewritten with the
// mapping in force when the packet was first sent is identical to it.
func (m Mapping) Apply(p *Packet) Out {
	out := Out{
		Seq:       p.Seq + m.SeqOffset,
		Timestamp: p.Timestamp + m.TSOffset,
		TL0PICIDX: p.TL0PICIDX + m.TL0Offset,
	}
	if p.HasPictureID {
		out.PictureID = (p.PictureID + m.PicOffset) & picMask(p.PictureIDBits)
	}
	return out
}

// switchPoint records the mapping in force from one output sequence number on.
type switchPoint struct {
	outStart int64 // extended output sequence number of the first packet
	layer    int
	mapping  Mapping
}

// Forwarder is the per-(receiver, published track) state machine that picks
// the simulcast layer to send and rewrites sequence numbers, timestamps,
// picture ids and TL0PICIDX so that the receiver sees one continuous stream.
//
// A Forwarder is not safe for concurrent use: the caller serialises calls,
// normally from the goroutine reading the published track.
type Forwarder struct {
	clockRate uint32
	target    int
	current   int

	// started is set once anything has been forwarded; before that the
	// output starts from the input values.
	started bool

	// Extended input sequence numbers of the current layer. Packets below
	// switchExt belong to before the switch and have no output slot.
	switchExt  int64
	highestExt int64
	// outStart is the extended output sequence number given to switchExt.
	outStart int64

	m Mapping // of the current run

	// Output values of the highest-sequence packet forwarded: the base for
	// the next switch.
	lastTS      uint32
	lastArrival int64
	lastPic     uint16
	hasPic      bool
	lastTL0     uint8
	hasTL0      bool

	// history is a ring of the latest switch points, newest at histNext-1.
	history  [historySize]switchPoint
	histNext int
	nhist    int

	stats Stats
}

// New returns a Forwarder for a track with the given RTP clock rate. Its
// target is layer 0, so audio and single-layer video flow once the first
// keyframe arrives; call SetTarget to choose another layer or to pause.
func New(clockRate uint32) *Forwarder {
	return &Forwarder{clockRate: clockRate, target: 0, current: -1}
}

// SetTarget selects the layer to send, or -1 to send nothing (paused,
// hidden or muted). Pausing takes effect at once; any other change waits for
// a keyframe of the new layer, and so does resuming after a pause.
func (f *Forwarder) SetTarget(layer int) {
	if layer < 0 {
		layer = -1
		f.current = -1
	}
	f.target = layer
}

// Resync prepares for packets from another source, as when a receiver
// follows the dominant speaker on one track: the next keyframe of the
// target layer starts a new run that continues the output (sequence
// numbers, timestamps, picture ids), as after a pause, and Locate forgets
// the packets sent before, which the new source cannot resend. shift turns
// the old source's arrival times into the new one's clock (new = old +
// shift), so that the timestamp gap across the change follows the time
// that passed.
func (f *Forwarder) Resync(shift int64) {
	f.current = -1
	f.lastArrival += shift
	f.nhist = 0
}

// Target returns the layer requested with SetTarget.
func (f *Forwarder) Target() int { return f.target }

// Current returns the layer being forwarded, or -1 if none.
func (f *Forwarder) Current() int { return f.current }

// WantsKeyframe reports that a switch is waiting for a keyframe of the target
// layer: the caller should ask the publisher for one (throttled PLI).
func (f *Forwarder) WantsKeyframe() bool {
	return f.target >= 0 && f.target != f.current
}

// Stats returns the counters.
func (f *Forwarder) Stats() Stats { return f.stats }

// Process decides whether p is sent and, if so, with which header fields.
func (f *Forwarder) Process(p *Packet) (Out, Decision) {
	if f.target < 0 {
		f.stats.Dropped++
		return Out{}, DecisionDrop
	}
	switched := false
	if p.Layer != f.current {
		if p.Layer != f.target || !p.Keyframe {
			f.stats.Dropped++
			return Out{}, DecisionDrop
		}
		f.switchTo(p)
		switched = true
	}

	ext := f.highestExt + int64(int16(p.Seq-uint16(f.highestExt)))
	if ext < f.switchExt {
		f.stats.Late++
		f.stats.Dropped++
		return Out{}, DecisionDrop
	}
	out := f.m.Apply(p)
	if ext > f.highestExt || switched {
		f.highestExt = ext
		f.lastTS = out.Timestamp
		f.lastArrival = p.Arrival
		if p.HasPictureID {
			f.lastPic, f.hasPic = out.PictureID, true
		}
		if p.HasTL0 {
			f.lastTL0, f.hasTL0 = out.TL0PICIDX, true
		}
	}
	f.stats.Forwarded++
	return out, DecisionForward
}

// switchTo makes p's layer current, with p, a keyframe, as its first packet.
// The offsets make p continue the output right after the last forwarded
// packet, whatever layer that was.
func (f *Forwarder) switchTo(p *Packet) {
	f.stats.Switches++
	// Extended input numbers only need to be consistent within one run of a
	// layer, so each run starts afresh; the base keeps them positive and
	// makes the first output run's extended numbers match its uint16 ones.
	base := extBase + int64(p.Seq)
	outStart := base
	if f.started {
		outStart = f.highestOut() + 1
		f.m.SeqOffset = uint16(outStart) - p.Seq
		f.m.TSOffset = f.lastTS + elapsedTicks(p.Arrival-f.lastArrival, f.clockRate) - p.Timestamp
		if p.HasPictureID && f.hasPic {
			f.m.PicOffset = f.lastPic + 1 - p.PictureID
		}
		if p.HasTL0 && f.hasTL0 {
			f.m.TL0Offset = f.lastTL0 + 1 - p.TL0PICIDX
		}
	}
	f.started = true
	f.current = p.Layer
	f.switchExt = base
	f.highestExt = base
	f.outStart = outStart
	f.history[f.histNext] = switchPoint{outStart: outStart, layer: p.Layer, mapping: f.m}
	f.histNext = (f.histNext + 1) % historySize
	f.nhist = min(f.nhist+1, historySize)
}

// extBase offsets extended sequence numbers so that late packets never make
// them negative.
const extBase = 1 << 32

// highestOut is the extended output sequence number of the highest packet
// forwarded; its low 16 bits are that packet's output Seq.
func (f *Forwarder) highestOut() int64 {
	return f.outStart + f.highestExt - f.switchExt
}

// elapsedTicks converts an arrival-time gap to RTP clock ticks, at least one
// so that output timestamps strictly advance across a switch. The result
// wraps like RTP timestamps do.
func elapsedTicks(ns int64, clockRate uint32) uint32 {
	if ns <= 0 {
		return 1
	}
	const second = int64(1e9)
	// Split into seconds and remainder so that long pauses cannot overflow.
	t := uint64(ns/second)*uint64(clockRate) + uint64(ns%second)*uint64(clockRate)/uint64(second)
	if t < 1 {
		return 1
	}
	return uint32(t)
}

// Locate maps an output sequence number back to the layer and input
// sequence number it was (or would have been) forwarded from, and the
// mapping it was rewritten with, so that a receiver's NACK can be answered
// from that layer's packet cache exactly as the packet was first sent. It
// fails for numbers not yet sent or older than the switch points remembered.
func (f *Forwarder) Locate(out uint16) (layer int, seq uint16, m Mapping, ok bool) {
	if !f.started {
		return 0, 0, Mapping{}, false
	}
	hi := f.highestOut()
	ext := hi + int64(int16(out-uint16(hi)))
	if ext > hi {
		return 0, 0, Mapping{}, false
	}
	for i := 1; i <= f.nhist; i++ {
		sp := &f.history[(f.histNext-i+historySize)%historySize]
		if ext >= sp.outStart {
			return sp.layer, out - sp.mapping.SeqOffset, sp.mapping, true
		}
	}
	return 0, 0, Mapping{}, false
}

func picMask(bits int) uint16 {
	if bits == 7 {
		return 0x7f
	}
	return 0x7fff
}
