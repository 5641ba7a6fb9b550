package client

import (
	"errors"
	"io"
	"strings"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/media/codec"
	"github.com/switchyard/switchyard/media/freeze"
	"github.com/switchyard/switchyard/media/red"
)

// Stream is what a participant received from one publisher.
type Stream struct {
	Publisher string // participant id (the MediaStream id of its tracks)

	VideoPackets uint64 // unique packets, retransmissions included once
	VideoBytes   uint64
	VideoLost    uint64 // sequence numbers never received
	Keyframes    uint64
	// Width and Height are from the latest VP8 keyframe: they tell which
	// simulcast layer is being forwarded.
	Width, Height int
	// KeyframeHeights counts keyframes by height, to see the layers a
	// subscription went through.
	KeyframeHeights map[int]uint64
	LastKeyframe    time.Time
	LastVideo       time.Time
	// Camera video frames received, freezes among them and their total
	// length, as browsers count freezeCount and totalFreezesDuration (a
	// gap between frames over three average intervals and 150 ms).
	Frames     uint64
	Freezes    uint64
	FreezeTime time.Duration

	AudioPackets uint64
	AudioBytes   uint64
	AudioLost    uint64
	LastAudio    time.Time
	// AudioCodec is the negotiated mime type of the audio track, and
	// AudioPT the payload type of the latest audio packet.
	AudioCodec string
	AudioPT    uint8
	// AudioRED counts audio packets that were valid RED payloads.
	AudioRED uint64
	// AudioREDRecovered counts audio packets lost on the way but rebuilt
	// from a later RED payload's redundancy; AudioPackets includes them
	// and AudioLost does not.
	AudioREDRecovered uint64

	Duplicates  uint64 // packets received twice
	Repaired    uint64 // packets that came as RTX retransmissions
	BadPayloads uint64 // VP8 payloads that did not parse
	// SSRCChanges counts new SSRCs after the first per kind: a node that
	// rewrites SSRCs per receiver keeps this at zero across layer switches.
	SSRCChanges int
	Tracks      int // remote tracks seen from this publisher, ended ones included

	// The publisher's screen share, counted apart from its camera.
	ScreenPackets, ScreenKeyframes uint64
	ScreenWidth, ScreenHeight      int
}

// seqWindow is how far back a late packet still counts as received; older
// ones were already counted lost.
const seqWindow = 1024

// seqTracker counts unique, lost and duplicate packets of one RTP stream.
type seqTracker struct {
	started  bool
	highest  uint64 // extended sequence number
	first    uint64
	seen     [seqWindow / 64]uint64
	received uint64
	dups     uint64
}

// push records sequence number sn and reports whether it is new.
func (s *seqTracker) push(sn uint16) bool {
	if !s.started {
		s.started = true
		s.highest = uint64(sn) + 1<<16 // room below for reordered packets
		s.first = s.highest
		s.mark(s.highest)
		s.received = 1
		return true
	}
	ext := s.extend(sn)
	switch {
	case ext > s.highest:
		for e := s.highest + 1; e < ext && e <= s.highest+seqWindow; e++ {
			s.clear(e)
		}
		if ext-s.highest >= seqWindow {
			s.seen = [seqWindow / 64]uint64{}
		}
		s.highest = ext
	case s.highest-ext >= seqWindow || ext < s.first:
		return false // too old to tell; it was counted lost
	case s.isMarked(ext):
		s.dups++
		return false
	}
	s.mark(ext)
	s.received++
	return true
}

// recover records sn, rebuilt from a later packet's redundancy (RED), as
// received if it was missing; it reports whether it was.
func (s *seqTracker) recover(sn uint16) bool {
	if !s.started {
		return false
	}
	ext := s.extend(sn)
	if ext > s.highest || s.highest-ext >= seqWindow || ext < s.first || s.isMarked(ext) {
		return false
	}
	s.mark(ext)
	s.received++
	return true
}

// extend unwraps sn to the extended sequence number closest to highest.
func (s *seqTracker) extend(sn uint16) uint64 {
	cycle := s.highest &^ 0xffff
	ext := cycle | uint64(sn)
	if ext+0x8000 < s.highest {
		ext += 1 << 16
	} else if ext > s.highest+0x8000 && ext >= 1<<16 {
		ext -= 1 << 16
	}
	return ext
}

func (s *seqTracker) mark(e uint64)          { s.seen[(e/64)%(seqWindow/64)] |= 1 << (e % 64) }
func (s *seqTracker) clear(e uint64)         { s.seen[(e/64)%(seqWindow/64)] &^= 1 << (e % 64) }
func (s *seqTracker) isMarked(e uint64) bool { return s.seen[(e/64)%(seqWindow/64)]&(1<<(e%64)) != 0 }

// lost is the number of sequence numbers up to the highest never received.
func (s *seqTracker) lost() uint64 {
	if !s.started {
		return 0
	}
	expected := s.highest - s.first + 1
	if s.received >= expected {
		return 0
	}
	return expected - s.received
}

// trackState is one remote track's counters; guarded by Client.mu.
type trackState struct {
	publisher string
	kind      webrtc.RTPCodecType
	screen    bool // the publisher's screen share (track id "screen")
	ssrc      uint32
	seq       seqTracker
	bytes     uint64
	keyframes uint64
	repaired  uint64
	bad       uint64
	codec     string // mime type
	pt        uint8  // of the latest packet
	red       uint64 // valid RED payloads
	// redRecovered counts lost packets rebuilt from a later RED payload's
	// redundancy (counted received, not lost).
	redRecovered uint64
}

// publisherState gathers the tracks of one publisher; guarded by Client.mu.
type publisherState struct {
	tracks          []*trackState
	width, height   int
	screenW         int // the latest screen keyframe's size
	screenH         int
	keyframeHeights map[int]uint64
	lastKeyframe    time.Time
	lastVideo       time.Time
	freeze          freeze.Detector // camera frames, by arrival
	lastAudio       time.Time
	ssrcChanges     int
}

func (c *Client) onTrack(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	publisher := track.StreamID()
	ts := &trackState{publisher: publisher, kind: track.Kind(), screen: track.ID() == "screen", ssrc: uint32(track.SSRC()),
		codec: track.Codec().MimeType}
	c.mu.Lock()
	ps := c.publishers[publisher]
	if ps == nil {
		ps = &publisherState{keyframeHeights: map[int]uint64{}}
		c.publishers[publisher] = ps
	}
	for _, old := range ps.tracks {
		if old.kind == ts.kind && old.screen == ts.screen && old.ssrc != ts.ssrc {
			ps.ssrcChanges++
			break
		}
	}
	ps.tracks = append(ps.tracks, ts)
	c.mu.Unlock()
	c.log.Debug("remote track", "publisher", publisher, "kind", track.Kind().String(),
		"ssrc", track.SSRC(), "codec", track.Codec().MimeType)

	// The node may switch a track between payload types it negotiated
	// (Opus and RED, when it adds redundancy): each packet is read as its
	// payload type says.
	codecs := recv.GetParameters().Codecs
	c.goRun(func() { c.readTrack(track, codecs, ts, ps) })
	c.goRun(func() {
		// Reading RTCP lets the interceptors see the node's sender reports.
		for {
			if _, _, err := recv.ReadRTCP(); err != nil {
				return
			}
		}
	})
}

func (c *Client) readTrack(track *webrtc.TrackRemote, codecs []webrtc.RTPCodecParameters, ts *trackState, ps *publisherState) {
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	var vp8 codec.VP8
	nack := c.nack
	isVideo := ts.kind == webrtc.RTPCodecTypeVideo
	var redPayload red.Payload
	mimeOf := map[uint8]string{uint8(track.Codec().PayloadType): track.Codec().MimeType}
	var redPT, redPrimary uint8
	hasRED := false
	for _, cp := range append(codecs, track.Codec()) {
		mimeOf[uint8(cp.PayloadType)] = cp.MimeType
		if strings.EqualFold(cp.MimeType, red.MimeType) {
			if primary, ok := red.PrimaryPT(cp.SDPFmtpLine); ok {
				redPT, redPrimary, hasRED = uint8(cp.PayloadType), primary, true
			}
		}
	}
	for {
		n, attr, err := track.Read(buf)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				c.log.Debug("remote track ended", "publisher", ts.publisher, "err", err)
			}
			return
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			c.mu.Lock()
			ts.bad++
			c.mu.Unlock()
			continue
		}
		now := time.Now()
		repaired := attr != nil && attr.Get(webrtc.AttributeRtxSsrc) != nil
		if repaired {
			// pion's NACK generator does not see the RTX stream.
			nack.repaired(uint32(track.SSRC()), pkt.SequenceNumber)
		}
		var parsed bool
		if isVideo && len(pkt.Payload) > 0 {
			parsed = codec.ParseVP8(pkt.Payload, &vp8) == nil
		}
		validRED := hasRED && pkt.PayloadType == redPT && red.Parse(pkt.Payload, redPT, redPrimary, &redPayload) == nil
		c.mu.Lock()
		if pkt.SSRC != ts.ssrc {
			ts.ssrc = pkt.SSRC
			ps.ssrcChanges++
		}
		if !ts.seq.push(pkt.SequenceNumber) {
			c.mu.Unlock()
			continue
		}
		ts.bytes += uint64(len(pkt.Payload))
		if repaired {
			ts.repaired++
		}
		if isVideo && ts.screen {
			if parsed && vp8.Keyframe {
				ts.keyframes++
				ps.screenW, ps.screenH = vp8.Width, vp8.Height
			}
		} else if isVideo {
			ps.lastVideo = now
			if pkt.Marker {
				ps.freeze.Frame(now.UnixNano())
				c.stage.Frame(ts.publisher, now.UnixNano())
			}
			switch {
			case len(pkt.Payload) == 0: // padding: a bandwidth probe
			case !parsed:
				ts.bad++
			case vp8.Keyframe:
				ts.keyframes++
				ps.width, ps.height = vp8.Width, vp8.Height
				ps.keyframeHeights[vp8.Height]++
				ps.lastKeyframe = now
			}
		} else {
			ps.lastAudio = now
			ts.pt = pkt.PayloadType
			if m, ok := mimeOf[pkt.PayloadType]; ok {
				ts.codec = m
			}
			if validRED {
				ts.red++
				// The blocks are the encodings sent just before, oldest
				// first: a lost one is heard all the same.
				blocks := redPayload.Redundant()
				for i := range blocks {
					if ts.seq.recover(pkt.SequenceNumber - uint16(len(blocks)-i)) {
						ts.redRecovered++
					}
				}
			}
		}
		c.mu.Unlock()
	}
}

// Received returns what arrived so far, by publisher id.
func (c *Client) Received() map[string]Stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]Stream, len(c.publishers))
	for id, ps := range c.publishers {
		s := Stream{
			Publisher:       id,
			Width:           ps.width,
			Height:          ps.height,
			KeyframeHeights: make(map[int]uint64, len(ps.keyframeHeights)),
			LastKeyframe:    ps.lastKeyframe,
			LastVideo:       ps.lastVideo,
			LastAudio:       ps.lastAudio,
			SSRCChanges:     ps.ssrcChanges,
			ScreenWidth:     ps.screenW,
			ScreenHeight:    ps.screenH,
			Tracks:          len(ps.tracks),
		}
		fz := ps.freeze.Stats()
		s.Frames, s.Freezes, s.FreezeTime = fz.Frames, fz.Freezes, time.Duration(fz.FreezeNanos)
		for h, n := range ps.keyframeHeights {
			s.KeyframeHeights[h] = n
		}
		for _, ts := range ps.tracks {
			s.Duplicates += ts.seq.dups
			s.Repaired += ts.repaired
			s.BadPayloads += ts.bad
			if ts.screen {
				s.ScreenPackets += ts.seq.received
				s.ScreenKeyframes += ts.keyframes
				continue
			}
			if ts.kind == webrtc.RTPCodecTypeVideo {
				s.VideoPackets += ts.seq.received
				s.VideoBytes += ts.bytes
				s.VideoLost += ts.seq.lost()
				s.Keyframes += ts.keyframes
			} else {
				s.AudioPackets += ts.seq.received
				s.AudioBytes += ts.bytes
				s.AudioLost += ts.seq.lost()
				s.AudioCodec, s.AudioPT = ts.codec, ts.pt
				s.AudioRED += ts.red
				s.AudioREDRecovered += ts.redRecovered
			}
		}
		out[id] = s
	}
	return out
}
