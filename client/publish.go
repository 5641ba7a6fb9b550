package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

const (
	videoFPS      = 30
	videoClock    = 90000
	audioInterval = 20 * time.Millisecond
	rtpMTU        = 1200
)

// opusSilence is a 20 ms Opus packet that decodes to silence (a CELT-only
// frame with no energy), sent between talk turns as a muted microphone would.
var opusSilence = []byte{0xf8, 0xff, 0xfe}

// Sent counts what a participant published and the feedback it got.
type Sent struct {
	VideoPackets [len(rids)]uint64 // by rid: q, h, f
	Keyframes    [len(rids)]uint64
	AudioPackets uint64
	VoicePackets uint64 // audio packets with the voice flag set
	PLIs         [len(rids)]uint64
	NACKs        uint64 // sequence numbers the node asked to resend
	RTCPPackets  uint64
	// ScreenPackets counts what was sent while sharing.
	ScreenPackets uint64
	// AudioCodec is the mime type audio is sent as: audio/red when
	// Options.RED is set and the node's answer preferred it.
	AudioCodec string
}

// publisher sends the looped clips on one audio and one simulcast video track.
type publisher struct {
	c     *Client
	clips *clipSet
	talk  TalkPattern

	audio       audioTrack
	audioSender *webrtc.RTPSender
	audioMid    string
	video       [len(rids)]*webrtc.TrackLocalStaticRTP
	videoSender *webrtc.RTPSender
	videoMid    string
	// The screen: one more sendonly video m-line, without simulcast, that
	// carries the f clip while sharing is on.
	screen       *webrtc.TrackLocalStaticRTP
	screenSender *webrtc.RTPSender
	screenMid    string

	micOff, cameraOff, sharing atomic.Bool // gates of the send loops
	screenPackets              atomic.Uint64

	keyframeWanted [len(rids)]atomic.Bool

	videoPackets [len(rids)]atomic.Uint64
	keyframes    [len(rids)]atomic.Uint64
	plis         [len(rids)]atomic.Uint64
	audioPackets atomic.Uint64
	voicePackets atomic.Uint64
	nacks        atomic.Uint64
	rtcpPackets  atomic.Uint64
}

// addTransceivers adds what the client's first offer carries: a sendonly
// audio m-line, a sendonly video m-line with rids q, h, f, or a single
// recvonly audio m-line for a participant that publishes nothing.
func (p *publisher) addTransceivers(pc *webrtc.PeerConnection, o *Options, streamID string) error {
	if !o.PublishAudio && !o.PublishVideo && !o.PublishScreen {
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio,
			webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			return fmt.Errorf("client: add recvonly transceiver: %w", err)
		}
		return nil
	}
	sendonly := webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}
	if o.PublishAudio {
		var track audioTrack
		if o.RED {
			track = newFirstCodecTrack("audio", streamID)
		} else {
			opus, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			}, "audio", streamID)
			if err != nil {
				return fmt.Errorf("client: audio track: %w", err)
			}
			track = opus
		}
		tr, err := pc.AddTransceiverFromTrack(track, sendonly)
		if err != nil {
			return fmt.Errorf("client: add audio transceiver: %w", err)
		}
		p.audio, p.audioSender = track, tr.Sender()
	}
	if o.PublishVideo {
		for i, rid := range rids {
			track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeVP8, ClockRate: videoClock,
			}, "video", streamID, webrtc.WithRTPStreamID(rid))
			if err != nil {
				return fmt.Errorf("client: video track %s: %w", rid, err)
			}
			p.video[i] = track
		}
		tr, err := pc.AddTransceiverFromTrack(p.video[0], sendonly)
		if err != nil {
			return fmt.Errorf("client: add video transceiver: %w", err)
		}
		p.videoSender = tr.Sender()
		for _, track := range p.video[1:] {
			if err := p.videoSender.AddEncoding(track); err != nil {
				return fmt.Errorf("client: add encoding %s: %w", track.RID(), err)
			}
		}
	}
	if o.PublishScreen {
		track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeVP8, ClockRate: videoClock,
		}, "screen", streamID)
		if err != nil {
			return fmt.Errorf("client: screen track: %w", err)
		}
		tr, err := pc.AddTransceiverFromTrack(track, sendonly)
		if err != nil {
			return fmt.Errorf("client: add screen transceiver: %w", err)
		}
		p.screen, p.screenSender = track, tr.Sender()
	}
	return nil
}

// sources names the publishing m-lines for the first offer.
func (p *publisher) sources() map[string]string {
	out := map[string]string{}
	for mid, name := range map[string]string{p.audioMid: "mic", p.videoMid: "camera", p.screenMid: "screen"} {
		if mid != "" {
			out[mid] = name
		}
	}
	return out
}

// noteMids remembers the mids the answer settled, which go in every packet.
func (p *publisher) noteMids(pc *webrtc.PeerConnection) {
	for _, tr := range pc.GetTransceivers() {
		switch s := tr.Sender(); {
		case s == nil:
		case s == p.audioSender && p.audioSender != nil:
			p.audioMid = tr.Mid()
		case s == p.videoSender && p.videoSender != nil:
			p.videoMid = tr.Mid()
		case s == p.screenSender && p.screenSender != nil:
			p.screenMid = tr.Mid()
		}
	}
}

func extID(s *webrtc.RTPSender, uri string) uint8 {
	for _, e := range s.GetParameters().HeaderExtensions {
		if e.URI == uri {
			return uint8(e.ID)
		}
	}
	return 0
}

// start runs the send and RTCP loops until ctx ends.
func (p *publisher) start(ctx context.Context) {
	if p.audio != nil {
		p.c.goRun(func() { p.sendAudio(ctx) })
		p.c.goRun(func() { p.readRTCP(-1, func() ([]rtcp.Packet, error) { return readRTCP(p.audioSender, "") }) })
	}
	if p.screenSender != nil {
		p.c.goRun(func() { p.sendScreen(ctx) })
		p.c.goRun(func() { p.readRTCP(-1, func() ([]rtcp.Packet, error) { return readRTCP(p.screenSender, "") }) })
	}
	if p.videoSender != nil {
		p.c.goRun(func() { p.sendVideo(ctx) })
		for i, rid := range rids {
			p.c.goRun(func() { p.readRTCP(i, func() ([]rtcp.Packet, error) { return readRTCP(p.videoSender, rid) }) })
		}
	}
}

// readRTCP reads one sender encoding's RTCP; errRTCPGarbage is skipped.
func readRTCP(s *webrtc.RTPSender, rid string) ([]rtcp.Packet, error) {
	buf := make([]byte, 1500)
	var n int
	var err error
	if rid == "" {
		n, _, err = s.Read(buf)
	} else {
		n, _, err = s.ReadSimulcast(buf, rid)
	}
	if err != nil {
		return nil, err
	}
	pkts, err := rtcp.Unmarshal(buf[:n])
	if err != nil {
		return nil, errRTCPGarbage
	}
	return pkts, nil
}

var errRTCPGarbage = errors.New("client: undecodable RTCP")

func (p *publisher) readRTCP(layer int, read func() ([]rtcp.Packet, error)) {
	for {
		pkts, err := read()
		if errors.Is(err, errRTCPGarbage) {
			continue
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
				p.c.log.Debug("sender rtcp ended", "layer", layer, "err", err)
			}
			return
		}
		for _, pkt := range pkts {
			p.rtcpPackets.Add(1)
			switch pkt := pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				if layer >= 0 {
					p.plis[layer].Add(1)
					p.keyframeWanted[layer].Store(true)
				}
			case *rtcp.TransportLayerNack:
				for _, pair := range pkt.Nacks {
					p.nacks.Add(uint64(len(pair.PacketList())))
				}
			}
		}
	}
}

func (p *publisher) sendVideo(ctx context.Context) {
	midID := extID(p.videoSender, sdp.SDESMidURI)
	ridID := extID(p.videoSender, sdp.SDESRTPStreamIDURI)
	if midID == 0 || ridID == 0 {
		p.c.log.Warn("node did not accept the mid and rid header extensions; it cannot tell the simulcast layers apart")
	}
	var (
		packetizers [len(rids)]rtp.Packetizer
		next        [len(rids)]int
	)
	for i := range rids {
		packetizers[i] = rtp.NewPacketizer(rtpMTU, ptVP8, 0,
			&codecs.VP8Payloader{EnablePictureID: true}, rtp.NewRandomSequencer(), videoClock)
	}
	ticker := time.NewTicker(time.Second / videoFPS)
	defer ticker.Stop()
	for {
		for i, clip := range p.clips.video {
			if p.cameraOff.Load() {
				break // a camera turned off sends nothing
			}
			if p.keyframeWanted[i].Swap(false) {
				// An encoder answers PLI with a keyframe; the clip's next one
				// is the nearest we have.
				next[i] = clip.nextKeyframe(next[i] - 1)
			}
			frame := clip.frames[next[i]]
			if frame[0]&1 == 0 {
				p.keyframes[i].Add(1)
			}
			next[i] = (next[i] + 1) % len(clip.frames)
			for _, pkt := range packetizers[i].Packetize(frame, videoClock/videoFPS) {
				if midID != 0 {
					_ = pkt.Header.SetExtension(midID, []byte(p.videoMid))
				}
				if ridID != 0 {
					_ = pkt.Header.SetExtension(ridID, []byte(clip.rid))
				}
				if err := p.video[i].WriteRTP(pkt); err != nil {
					p.c.log.Debug("write video", "rid", clip.rid, "err", err)
					continue
				}
				p.videoPackets[i].Add(1)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (p *publisher) sendAudio(ctx context.Context) {
	levelID := extID(p.audioSender, audioLevelURI)
	midID := extID(p.audioSender, sdp.SDESMidURI)
	if levelID == 0 {
		p.c.log.Warn("node did not accept the audio level header extension; dominant speaker detection gets no input")
	}
	packetizer := rtp.NewPacketizer(rtpMTU, ptOpus, 0, &codecs.OpusPayloader{},
		rtp.NewRandomSequencer(), 48000)
	ticker := time.NewTicker(audioInterval)
	defer ticker.Stop()
	start := time.Now()
	wasVoice := false
	for i := 0; ; i = (i + 1) % len(p.clips.audio.packets) {
		level, voice := p.talk(time.Since(start))
		if p.micOff.Load() {
			select { // a microphone turned off sends nothing
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			continue
		}
		payload := opusSilence
		if voice {
			payload = p.clips.audio.packets[i]
		}
		for _, pkt := range packetizer.Packetize(payload, opusFrameSamples) {
			// The marker starts a talk spurt (RFC 3551).
			pkt.Marker = voice && !wasVoice
			if levelID != 0 {
				v := level & 0x7f
				if voice {
					v |= 0x80
				}
				_ = pkt.Header.SetExtension(levelID, []byte{v})
			}
			if midID != 0 {
				_ = pkt.Header.SetExtension(midID, []byte(p.audioMid))
			}
			if err := p.audio.WriteRTP(pkt); err != nil {
				p.c.log.Debug("write audio", "err", err)
				continue
			}
			p.audioPackets.Add(1)
			if voice {
				p.voicePackets.Add(1)
			}
		}
		wasVoice = voice
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// sendScreen sends the f clip on the screen m-line while sharing is on,
// starting each share on a keyframe as an encoder would.
func (p *publisher) sendScreen(ctx context.Context) {
	midID := extID(p.screenSender, sdp.SDESMidURI)
	clip := p.clips.video[len(rids)-1]
	packetizer := rtp.NewPacketizer(rtpMTU, ptVP8, 0,
		&codecs.VP8Payloader{EnablePictureID: true}, rtp.NewRandomSequencer(), videoClock)
	ticker := time.NewTicker(time.Second / videoFPS)
	defer ticker.Stop()
	next, was := 0, false
	for {
		on := p.sharing.Load()
		if on && !was {
			next = clip.nextKeyframe(0)
		}
		was = on
		if on {
			frame := clip.frames[next]
			next = (next + 1) % len(clip.frames)
			for _, pkt := range packetizer.Packetize(frame, videoClock/videoFPS) {
				if midID != 0 {
					_ = pkt.Header.SetExtension(midID, []byte(p.screenMid))
				}
				if err := p.screen.WriteRTP(pkt); err == nil {
					p.screenPackets.Add(1)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (p *publisher) sent() Sent {
	var s Sent
	for i := range rids {
		s.VideoPackets[i] = p.videoPackets[i].Load()
		s.Keyframes[i] = p.keyframes[i].Load()
		s.PLIs[i] = p.plis[i].Load()
	}
	s.AudioPackets = p.audioPackets.Load()
	switch t := p.audio.(type) {
	case *firstCodecTrack:
		s.AudioCodec = t.Codec()
	case *webrtc.TrackLocalStaticRTP:
		s.AudioCodec = t.Codec().MimeType
	}
	s.ScreenPackets = p.screenPackets.Load()
	s.VoicePackets = p.voicePackets.Load()
	s.NACKs = p.nacks.Load()
	s.RTCPPackets = p.rtcpPackets.Load()
	return s
}
