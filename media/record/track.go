package record

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/media"
	"github.com/switchyard/switchyard/media/codec"
	"github.com/switchyard/switchyard/media/forward"
	"github.com/switchyard/switchyard/media/red"
)

// ErrUnsupportedCodec is returned for a track that is neither VP8 video nor
// Opus (or RED-wrapped Opus) audio.
var ErrUnsupportedCodec = errors.New("record: unsupported codec")

// TrackConfig describes the track to record. Only Codec is required.
type TrackConfig struct {
	// Codec is the publisher's codec: VP8, Opus, or RED whose fmtp names
	// Opus's payload type (the primary block is recorded).
	Codec webrtc.RTPCodecParameters
	// RequestKeyframe asks the publisher for a keyframe on a simulcast
	// layer (UpTrack.RequestKeyframe). It is called at most once per
	// KeyframeInterval, from WriteRTP or from the writer goroutine, and
	// must not block.
	RequestKeyframe func(layer int)
	// OnError is told, once, the error that stopped the recording (disk
	// full, directory gone). It is called from the track's writer
	// goroutine, which Close waits for: to close the track or the
	// recording from here, do it on another goroutine.
	OnError func(error)
	// Logger gets a line when the recording stops on an error; default slog.Default().
	Logger *slog.Logger
	// Clock gives the wall time of the first packet; default time.Now.
	Clock func() time.Time

	// Tuning; zero means the default.
	QueueSize        int           // packets between WriteRTP and the writer (video 512, audio 128)
	JitterDelay      time.Duration // wait for a missing packet (80 ms)
	LayerTimeout     time.Duration // a layer without packets this long is gone (1 s)
	KeyframeInterval time.Duration // between keyframe requests (300 ms)

	// Set by Recording: told when the first frame is written and when the
	// track ends.
	onStart func(Start)
	onEnd   func(Stats, error)
	// open creates the file; tests replace it.
	open func(path string) (file, error)
}

// Start is the file's time zero: its first frame's RTP timestamp and the
// wall time it arrived, to line the files of a recording up.
type Start struct {
	Wall         time.Time
	RTPTimestamp uint32
	ClockRate    uint32
}

// Defaults of TrackConfig.
const (
	defaultVideoQueue       = 512
	defaultAudioQueue       = 128
	defaultJitterDelay      = 80 * time.Millisecond
	defaultLayerTimeout     = time.Second
	defaultKeyframeInterval = 300 * time.Millisecond

	videoJitterSlots = 256
	audioJitterSlots = 64
	// settle is how long after the first packet a video track waits for a
	// keyframe of the top layer a publisher can send, before taking the
	// best layer seen: the layers start together, and a file should not
	// start small and switch up a frame later.
	settle = 250 * time.Millisecond
	// maxFrame bounds a reassembled frame (a 4K keyframe is well under).
	maxFrame = 4 << 20
	// maxLeap is how far RTP time may run ahead of arrival time before the
	// timeline trusts arrival time instead.
	maxLeap = 10 * time.Second
)

// Track records one published track to one WebM file. It is a media.Sink:
// add it to the UpTrack; WriteRTP never blocks on the disk.
type Track struct {
	cfg        TrackConfig
	path       string
	log        *slog.Logger
	video      bool
	clockRate  uint32
	channels   int
	redPrimary uint8 // Opus's payload type inside RED; 0 if not RED
	isRED      bool

	closing  atomic.Bool // WriteRTP takes nothing more
	stopped  atomic.Bool // an error stopped the recording
	done     chan struct{}
	doneOnce sync.Once
	finished chan struct{}
	queue    chan *slot
	lastKF   atomic.Int64 // arrival of the last keyframe request; MinInt64 = none

	// WriteRTP's state, guarded by mu (every simulcast layer calls it on
	// its own goroutine).
	mu          sync.Mutex
	pool        *pool
	fwd         *forward.Forwarder
	seen        [media.MaxLayers]int64
	seenOK      [media.MaxLayers]bool
	based       bool
	baseArrival int64
	baseWall    time.Time
	vp8         codec.VP8   // scratch: descriptor of a packet that came without one
	red         red.Payload // scratch: RED payload that came unparsed

	// The writer goroutine's state.
	jb      *jitter[*slot]
	emit    func(*slot, bool)
	asm     *assembler
	tl      *timeline
	sf      *stickyFile
	mux     *muxer
	held    heldFrame // video: the frame held back one frame
	audioTS uint32    // timestamp of the last Opus frame written
	audioOn bool
	lastMS  atomic.Int64
	lost    atomic.Uint64 // the jitter buffer's count, for Stats
	startMu sync.Mutex
	start   *Start

	errMu sync.Mutex
	err   error

	stats counters
}

type counters struct {
	packets, queueDrops, malformed, late, frames, framesDropped atomic.Uint64
	recovered, keyframeRequests, switches                       atomic.Uint64
}

// Stats are a track's counters.
type Stats struct {
	Packets          uint64 // taken into the queue
	QueueDrops       uint64 // dropped because the writer fell behind
	Malformed        uint64 // payloads refused: empty, truncated, too long, not VP8/Opus
	Late             uint64 // too late for the jitter buffer, or repeated
	Lost             uint64 // sequence numbers never received
	Frames           uint64 // frames written
	FramesDropped    uint64 // frames not written: damaged, or waiting for a keyframe
	Recovered        uint64 // Opus frames rebuilt from RED redundancy
	KeyframeRequests uint64
	Switches         uint64 // simulcast layer changes, the start included
	Bytes            int64  // written to the file
	Duration         time.Duration
}

// NewTrack creates the file at path and starts the track's writer goroutine.
func NewTrack(path string, cfg TrackConfig) (*Track, error) {
	t, err := newTrack(path, cfg)
	if err != nil {
		return nil, err
	}
	go t.run()
	return t, nil
}

// newTrack makes a track without starting its writer goroutine.
func newTrack(path string, cfg TrackConfig) (*Track, error) {
	t := &Track{cfg: cfg, path: path, log: cfg.Logger}
	if t.log == nil {
		t.log = slog.Default()
	}
	if t.cfg.Clock == nil {
		t.cfg.Clock = time.Now
	}
	if err := t.setCodec(cfg.Codec); err != nil {
		return nil, err
	}
	queue, jslots := defaultAudioQueue, audioJitterSlots
	if t.video {
		queue, jslots = defaultVideoQueue, videoJitterSlots
	}
	if cfg.QueueSize > 0 {
		queue = cfg.QueueSize
	}
	delay := cmp0(cfg.JitterDelay, defaultJitterDelay)
	t.cfg.LayerTimeout = cmp0(cfg.LayerTimeout, defaultLayerTimeout)
	t.cfg.KeyframeInterval = cmp0(cfg.KeyframeInterval, defaultKeyframeInterval)
	open := cfg.open
	if open == nil {
		open = createFile
	}
	f, err := open(path)
	if err != nil {
		return nil, fmt.Errorf("record: create %s: %w", path, err)
	}
	t.sf = &stickyFile{f: f}
	t.jb = newJitter[*slot](jslots, int64(delay))
	t.pool = newPool(queue + len(t.jb.ring))
	t.queue = make(chan *slot, queue+len(t.jb.ring))
	t.done = make(chan struct{})
	t.finished = make(chan struct{})
	t.lastKF.Store(math.MinInt64)
	t.tl = newTimeline(t.clockRate, int64(maxLeap))
	if t.video {
		t.fwd = forward.New(t.clockRate)
		t.fwd.SetTarget(media.MaxLayers - 1)
		t.asm = newAssembler(maxFrame)
		t.emit = t.emitVideo
	} else {
		t.emit = t.emitAudio
	}
	return t, nil
}

func cmp0(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (t *Track) setCodec(c webrtc.RTPCodecParameters) error {
	mime := strings.ToLower(c.MimeType)
	t.clockRate = c.ClockRate
	switch mime {
	case strings.ToLower(webrtc.MimeTypeVP8):
		t.video = true
		if t.clockRate == 0 {
			t.clockRate = 90000
		}
		return nil
	case strings.ToLower(webrtc.MimeTypeOpus):
	case red.MimeType:
		pt, ok := red.PrimaryPT(c.SDPFmtpLine)
		if !ok {
			return fmt.Errorf("%w: RED without a primary payload type in %q", ErrUnsupportedCodec, c.SDPFmtpLine)
		}
		t.isRED, t.redPrimary = true, pt
	default:
		return fmt.Errorf("%w: %q (VP8 video and Opus audio are recorded)", ErrUnsupportedCodec, c.MimeType)
	}
	if t.clockRate == 0 {
		t.clockRate = 48000
	}
	if t.clockRate != 48000 {
		return fmt.Errorf("%w: Opus at %d Hz", ErrUnsupportedCodec, t.clockRate)
	}
	t.channels = int(c.Channels)
	if t.channels < 1 || t.channels > 2 {
		t.channels = 2
	}
	return nil
}

// Path is the file the track writes.
func (t *Track) Path() string { return t.path }

// Video reports whether the track is video.
func (t *Track) Video() bool { return t.video }

// WriteRTP takes one packet of the published track (media.Sink). It copies
// what it keeps and never blocks: when the writer falls behind the packet is
// dropped and counted. It does not allocate once the pool's buffers exist.
func (t *Track) WriteRTP(p *media.Packet) {
	if t.closing.Load() || p == nil || p.Header == nil {
		return
	}
	t.mu.Lock()
	if !t.based {
		t.based, t.baseArrival, t.baseWall = true, p.Arrival, t.cfg.Clock()
	}
	var s *slot
	kfLayer := -1
	if t.video {
		s, kfLayer = t.acceptVideo(p)
	} else {
		s = t.acceptAudio(p)
	}
	t.mu.Unlock()
	if s != nil {
		t.stats.packets.Add(1)
		t.queue <- s // never blocks: it holds the whole pool
	}
	if kfLayer >= 0 {
		t.requestKeyframe(kfLayer, p.Arrival)
	}
}

// acceptVideo runs the forwarder and copies a forwarded packet into a slot.
// It returns the layer to ask a keyframe of, or -1. Called with mu held.
func (t *Track) acceptVideo(p *media.Packet) (*slot, int) {
	if p.Layer < 0 || p.Layer >= media.MaxLayers || len(p.Payload) > maxPayload {
		t.stats.malformed.Add(1)
		return nil, -1
	}
	d := p.VP8
	if d == nil {
		if err := codec.ParseVP8(p.Payload, &t.vp8); err != nil {
			t.stats.malformed.Add(1)
			return nil, -1
		}
		d = &t.vp8
	}
	t.seen[p.Layer], t.seenOK[p.Layer] = p.Arrival, true
	if target := t.pickLayer(p.Arrival); target != t.fwd.Target() {
		t.fwd.SetTarget(target)
	}
	fp := forward.Packet{
		Layer:         p.Layer,
		Seq:           p.Header.SequenceNumber,
		Timestamp:     p.Header.Timestamp,
		Keyframe:      d.Keyframe,
		Arrival:       p.Arrival,
		HasPictureID:  d.HasPictureID,
		PictureID:     d.PictureID,
		PictureIDBits: d.PictureIDBits,
		HasTL0:        d.HasTL0,
		TL0PICIDX:     d.TL0PICIDX,
	}
	switches := t.fwd.Stats().Switches
	out, decision := t.fwd.Process(&fp)
	t.stats.switches.Add(t.fwd.Stats().Switches - switches)
	kf := -1
	if t.fwd.WantsKeyframe() {
		kf = t.fwd.Target()
	}
	if decision != forward.DecisionForward {
		return nil, kf
	}
	s := t.pool.get()
	if s == nil {
		// The writer is behind. The sequence number is spent, so the
		// writer sees the gap, drops to the next keyframe and asks for it.
		t.stats.queueDrops.Add(1)
		return nil, p.Layer
	}
	s.seq, s.ts, s.marker, s.layer, s.arrival = out.Seq, out.Timestamp, p.Header.Marker, p.Layer, p.Arrival
	s.buf = append(s.buf, p.Payload...)
	return s, kf
}

// pickLayer is the layer to record: the top layer while the track settles,
// then the highest layer whose packets still come.
func (t *Track) pickLayer(now int64) int {
	if t.fwd.Current() < 0 && now-t.baseArrival < int64(settle) {
		return media.MaxLayers - 1
	}
	for l := media.MaxLayers - 1; l > 0; l-- {
		if t.seenOK[l] && now-t.seen[l] < int64(t.cfg.LayerTimeout) {
			return l
		}
	}
	return 0
}

// acceptAudio copies an Opus packet, or RED's blocks, into a slot. Called
// with mu held.
func (t *Track) acceptAudio(p *media.Packet) *slot {
	rp := p.RED
	if rp == nil && t.isRED && p.Header.PayloadType != t.redPrimary {
		if err := red.Parse(p.Payload, p.Header.PayloadType, t.redPrimary, &t.red); err != nil {
			t.stats.malformed.Add(1)
			return nil
		}
		rp = &t.red
	}
	primary := p.Payload
	var blocks []red.Block
	if rp != nil {
		primary, blocks = rp.Primary, rp.Redundant()
	}
	size := len(primary)
	for _, b := range blocks {
		size += len(b.Payload)
	}
	if len(primary) == 0 || size > maxPayload {
		t.stats.malformed.Add(1)
		return nil
	}
	s := t.pool.get()
	if s == nil {
		t.stats.queueDrops.Add(1)
		return nil
	}
	s.seq, s.ts, s.marker, s.layer, s.arrival = p.Header.SequenceNumber, p.Header.Timestamp, p.Header.Marker, 0, p.Arrival
	s.buf = append(s.buf, primary...)
	for _, b := range blocks {
		if len(b.Payload) == 0 || b.TSOffset == 0 || s.nRed == len(s.redLen) {
			continue
		}
		s.buf = append(s.buf, b.Payload...)
		s.redLen[s.nRed], s.redOff[s.nRed] = len(b.Payload), uint32(b.TSOffset)
		s.nRed++
	}
	return s
}

// requestKeyframe asks for a keyframe of layer, at most once per
// KeyframeInterval of the packets' arrival clock.
func (t *Track) requestKeyframe(layer int, now int64) {
	if t.cfg.RequestKeyframe == nil {
		return
	}
	last := t.lastKF.Load()
	if last != math.MinInt64 && now-last < int64(t.cfg.KeyframeInterval) {
		return
	}
	if !t.lastKF.CompareAndSwap(last, now) {
		return
	}
	t.stats.keyframeRequests.Add(1)
	t.cfg.RequestKeyframe(layer)
}

// Close stops taking packets, writes what the queue holds, finalises the
// file and waits for that. It returns the error that stopped the recording,
// if one did. Safe to call more than once and from any goroutine.
func (t *Track) Close() error {
	t.closing.Store(true)
	t.doneOnce.Do(func() { close(t.done) })
	<-t.finished
	return t.Err()
}

// Err is the error that stopped the recording, or nil while it runs well.
func (t *Track) Err() error {
	t.errMu.Lock()
	defer t.errMu.Unlock()
	return t.err
}

// Started returns the file's time zero once its first frame is written.
func (t *Track) Started() (Start, bool) {
	t.startMu.Lock()
	defer t.startMu.Unlock()
	if t.start == nil {
		return Start{}, false
	}
	return *t.start, true
}

// Stats returns the counters; safe from any goroutine.
func (t *Track) Stats() Stats {
	return Stats{
		Packets:          t.stats.packets.Load(),
		QueueDrops:       t.stats.queueDrops.Load(),
		Malformed:        t.stats.malformed.Load(),
		Late:             t.stats.late.Load(),
		Lost:             t.lost.Load(),
		Frames:           t.stats.frames.Load(),
		FramesDropped:    t.stats.framesDropped.Load(),
		Recovered:        t.stats.recovered.Load(),
		KeyframeRequests: t.stats.keyframeRequests.Load(),
		Switches:         t.stats.switches.Load(),
		Bytes:            t.sf.written.Load(),
		Duration:         time.Duration(t.lastMS.Load()) * time.Millisecond,
	}
}
