package media

import (
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/media/codec"
	"github.com/switchyard/switchyard/media/forward"
	"github.com/switchyard/switchyard/media/freeze"
	"github.com/switchyard/switchyard/media/red"
	"github.com/switchyard/switchyard/media/rtxguard"
)

// ErrNoCodec is returned by Bind when the receiver did not negotiate the publisher's codec.
var ErrNoCodec = errors.New("media: receiver does not support the publisher's codec")

// DownTrack sends one published track to one receiver. It is a pion
// TrackLocal: the receiver's PeerConnection binds it and it writes RTP to it.
type DownTrack struct {
	id        string // the source: "mic", "camera" or "screen"
	streamID  string // the publisher's participant id
	kind      webrtc.RTPCodecType
	clockRate uint32
	// up is the publisher's track: keyframes are asked of it, retransmissions
	// read from its cache. Switch replaces it (with mu held); nil for a track
	// made by NewFollowTrack until its first Switch.
	up atomic.Pointer[UpTrack]

	// Control (allocation, snapshots, RTCP) never waits for the data path:
	// it reads and writes these atomics, and WriteRTP applies the requested
	// target before its next packet. A control goroutine that took mu would
	// queue behind a write stalled in the receiver's pion pipeline and, with
	// the participant's lock held, stall the whole room.
	want atomic.Int32 // target requested by SetTarget
	// waiting holds the track back until the receiver's transport can
	// carry it (SetWaiting): a packet written before DTLS is up is
	// dropped by pion, and a keyframe lost that way leaves the receiver
	// with nothing to decode until it asks again.
	waiting atomic.Bool
	current atomic.Int32  // the forwarder's current layer, as of the last packet
	ssrc    atomic.Uint32 // 0 until bound
	rtt     atomic.Int64  // the receiver's round trip, ns; 0 = rtxguard's default
	budget  atomic.Pointer[rtxguard.Budget]
	now     func() time.Time // the clock; tests replace it
	// noRecovery turns off rebuilding lost audio from RED redundancy.
	noRecovery atomic.Bool
	// freeze follows the video frames forwarded (guarded by mu); what the
	// API reads of it is copied to the atomics below at every frame.
	freeze      freeze.Detector
	frames      atomic.Uint64
	freezes     atomic.Uint64
	freezeNanos atomic.Int64
	lastFrame   atomic.Int64 // wall clock ns of the latest frame forwarded
	fps         atomic.Int64 // frames/s ×100, updated by Tick
	tickFrames  uint64
	// mime is the codec the receiver is sent, for the API.
	mime atomic.Pointer[string]
	// protect asks for the node's own RED (downtrack_protect.go);
	// canProtect says whether it can be given.
	protect, canProtect atomic.Bool

	mu      sync.Mutex // guards everything below; WriteRTP runs on each layer's goroutine
	fwd     *forward.Forwarder
	writer  webrtc.TrackLocalWriter
	codecs  []webrtc.RTPCodecParameters // what the receiver negotiated, from Bind
	pt      uint8
	payload [1500]byte // scratch for payloads rewritten per receiver
	rtxBuf  [1500]byte // scratch for retransmissions (RTCP goroutine)
	rtxVP8  codec.VP8  // scratch for a retransmitted payload's descriptor
	hdr     rtp.Header // scratch for the outgoing header
	guard   *rtxguard.Track

	redState // audio RED: forwarded, rewritten or stripped (downtrack_red.go)
	protectState
	rtxState // the receiver's RTX stream: retransmissions, padding (downtrack_rtx.go)

	// Forwarded packets and bytes not yet added to the budget: its atomics
	// are shared by all the receiver's tracks, so they are added in batches.
	budgetPackets, budgetBytes int

	Packets     atomic.Uint64
	Bytes       atomic.Uint64
	NACKed      atomic.Uint64 // sequence numbers receivers asked for
	Retransmits atomic.Uint64 // packets resent from the cache
	PLIs        atomic.Uint64 // keyframe requests from the receiver
	WriteErrors atomic.Uint64
	firstErr    atomic.Pointer[error]
	bitrate     atomic.Int64
	tickBytes   uint64

	// Recovered counts Opus packets rebuilt from RED redundancy, for a
	// receiver without RED, in place of ones lost before the node.
	Recovered atomic.Uint64

	// RetransmitsRefused counts NACKed sequence numbers not resent, by
	// rtxguard.Reason (index rtxguard.Allowed stays 0).
	RetransmitsRefused [rtxguard.NumReasons]atomic.Uint64
}

// NewDownTrack makes a DownTrack for up, sending nothing until a target layer is set.
func NewDownTrack(up *UpTrack) *DownTrack {
	d := newDownTrack(up.Kind(), up.Source().String(), up.Publisher(), up.Codec().ClockRate)
	d.up.Store(up)
	return d
}

// NewFollowTrack makes a DownTrack of kind that has no publisher yet: it
// sends nothing until Switch gives it one, and may follow one publisher
// after another on the same SSRC (a receiver that cannot renegotiate, such
// as a WHEP viewer following the dominant speaker). id and streamID are its
// track and stream ids as the receiver sees them.
func NewFollowTrack(kind Kind, id, streamID string) *DownTrack {
	rate := uint32(90000) // VP8 and H.264
	if kind == KindAudio {
		rate = 48000 // Opus, and RED of Opus
	}
	return newDownTrack(kind, id, streamID, rate)
}

func newDownTrack(kind Kind, id, streamID string, clockRate uint32) *DownTrack {
	d := &DownTrack{
		id:        id,
		streamID:  streamID,
		kind:      kind.CodecType(),
		clockRate: clockRate,
		fwd:       forward.New(clockRate),
		now:       time.Now,
		guard:     rtxguard.NewTrack(rtxguard.TrackConfig{}),
	}
	d.budget.Store(rtxguard.NewBudget(rtxguard.BudgetConfig{}, d.now()))
	d.want.Store(int32(d.fwd.Target()))
	d.current.Store(int32(d.fwd.Current()))
	return d
}

// SetWaiting holds the track back (true) until the receiver's transport is
// up, and lets it go (false): nothing is forwarded meanwhile, so the first
// packet the receiver gets of a video is a keyframe, asked for the moment
// the track is let go. It never blocks.
func (d *DownTrack) SetWaiting(w bool) {
	if d.waiting.Swap(w) == w || w {
		return
	}
	if up := d.up.Load(); up != nil && d.kind == webrtc.RTPCodecTypeVideo {
		if target := int(d.want.Load()); target >= 0 {
			up.RequestKeyframe(target)
		}
	}
}

// SetRetransmitBudget makes the track's retransmissions count against b,
// which the receiver's other tracks may share. nil gives the track a
// default budget of its own; none is unlimited. It never blocks.
func (d *DownTrack) SetRetransmitBudget(b *rtxguard.Budget) {
	if b == nil {
		b = rtxguard.NewBudget(rtxguard.BudgetConfig{}, d.now())
	}
	d.budget.Store(b)
}

// SetRTT sets the receiver's round-trip time: a sequence number is resent at
// most once per round trip. 0 means rtxguard.DefaultRTT. It never blocks.
func (d *DownTrack) SetRTT(rtt time.Duration) { d.rtt.Store(int64(rtt)) }

// RetransmitsRefusedTotal is the sum of RetransmitsRefused over the reasons.
func (d *DownTrack) RetransmitsRefusedTotal() uint64 {
	var n uint64
	for i := range d.RetransmitsRefused {
		n += d.RetransmitsRefused[i].Load()
	}
	return n
}

// ID is the track id: its source, "mic", "camera" or "screen".
func (d *DownTrack) ID() string { return d.id }

// RID is empty: a receiver gets one layer at a time.
func (d *DownTrack) RID() string { return "" }

// StreamID is the publisher's participant id, so that the receiver can group tracks.
func (d *DownTrack) StreamID() string { return d.streamID }

// Kind is audio or video.
func (d *DownTrack) Kind() webrtc.RTPCodecType { return d.kind }

// Codec is the MIME type of what the receiver is sent ("" before Bind):
// audio/red where the publisher's RED goes as it is or the node adds its
// own, audio/opus where RED is stripped.
func (d *DownTrack) Codec() string {
	if d.Protecting() {
		return red.MimeType
	}
	if m := d.mime.Load(); m != nil {
		return *m
	}
	return ""
}

// Bind is called by pion when the receiver's PeerConnection has negotiated the track.
// A publisher's RED goes as it is to a receiver that negotiated RED, and
// as plain Opus to one that did not.
func (d *DownTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codecs := ctx.CodecParameters()
	d.mu.Lock()
	defer d.mu.Unlock()
	var (
		c    webrtc.RTPCodecParameters
		mode redMode
		ok   bool
	)
	up := d.up.Load()
	if up != nil {
		c, mode, ok = codecFor(codecs, up)
	} else {
		c, ok = firstForwardable(codecs, d.kind)
	}
	if !ok {
		want := "a forwardable " + d.kind.String() + " codec"
		if up != nil {
			want = up.Codec().MimeType
		}
		return webrtc.RTPCodecParameters{}, fmt.Errorf("%w: %s", ErrNoCodec, want)
	}
	d.writer = ctx.WriteStream()
	d.ssrc.Store(uint32(ctx.SSRC()))
	d.bindRTX(uint32(ctx.SSRCRetransmission()))
	d.codecs = slices.Clone(codecs)
	d.setCodec(c, mode)
	return c, nil
}

// codecFor picks, among a receiver's codecs, the one up's packets go as,
// and what to do with RED; ok is false when there is none.
func codecFor(codecs []webrtc.RTPCodecParameters, up *UpTrack) (c webrtc.RTPCodecParameters, mode redMode, ok bool) {
	pub := up.Codec()
	for _, c := range codecs {
		if !strings.EqualFold(c.MimeType, pub.MimeType) {
			continue
		}
		if strings.EqualFold(c.MimeType, webrtc.MimeTypeH264) && !sameH264Mode(c.SDPFmtpLine, pub.SDPFmtpLine) {
			continue
		}
		return c, redModeFor(up, c), true
	}
	if up.isRED {
		for _, c := range codecs {
			if strings.EqualFold(c.MimeType, webrtc.MimeTypeOpus) {
				return c, redStrip, true
			}
		}
	}
	return webrtc.RTPCodecParameters{}, redNone, false
}

// firstForwardable is the first of a receiver's codecs a track of kind
// may carry before it has a publisher: Opus, VP8 or H.264.
func firstForwardable(codecs []webrtc.RTPCodecParameters, kind webrtc.RTPCodecType) (webrtc.RTPCodecParameters, bool) {
	for _, c := range codecs {
		m := c.MimeType
		if kind == webrtc.RTPCodecTypeAudio && strings.EqualFold(m, webrtc.MimeTypeOpus) ||
			kind == webrtc.RTPCodecTypeVideo && (strings.EqualFold(m, webrtc.MimeTypeVP8) || strings.EqualFold(m, webrtc.MimeTypeH264)) {
			return c, true
		}
	}
	return webrtc.RTPCodecParameters{}, false
}

// setCodec sends from now on as c; called with mu held.
func (d *DownTrack) setCodec(c webrtc.RTPCodecParameters, mode redMode) {
	d.pt = uint8(c.PayloadType)
	mime := c.MimeType
	d.mime.Store(&mime)
	d.redState = redState{mode: mode}
	if mode == redRewrite {
		d.redState.primary, _ = red.PrimaryPT(c.SDPFmtpLine)
	}
	d.setProtection(c, mode)
	d.canProtect.Store(d.protectState.wrapPT != 0)
	d.setRTXCodec()
}

// Switch makes the track forward up, another publisher's track of the same
// kind, from now on, on the same SSRC: for a receiver that follows the
// dominant speaker and cannot renegotiate. The output continues as across a
// layer switch: from a keyframe of up (asked for at once), with sequence
// numbers, timestamps and picture ids continuous, and a payload type the
// receiver negotiated for up's codec. Packets of the previous source still
// in flight are dropped, and NACKs for what was sent before the switch go
// unanswered. The caller adds the track to up's sinks and removes it from
// the previous source's. It fails, changing nothing, for a track of
// another kind or clock rate, or when the receiver negotiated no codec up
// can be sent as.
func (d *DownTrack) Switch(up *UpTrack) error {
	if up == nil {
		return errors.New("media: switch to no track")
	}
	if up.Kind().CodecType() != d.kind || up.Codec().ClockRate != d.clockRate {
		return fmt.Errorf("media: cannot switch a %s track at %d Hz to %s at %d Hz",
			d.kind, d.clockRate, up.Codec().MimeType, up.Codec().ClockRate)
	}
	d.mu.Lock()
	old := d.up.Load()
	if old == up {
		d.mu.Unlock()
		return nil
	}
	if d.codecs != nil {
		c, mode, ok := codecFor(d.codecs, up)
		if !ok {
			d.mu.Unlock()
			return fmt.Errorf("%w: %s", ErrNoCodec, up.Codec().MimeType)
		}
		d.setCodec(c, mode)
	}
	var shift int64
	if old != nil {
		shift = old.epoch.Sub(up.epoch).Nanoseconds()
	}
	d.fwd.Resync(shift)
	d.current.Store(int32(d.fwd.Current()))
	// What the receiver was sent so far cannot be resent from up's cache.
	d.guard = rtxguard.NewTrack(rtxguard.TrackConfig{})
	d.up.Store(up)
	target := int(d.want.Load())
	d.mu.Unlock()
	up.RequestKeyframe(target)
	return nil
}

// Source is the publisher's track being forwarded, nil if none.
func (d *DownTrack) Source() *UpTrack { return d.up.Load() }

func sameH264Mode(a, b string) bool {
	mode := func(s string) string {
		if strings.Contains(s, "packetization-mode=1") {
			return "1"
		}
		return "0"
	}
	return mode(a) == mode(b)
}

// Unbind is called by pion when the track stops being sent.
func (d *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	d.mu.Lock()
	d.writer = nil
	d.mu.Unlock()
	return nil
}

// SetTarget sets the layer to forward; -1 sends nothing. It takes effect
// with the next packet and never blocks.
func (d *DownTrack) SetTarget(layer int) {
	d.want.Store(int32(max(layer, -1)))
}

// Layers returns the layer being forwarded, the one wanted (-1 = none) and
// whether a switch waits for a keyframe. It never blocks.
func (d *DownTrack) Layers() (current, target int, waiting bool) {
	current, target = int(d.current.Load()), int(d.want.Load())
	if target < 0 {
		current = -1 // a pause applies to the next packet: none is sent
	}
	return current, target, target >= 0 && target != current
}

// WriteRTP forwards one packet of the publisher's track if it belongs to the
// layer this receiver gets. It does not allocate.
func (d *DownTrack) WriteRTP(p *Packet) {
	if d.waiting.Load() {
		return
	}
	d.mu.Lock()
	up := d.up.Load()
	if d.writer == nil || p.from != nil && p.from != up {
		// Unbound, or a late packet of a source Switch left.
		d.mu.Unlock()
		return
	}
	fp := forward.Packet{
		Layer:     p.Layer,
		Seq:       p.Header.SequenceNumber,
		Timestamp: p.Header.Timestamp,
		Keyframe:  p.Keyframe,
		Arrival:   p.Arrival,
	}
	if p.VP8 != nil {
		setVP8(&fp, p.VP8)
	}
	if t := int(d.want.Load()); t != d.fwd.Target() {
		d.fwd.SetTarget(t)
	}
	if d.redState.mode == redStrip && !d.beforeStrip(p) {
		d.mu.Unlock()
		return
	}
	out, decision := d.fwd.Process(&fp)
	d.current.Store(int32(d.fwd.Current()))
	wants, target := d.fwd.WantsKeyframe(), d.fwd.Target()
	if decision == forward.DecisionForward {
		d.send(p, out)
		if p.Header.Marker && d.kind == webrtc.RTPCodecTypeVideo {
			d.frameSent()
		}
	}
	d.mu.Unlock()
	if wants {
		up.RequestKeyframe(target)
	}
}

// setVP8 copies the descriptor fields the forwarder rewrites.
func setVP8(fp *forward.Packet, v *codec.VP8) {
	fp.HasPictureID, fp.PictureID, fp.PictureIDBits = v.HasPictureID, v.PictureID, v.PictureIDBits
	fp.HasTL0, fp.TL0PICIDX = v.HasTL0, v.TL0PICIDX
}

// write sends payload with the rewritten header; called with mu held.
func (d *DownTrack) write(marker bool, out forward.Out, payload []byte) error {
	h := d.header(rtp.Header{
		Version:        2,
		Marker:         marker,
		PayloadType:    d.pt,
		SequenceNumber: out.Seq,
		Timestamp:      out.Timestamp,
		SSRC:           d.ssrc.Load(),
	})
	_, err := d.writer.WriteRTP(h, payload)
	return err
}

// header makes h the outgoing header and returns it; called with mu held.
// A field, not a local: handing a local's address to the writer interface
// would move it to the heap on every packet. It keeps the extensions'
// backing array of the previous packet, emptied: the transport-wide CC
// interceptor adds its extension to every packet, and appending it to a
// nil slice would allocate once per packet.
func (d *DownTrack) header(h rtp.Header) *rtp.Header {
	ext := d.hdr.Extensions[:0]
	d.hdr = h
	d.hdr.Extensions = ext
	return &d.hdr
}

// send writes a forwarded packet; called with mu held.
func (d *DownTrack) send(p *Packet, out forward.Out) {
	payload := p.Payload
	switch {
	case p.VP8 != nil && (p.VP8.HasPictureID || p.VP8.HasTL0) && len(payload) <= len(d.payload):
		n := copy(d.payload[:], payload)
		payload = d.payload[:n]
		codec.RewriteVP8(payload, p.VP8, out.PictureID, out.TL0PICIDX)
	case d.redState.mode == redStrip:
		payload = p.RED.Primary // beforeStrip made sure there is one
		d.stripped(p)
	case d.redState.mode == redRewrite && len(payload) <= len(d.payload):
		n := copy(d.payload[:], payload)
		payload = d.payload[:n]
		red.SetPT(payload, d.redState.primary)
	case d.protectState.wrapPT != 0:
		var pt uint8
		if payload, pt = d.protected(out.Timestamp, payload); pt != d.pt {
			// The one packet goes with RED's payload type.
			opus := d.pt
			d.pt = pt
			d.emit(p.Header.Marker, out, payload, p.Arrival)
			d.pt = opus
			return
		}
	}
	d.emit(p.Header.Marker, out, payload, p.Arrival)
}

// emit writes one packet and counts it; called with mu held.
func (d *DownTrack) emit(marker bool, out forward.Out, payload []byte, arrival int64) {
	// Remembered even if the write fails: the receiver may NACK it.
	d.guard.Forwarded(out.Seq, arrival)
	d.rtxState.lastTS = out.Timestamp
	if err := d.write(marker, out, payload); err != nil {
		if d.WriteErrors.Add(1) == 1 {
			first := err
			d.firstErr.Store(&first)
		}
		return
	}
	n := len(payload) + 12
	d.Packets.Add(1)
	d.Bytes.Add(uint64(n))
	d.budgetPackets++
	d.budgetBytes += n
	if d.budgetPackets >= budgetBatch {
		d.flushBudget()
	}
}

// budgetBatch is how many forwarded packets a DownTrack adds to its budget at
// once; a NACK flushes the rest first.
const budgetBatch = 16

// flushBudget adds what was forwarded to the budget; called with mu held.
func (d *DownTrack) flushBudget() {
	if d.budgetPackets > 0 {
		d.budget.Load().Forwarded(d.budgetPackets, d.budgetBytes)
		d.budgetPackets, d.budgetBytes = 0, 0
	}
}

// HandleRTCP acts on the receiver's feedback about this track: NACKs are
// answered from the cache, keyframe requests go to the publisher.
func (d *DownTrack) HandleRTCP(pkts []rtcp.Packet) {
	for _, pkt := range pkts {
		switch p := pkt.(type) {
		case *rtcp.TransportLayerNack:
			d.answerNACK(p)
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			d.PLIs.Add(1)
			layer, target, _ := d.Layers()
			if layer < 0 {
				layer = target
			}
			if up := d.up.Load(); up != nil {
				up.RequestKeyframe(layer)
			}
		}
	}
}

// answerNACK resends what the receiver asked for, within rtxguard's limits:
// not too far back, once per round trip, and within the receiver's budget,
// cheapest check first.
func (d *DownTrack) answerNACK(p *rtcp.TransportLayerNack) {
	up := d.up.Load()
	if up == nil {
		return
	}
	now := d.now()
	at := now.Sub(up.epoch).Nanoseconds() // the clock of Packet.Arrival
	rtt := time.Duration(d.rtt.Load())
	budget := d.budget.Load()
	spent := false // the budget refused at this now: it refuses the rest too
	// The lock is taken per pair (at most 17 packets), so that forwarding is
	// not held up for a whole NACK.
	for _, pair := range p.Nacks {
		d.mu.Lock()
		if d.writer == nil || d.up.Load() != up {
			// Unbound, or switched to another source: what was asked for
			// came from the previous one.
			d.mu.Unlock()
			return
		}
		d.flushBudget()
		d.NACKed.Add(uint64(1 + bits.OnesCount16(uint16(pair.LostPackets))))
		seq, lost := pair.PacketID, uint16(pair.LostPackets)
		for {
			r := d.guard.Check(seq, at, rtt)
			if r == rtxguard.Allowed {
				if spent || !budget.Allow(now) {
					spent, r = true, rtxguard.OverBudget
				} else {
					r = d.retransmit(up, seq, at, budget)
				}
			}
			if r != rtxguard.Allowed {
				d.RetransmitsRefused[r].Add(1)
			}
			if lost == 0 {
				break
			}
			seq = pair.PacketID + uint16(bits.TrailingZeros16(lost)) + 1
			lost &= lost - 1
		}
		d.mu.Unlock()
	}
}

// retransmit resends the packet this receiver got as seq: the forwarder says
// which publisher packet that was and how it was rewritten, and the
// publisher's cache still holds it. The budget allowed it; called with mu held.
func (d *DownTrack) retransmit(up *UpTrack, seq uint16, at int64, budget *rtxguard.Budget) rtxguard.Reason {
	layer, in, m, ok := d.fwd.Locate(seq)
	if !ok {
		budget.Cancel()
		return rtxguard.NotCached
	}
	orig, payload, ok := up.Cached(layer, in, d.rtxBuf[:])
	if ok {
		payload, ok = d.redRetransmit(up, payload)
	}
	if !ok {
		budget.Cancel()
		return rtxguard.NotCached
	}
	fp := forward.Packet{Layer: layer, Seq: in, Timestamp: orig.Timestamp}
	vp8 := up.isVP8 && codec.ParseVP8(payload, &d.rtxVP8) == nil
	if vp8 {
		setVP8(&fp, &d.rtxVP8)
	}
	out := m.Apply(&fp)
	if vp8 && (fp.HasPictureID || fp.HasTL0) {
		// payload is our copy: rewrite it in place.
		codec.RewriteVP8(payload, &d.rtxVP8, out.PictureID, out.TL0PICIDX)
	}
	n, err := d.resend(orig.Marker, out, payload)
	if err != nil {
		budget.Cancel()
		return rtxguard.Allowed // not refused: the writer failed
	}
	budget.Retransmitted(n)
	d.guard.Resent(seq, at)
	d.Retransmits.Add(1)
	return rtxguard.Allowed
}

// Tick updates the bitrate; call it from one goroutine every interval.
func (d *DownTrack) Tick(seconds float64) {
	b := d.Bytes.Load()
	d.bitrate.Store(int64(float64(b-d.tickBytes) * 8 / seconds))
	d.tickBytes = b
	f := d.frames.Load()
	d.fps.Store(int64(float64(f-d.tickFrames) * 100 / seconds))
	d.tickFrames = f
}

// frameSent feeds the end of a forwarded video frame to the freeze
// detector; called with mu held. The wall clock, not the packet's arrival:
// a WHEP track's frames come from publishers with different epochs.
func (d *DownTrack) frameSent() {
	now := time.Now().UnixNano()
	d.freeze.Frame(now)
	s := d.freeze.Stats()
	d.frames.Store(s.Frames)
	d.freezes.Store(s.Freezes)
	d.freezeNanos.Store(s.FreezeNanos)
	d.lastFrame.Store(now)
}

// Frames are a video track's figures as the node forwards it: frames per
// second over the last tick, freezes (gaps between frames over three
// average intervals and 150 ms, as WebRTC's freezeCount counts them) and
// their total duration, and how long ago the latest frame went out (0
// before the first).
type Frames struct {
	FPS        float64
	Freezes    uint64
	FreezeTime time.Duration
	SinceFrame time.Duration
}

// Frames reads the figures without taking the data path's lock.
func (d *DownTrack) Frames() Frames {
	f := Frames{FPS: float64(d.fps.Load()) / 100, Freezes: d.freezes.Load(), FreezeTime: time.Duration(d.freezeNanos.Load())}
	if last := d.lastFrame.Load(); last != 0 {
		f.SinceFrame = time.Duration(time.Now().UnixNano() - last)
	}
	return f
}

// FirstWriteError is the first error writing to the receiver, nil if none.
func (d *DownTrack) FirstWriteError() error {
	if e := d.firstErr.Load(); e != nil {
		return *e
	}
	return nil
}

// Bitrate is what the receiver was sent, bits/s.
func (d *DownTrack) Bitrate() int64 { return d.bitrate.Load() }

// SSRC is the SSRC the receiver sees, 0 before negotiation.
func (d *DownTrack) SSRC() uint32 { return d.ssrc.Load() }
