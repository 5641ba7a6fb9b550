// Package media moves packets: it receives each published track, and forwards
// it to every subscriber through a per-receiver DownTrack that picks the
// simulcast layer and rewrites sequence numbers, timestamps and picture ids.
package media

import (
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/media/cache"
	"github.com/switchyard/switchyard/media/codec"
	"github.com/switchyard/switchyard/media/dedup"
	"github.com/switchyard/switchyard/media/red"
)

// MaxLayers is the number of simulcast layers a track can have (q, h, f).
const MaxLayers = 3

// RIDs names the layers by index.
var RIDs = [MaxLayers]string{"q", "h", "f"}

// LayerIndex maps a RID to a layer index; "" (no simulcast) is layer 0, and
// names it does not know return -1.
func LayerIndex(rid string) int {
	switch strings.ToLower(rid) {
	case "", "q", "l", "lo", "low", "0":
		return 0
	case "h", "m", "mid", "1":
		return 1
	case "f", "hi", "high", "2":
		return 2
	}
	return -1
}

// Packet is what an UpTrack hands to its sinks. It is only valid during the
// WriteRTP call: sinks copy what they keep.
type Packet struct {
	Header   *rtp.Header
	Payload  []byte
	Layer    int
	Keyframe bool
	VP8      *codec.VP8 // nil unless the codec is VP8
	Arrival  int64      // ns since the UpTrack's epoch

	// RED is the parsed payload when the codec is audio RED (RFC 2198)
	// with a known primary payload type; nil otherwise.
	RED *red.Payload

	// from is the UpTrack that handed the packet out (nil when made
	// elsewhere), so that a DownTrack that switched sources drops the
	// previous one's packets still in flight.
	from *UpTrack
}

// Sink receives an UpTrack's packets; a DownTrack is one, a relay link another.
type Sink interface {
	WriteRTP(p *Packet)
}

// Batcher holds the writes of one fan-out so that they leave in one system
// call; see internal/udpbatch. Release must follow every Hold.
type Batcher interface {
	Hold()
	Release()
}

// UpTrackConfig describes a published track.
type UpTrackConfig struct {
	Publisher string // participant id
	Kind      Kind
	// Source is what the track carries (mic, camera, screen); zero means
	// the default source of its kind.
	Source Source
	Codec  webrtc.RTPCodecParameters
	// SendPLI asks the publisher for a keyframe on one layer, whose SSRC is
	// given when known.
	SendPLI func(layer int, ssrc uint32) error
	// AudioLevelExt is the negotiated id of the RFC 6464 extension, 0 if none.
	AudioLevelExt uint8
	// OnAudioLevel receives every audio level (0 loud .. 127 silent).
	OnAudioLevel func(level uint8, voice bool, at time.Time)
	// PLIInterval throttles keyframe requests per layer (default 300 ms).
	PLIInterval time.Duration
	// Observe, if set, is told how long each packet took from read to the
	// last sink (forwarding delay, for metrics).
	Observe func(d time.Duration)
	// Batch, if set, is held while one packet is written to every sink,
	// so the socket sends the copies together.
	Batch Batcher
	// Remote marks a track relayed from another node: packets come through
	// Feed, and Layers reports what the publisher's node advertises, since
	// this node receives only the layers someone here needs.
	Remote bool
	// LayerOf maps a simulcast RID to a layer index, -1 for a layer not
	// forwarded; nil means LayerIndex (q, h, f and their aliases).
	LayerOf func(rid string) int
}

// UpTrack is one published track with all its simulcast layers.
type UpTrack struct {
	cfg    UpTrackConfig
	isVP8  bool
	isH264 bool
	// isRED: the codec is audio RED whose fmtp names the primary payload
	// type, so payloads are parsed (and refused) here once for all sinks.
	isRED      bool
	redPT      uint8 // the publisher's RED payload type
	redPrimary uint8 // the publisher's payload type of the blocks (Opus)
	epoch      time.Time

	sinks atomic.Pointer[[]Sink]
	sinkM sync.Mutex // serialises changes to sinks

	layers [MaxLayers]upLayer

	Duplicates atomic.Uint64 // RTX copies and repeats dropped
	Malformed  atomic.Uint64 // packets whose payload could not be parsed
	// BadRED counts RED payloads red.Parse refused (dropped for every
	// sink); they are not counted in Malformed.
	BadRED atomic.Uint64
}

type upLayer struct {
	present    atomic.Bool
	ssrc       atomic.Uint32
	packets    atomic.Uint64
	bytes      atomic.Uint64
	received   atomic.Uint64 // unique packets
	expected   atomic.Uint64
	last       atomic.Int64 // arrival of the newest packet, ns since epoch
	width      atomic.Int32
	height     atomic.Int32
	lastPLI    atomic.Int64
	keyframes  atomic.Uint64
	frames     atomic.Uint64 // video frames (packets with the marker bit)
	bitrate    atomic.Int64  // bits/s, updated by Tick
	fps        atomic.Int64  // frames/s ×100, updated by Tick
	tickBytes  uint64        // Tick's own; called from one goroutine
	tickFrames uint64
	scratch    Packet      // used only by this layer's reading goroutine
	red        red.Payload // likewise: the parsed RED payload of scratch

	// cache keeps the layer's recent packets, once for all receivers: a
	// receiver's NACK is answered from here, rewritten as that receiver's
	// forwarder first sent it. Made with the first packet.
	cache     atomic.Pointer[cache.Cache]
	cacheHead [cachedHeadLen]byte // scratch for the cached header fields

	// Remote tracks: what the publisher's node advertises, and the state of
	// Feed (called from the relay's one receiving goroutine).
	advActive  atomic.Bool
	advBitrate atomic.Int64
	feedWin    dedup.Window
	feedVP8    codec.VP8
}

// NewUpTrack makes an UpTrack; add each received layer with Run.
func NewUpTrack(cfg UpTrackConfig) *UpTrack {
	if cfg.PLIInterval <= 0 {
		cfg.PLIInterval = 300 * time.Millisecond
	}
	mime := strings.ToLower(cfg.Codec.MimeType)
	u := &UpTrack{
		cfg:    cfg,
		isVP8:  mime == strings.ToLower(webrtc.MimeTypeVP8),
		isH264: mime == strings.ToLower(webrtc.MimeTypeH264),
		epoch:  time.Now(),
	}
	if mime == strings.ToLower(red.MimeType) {
		u.redPrimary, u.isRED = red.PrimaryPT(cfg.Codec.SDPFmtpLine)
		u.redPT = uint8(cfg.Codec.PayloadType)
	}
	empty := []Sink{}
	u.sinks.Store(&empty)
	return u
}

// Publisher is the id of the participant that publishes the track.
func (u *UpTrack) Publisher() string { return u.cfg.Publisher }

// Kind is audio or video.
func (u *UpTrack) Kind() Kind { return u.cfg.Kind }

// Source is what the track carries: mic, camera or screen.
func (u *UpTrack) Source() Source {
	if u.cfg.Source.Valid() {
		return u.cfg.Source
	}
	return SourceOf(u.cfg.Kind)
}

// Remote reports whether the track is relayed from another node.
func (u *UpTrack) Remote() bool { return u.cfg.Remote }

// AudioLevelExt is the header extension id carrying the audio level, 0 if none.
func (u *UpTrack) AudioLevelExt() uint8 { return u.cfg.AudioLevelExt }

// Codec is the codec the publisher sends.
func (u *UpTrack) Codec() webrtc.RTPCodecParameters { return u.cfg.Codec }

// AddSink starts forwarding to s.
func (u *UpTrack) AddSink(s Sink) {
	u.sinkM.Lock()
	defer u.sinkM.Unlock()
	old := *u.sinks.Load()
	next := make([]Sink, 0, len(old)+1)
	next = append(next, old...)
	next = append(next, s)
	u.sinks.Store(&next)
}

// RemoveSink stops forwarding to s.
func (u *UpTrack) RemoveSink(s Sink) {
	u.sinkM.Lock()
	defer u.sinkM.Unlock()
	old := *u.sinks.Load()
	next := make([]Sink, 0, len(old))
	for _, x := range old {
		if x != s {
			next = append(next, x)
		}
	}
	u.sinks.Store(&next)
}

// Run reads one layer until the track ends. Call it in its own goroutine for
// each TrackRemote (each simulcast RID) of the track.
func (u *UpTrack) Run(track *webrtc.TrackRemote) error {
	layer := LayerIndex(track.RID())
	if u.cfg.LayerOf != nil {
		layer = u.cfg.LayerOf(track.RID())
	}
	if layer < 0 || layer >= MaxLayers {
		return errors.New("media: simulcast rid " + track.RID() + " is not forwarded")
	}
	u.layers[layer].present.Store(true)
	u.layers[layer].ssrc.Store(uint32(track.SSRC()))
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	var vp8 codec.VP8
	var win dedup.Window
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			u.Malformed.Add(1)
			continue
		}
		u.handle(layer, &pkt, &vp8, &win, time.Now())
	}
}

// handle processes one received packet of a layer. Called from that layer's
// goroutine only.
func (u *UpTrack) handle(layer int, pkt *rtp.Packet, vp8 *codec.VP8, win *dedup.Window, now time.Time) {
	l := &u.layers[layer]
	if !win.Add(pkt.SequenceNumber) {
		u.Duplicates.Add(1)
		return
	}
	recv, exp := win.Counts()
	l.received.Store(recv)
	l.expected.Store(exp)
	arrival := now.Sub(u.epoch).Nanoseconds()
	l.packets.Add(1)
	l.bytes.Add(uint64(len(pkt.Payload) + 12))
	l.last.Store(arrival)
	if len(pkt.Payload) == 0 {
		return // padding-only probe: nothing to forward
	}
	var redPayload *red.Payload
	if u.isRED {
		if err := red.Parse(pkt.Payload, u.redPT, u.redPrimary, &l.red); err != nil {
			u.BadRED.Add(1)
			return
		}
		redPayload = &l.red
	}
	u.remember(l, pkt)
	// The layer's own scratch Packet: sinks are interfaces, so a local would
	// escape to the heap on every packet.
	p := &l.scratch
	*p = Packet{Header: &pkt.Header, Payload: pkt.Payload, Layer: layer, Arrival: arrival, RED: redPayload, from: u}
	switch {
	case u.cfg.Kind == KindAudio:
		p.Keyframe = true
		if u.cfg.AudioLevelExt != 0 && u.cfg.OnAudioLevel != nil {
			if ext := pkt.GetExtension(u.cfg.AudioLevelExt); len(ext) > 0 {
				u.cfg.OnAudioLevel(ext[0]&0x7f, ext[0]&0x80 != 0, now)
			}
		}
	case u.isVP8:
		if err := codec.ParseVP8(pkt.Payload, vp8); err != nil {
			u.Malformed.Add(1)
			return
		}
		p.VP8 = vp8
		p.Keyframe = vp8.Keyframe
		if vp8.Keyframe {
			l.keyframes.Add(1)
			if vp8.Width > 0 {
				l.width.Store(int32(vp8.Width))
				l.height.Store(int32(vp8.Height))
			}
		}
	case u.isH264:
		p.Keyframe = codec.H264Keyframe(pkt.Payload)
		if p.Keyframe {
			l.keyframes.Add(1)
		}
	}
	if pkt.Marker && u.cfg.Kind == KindVideo {
		l.frames.Add(1)
	}
	sinks := *u.sinks.Load()
	// One copy gains nothing from batching and pays for the queue.
	batch := u.cfg.Batch != nil && len(sinks) > 1
	if batch {
		u.cfg.Batch.Hold()
	}
	for _, s := range sinks {
		s.WriteRTP(p)
	}
	if batch {
		u.cfg.Batch.Release()
	}
	if u.cfg.Observe != nil {
		u.cfg.Observe(time.Since(now))
	}
}

// Packet cache sizes: about 3 s of a 720p layer; audio is seldom NACKed.
const (
	videoCacheSize = 512
	audioCacheSize = 128
)

// cachedHeadLen is what a cached packet keeps of its header: the marker bit
// and the timestamp. The rest is rewritten per receiver or implied by the slot.
const cachedHeadLen = 5

// remember keeps pkt in its layer's cache. Layer goroutine only.
func (u *UpTrack) remember(l *upLayer, pkt *rtp.Packet) {
	c := l.cache.Load()
	if c == nil {
		size := videoCacheSize
		if u.cfg.Kind == KindAudio {
			size = audioCacheSize
		}
		c = cache.New(size)
		l.cache.Store(c)
	}
	h := &l.cacheHead
	h[0] = 0
	if pkt.Marker {
		h[0] = 1
	}
	binary.BigEndian.PutUint32(h[1:], pkt.Timestamp)
	c.StoreParts(pkt.SequenceNumber, h[:], pkt.Payload)
}

// Cached copies a recent packet of a layer into dst (at least
// cache.SlotSize bytes) and returns it as the publisher sent it: its header
// (without extensions) and its payload, a slice of dst. Receivers' and the
// next node's NACKs are both answered from here. Any goroutine.
func (u *UpTrack) Cached(layer int, seq uint16, dst []byte) (hdr rtp.Header, payload []byte, ok bool) {
	if layer < 0 || layer >= MaxLayers {
		return hdr, nil, false
	}
	l := &u.layers[layer]
	c := l.cache.Load()
	if c == nil {
		return hdr, nil, false
	}
	n, ok := c.Load(seq, dst)
	if !ok || n < cachedHeadLen {
		return hdr, nil, false
	}
	hdr = rtp.Header{
		Version:        2,
		Marker:         dst[0]&1 != 0,
		PayloadType:    uint8(u.cfg.Codec.PayloadType),
		SequenceNumber: seq,
		Timestamp:      binary.BigEndian.Uint32(dst[1:]),
		SSRC:           l.ssrc.Load(),
	}
	return hdr, dst[cachedHeadLen:n], true
}

// RequestKeyframe asks the publisher for a keyframe on a layer, at most once
// per PLIInterval.
func (u *UpTrack) RequestKeyframe(layer int) {
	if layer < 0 || layer >= MaxLayers || u.cfg.SendPLI == nil {
		return
	}
	l := &u.layers[layer]
	if !l.present.Load() {
		return
	}
	now := time.Since(u.epoch).Nanoseconds()
	last := l.lastPLI.Load()
	if last != 0 && now-last < u.cfg.PLIInterval.Nanoseconds() {
		return
	}
	if !l.lastPLI.CompareAndSwap(last, now) {
		return
	}
	_ = u.cfg.SendPLI(layer, l.ssrc.Load())
}

// Feed hands the track one packet relayed from another node. Call it from
// one goroutine; it does not allocate.
func (u *UpTrack) Feed(layer int, pkt *rtp.Packet, now time.Time) {
	if layer < 0 || layer >= MaxLayers {
		u.Malformed.Add(1)
		return
	}
	l := &u.layers[layer]
	l.ssrc.Store(pkt.SSRC)
	u.handle(layer, pkt, &l.feedVP8, &l.feedWin, now)
}

// Advertise records a remote track's layers as its publisher's node sees
// them; layers not listed are gone.
func (u *UpTrack) Advertise(layers []LayerInfo) {
	var seen [MaxLayers]bool
	for _, li := range layers {
		if li.Index < 0 || li.Index >= MaxLayers {
			continue
		}
		seen[li.Index] = true
		l := &u.layers[li.Index]
		l.present.Store(true)
		l.advActive.Store(li.Active)
		l.advBitrate.Store(li.Bitrate)
		if li.Width > 0 {
			l.width.Store(int32(li.Width))
			l.height.Store(int32(li.Height))
		}
	}
	for i := range seen {
		if !seen[i] {
			u.layers[i].present.Store(false)
		}
	}
}

// LayerInfo is the state of one published layer.
type LayerInfo struct {
	Index         int
	RID           string
	Present       bool
	SSRC          uint32
	Active        bool // a packet arrived in the last second
	Bitrate       int64
	Width, Height int
	Received      uint64
	Expected      uint64
	Keyframes     uint64
	FPS           float64 // video frames per second the publisher sends in this layer
}

// Layers reports every present layer.
func (u *UpTrack) Layers() []LayerInfo {
	now := time.Since(u.epoch).Nanoseconds()
	var out []LayerInfo
	for i := range u.layers {
		l := &u.layers[i]
		if !l.present.Load() {
			continue
		}
		last := l.last.Load()
		active, bitrate := last != 0 && now-last < int64(time.Second), l.bitrate.Load()
		if u.cfg.Remote {
			active, bitrate = l.advActive.Load(), l.advBitrate.Load()
		}
		out = append(out, LayerInfo{
			Index:     i,
			RID:       RIDs[i],
			Present:   true,
			SSRC:      l.ssrc.Load(),
			Active:    active,
			Bitrate:   bitrate,
			Width:     int(l.width.Load()),
			Height:    int(l.height.Load()),
			Received:  l.received.Load(),
			Expected:  l.expected.Load(),
			Keyframes: l.keyframes.Load(),
			FPS:       float64(l.fps.Load()) / 100,
		})
	}
	return out
}

// Tick updates bitrates; call it from one goroutine every interval.
func (u *UpTrack) Tick(seconds float64) {
	for i := range u.layers {
		l := &u.layers[i]
		b := l.bytes.Load()
		l.bitrate.Store(int64(float64(b-l.tickBytes) * 8 / seconds))
		l.tickBytes = b
		f := l.frames.Load()
		l.fps.Store(int64(float64(f-l.tickFrames) * 100 / seconds))
		l.tickFrames = f
	}
}

// Bitrate is the sum over layers, bits/s.
func (u *UpTrack) Bitrate() int64 {
	var sum int64
	for i := range u.layers {
		sum += u.layers[i].bitrate.Load()
	}
	return sum
}
