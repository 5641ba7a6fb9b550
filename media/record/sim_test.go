package record

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"

	"github.com/switchyard/switchyard/media"
	"github.com/switchyard/switchyard/media/red"
)

// The clips the synthetic participants send: a VP8 test pattern at three
// simulcast sizes (30 fps, a keyframe every 30 frames) and 20 ms Opus.
const clipDir = "../../client/clips"

type clips struct {
	video [media.MaxLayers][][]byte // frames per layer: q, h, f
	keys  [media.MaxLayers][]int    // keyframe indices
	audio [][]byte
}

var (
	clipsOnce sync.Once
	clipsVal  *clips
	clipsErr  error
)

func loadClips(t testing.TB) *clips {
	t.Helper()
	clipsOnce.Do(func() { clipsVal, clipsErr = readClips() })
	if clipsErr != nil {
		t.Fatal(clipsErr)
	}
	return clipsVal
}

func readClips() (*clips, error) {
	c := &clips{}
	for l, rid := range media.RIDs {
		f, err := os.Open(filepath.Join(clipDir, "video-"+rid+".ivf"))
		if err != nil {
			return nil, err
		}
		r, _, err := ivfreader.NewWith(f)
		if err != nil {
			f.Close()
			return nil, err
		}
		for {
			frame, _, err := r.ParseNextFrame()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				f.Close()
				return nil, err
			}
			if frame[0]&1 == 0 {
				c.keys[l] = append(c.keys[l], len(c.video[l]))
			}
			c.video[l] = append(c.video[l], frame)
		}
		f.Close()
	}
	f, err := os.Open(filepath.Join(clipDir, "audio.ogg"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, _, err := oggreader.NewWith(f)
	if err != nil {
		return nil, err
	}
	for {
		page, _, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if bytes.HasPrefix(page, []byte("OpusTags")) || len(page) == 0 {
			continue
		}
		c.audio = append(c.audio, page)
	}
	return c, nil
}

// scenario describes what a synthetic participant sends.
type scenario struct {
	duration time.Duration
	loss     float64 // probability a packet is lost
	reorder  float64 // probability a packet is held back behind the next 1-3
	seed     uint64
	red      bool // audio as RED with one redundant block
	// layerOff says whether a layer sends nothing at a given time.
	layerOff func(layer int, at time.Duration) bool
	// stopAt, if set, closes the tracks at that time instead of the end.
	stopAt time.Duration
	// realtime paces the packets on the wall clock.
	realtime bool
	// floodUntil: until then, packets are sent without letting the
	// writers catch up.
	floodUntil time.Duration
}

// publisher plays the clips as a browser would, into real UpTracks (through
// Feed, as relayed packets arrive), on a simulated clock. A keyframe request
// makes the layer jump to the clip's next keyframe, as the synthetic client
// does.
type publisher struct {
	t      testing.TB
	c      *clips
	sc     scenario
	rng    *rand.Rand
	base   time.Time
	vUp    *media.UpTrack
	aUp    *media.UpTrack
	layers [media.MaxLayers]*layerState
	audio  *streamState
	redEnc *red.Encoder
	kfReq  [media.MaxLayers]atomic.Bool
	sinks  []*Track // waited on between ticks so that the queue never overflows

	fedVideo, fedAudio time.Duration // time covered by what was sent
}

type streamState struct {
	pz      rtp.Packetizer
	held    []*rtp.Packet // reordered: sent after the next few
	holdFor int
}

type layerState struct {
	streamState
	idx int
}

var (
	vp8Codec = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
		PayloadType:        96,
	}
	opusCodec = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		PayloadType:        111,
	}
	redCodec = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: red.MimeType, ClockRate: 48000, Channels: 2, SDPFmtpLine: "111/111"},
		PayloadType:        63,
	}
)

func newPublisher(t testing.TB, sc scenario) *publisher {
	p := &publisher{t: t, c: loadClips(t), sc: sc, rng: rand.New(rand.NewPCG(sc.seed, 7))}
	p.vUp = media.NewUpTrack(media.UpTrackConfig{Publisher: "alice", Kind: media.KindVideo, Codec: vp8Codec, Remote: true})
	ac := opusCodec
	if sc.red {
		ac = redCodec
		p.redEnc = red.NewEncoder(111, 1)
	}
	p.aUp = media.NewUpTrack(media.UpTrackConfig{Publisher: "alice", Kind: media.KindAudio, Codec: ac, Remote: true})
	for l := range p.layers {
		pz := rtp.NewPacketizerWithOptions(1200, &codecs.VP8Payloader{EnablePictureID: true},
			rtp.NewRandomSequencer(), 90000, rtp.WithSSRC(uint32(1000+l)), rtp.WithPayloadType(96),
			rtp.WithTimestamp(p.rng.Uint32()))
		p.layers[l] = &layerState{streamState: streamState{pz: pz}}
	}
	p.audio = &streamState{pz: rtp.NewPacketizerWithOptions(1200, &codecs.OpusPayloader{},
		rtp.NewRandomSequencer(), 48000, rtp.WithSSRC(2000), rtp.WithPayloadType(uint8(ac.PayloadType)),
		rtp.WithTimestamp(p.rng.Uint32()))}
	p.base = time.Now()
	return p
}

// requestKeyframe is the tracks' RequestKeyframe.
func (p *publisher) requestKeyframe(layer int) {
	if layer >= 0 && layer < media.MaxLayers {
		p.kfReq[layer].Store(true)
	}
}

// run sends the scenario; it returns when it is done or stopAt is reached.
func (p *publisher) run() {
	const frame = time.Second / 30
	const apkt = 20 * time.Millisecond
	end := p.sc.duration
	if p.sc.stopAt > 0 {
		end = p.sc.stopAt
	}
	var vNext, aNext time.Duration
	ai := 0
	for vNext < end || aNext < end {
		if p.sc.realtime {
			time.Sleep(time.Until(p.base.Add(min(vNext, aNext))))
		}
		if vNext <= aNext {
			for l, ls := range p.layers {
				if p.sc.layerOff != nil && p.sc.layerOff(l, vNext) {
					continue
				}
				p.sendVideo(l, ls, vNext)
			}
			vNext += frame
			p.fedVideo = vNext
		} else {
			p.sendAudio(ai, aNext)
			ai++
			aNext += apkt
			p.fedAudio = aNext
		}
		if min(vNext, aNext) >= p.sc.floodUntil {
			p.waitSinks()
		}
	}
}

func (p *publisher) sendVideo(l int, ls *layerState, at time.Duration) {
	frames, keys := p.c.video[l], p.c.keys[l]
	if p.kfReq[l].Swap(false) && !(ls.idx < len(frames) && frames[ls.idx][0]&1 == 0) {
		next := keys[0] // wrap: the clip loops
		for _, k := range keys {
			if k > ls.idx {
				next = k
				break
			}
		}
		ls.idx = next
	}
	if ls.idx >= len(frames) {
		ls.idx = 0
	}
	pkts := ls.pz.Packetize(frames[ls.idx], 3000)
	ls.idx++
	for i, pkt := range pkts {
		arrival := at + time.Duration(i)*50*time.Microsecond
		p.deliver(&ls.streamState, pkt, arrival, func(pk *rtp.Packet, now time.Time) { p.vUp.Feed(l, pk, now) })
	}
}

func (p *publisher) sendAudio(i int, at time.Duration) {
	payload := p.c.audio[i%len(p.c.audio)]
	if p.redEnc != nil {
		// The packetizer gives the timestamp; encode with the one it will use.
		pkts := p.audio.pz.Packetize(payload, 960)
		for _, pkt := range pkts {
			pkt.Payload = p.redEnc.Encode(nil, pkt.Timestamp, pkt.Payload)
			p.deliver(p.audio, pkt, at, func(pk *rtp.Packet, now time.Time) { p.aUp.Feed(0, pk, now) })
		}
		return
	}
	for _, pkt := range p.audio.pz.Packetize(payload, 960) {
		p.deliver(p.audio, pkt, at, func(pk *rtp.Packet, now time.Time) { p.aUp.Feed(0, pk, now) })
	}
}

// deliver applies loss and reordering, then feeds the packet.
func (p *publisher) deliver(s *streamState, pkt *rtp.Packet, at time.Duration, feed func(*rtp.Packet, time.Time)) {
	now := p.base.Add(at)
	if p.sc.loss > 0 && p.rng.Float64() < p.sc.loss {
		return
	}
	if p.sc.reorder > 0 && len(s.held) == 0 && p.rng.Float64() < p.sc.reorder {
		s.held = append(s.held, pkt)
		s.holdFor = 1 + p.rng.IntN(3)
		return
	}
	feed(pkt, now)
	if len(s.held) > 0 {
		s.holdFor--
		if s.holdFor <= 0 {
			for _, h := range s.held {
				feed(h, now)
			}
			s.held = s.held[:0]
		}
	}
}

// waitSinks lets the writer goroutines catch up, as real time would.
func (p *publisher) waitSinks() {
	for _, s := range p.sinks {
		for len(s.queue) > 0 && !s.closing.Load() {
			time.Sleep(20 * time.Microsecond)
		}
	}
}

// ffprobeDuration is the file's duration as ffprobe reads it.
func ffprobeDuration(t testing.TB, path string) float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration",
		"-of", "default=noprint_wrappers=1:nokey=1", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, out)
	}
	d, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		t.Fatalf("ffprobe %s: duration %q: %v", path, out, err)
	}
	return d
}

// ffprobeStream returns the first stream's codec name, width and height.
func ffprobeStream(t testing.TB, path string) (codec string, width, height int) {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height",
		"-of", "default=noprint_wrappers=1", path).CombinedOutput() // streams in order
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch {
		case k == "codec_name" && codec == "":
			codec = v
		case k == "width" && width == 0:
			width, _ = strconv.Atoi(v)
		case k == "height" && height == 0:
			height, _ = strconv.Atoi(v)
		}
	}
	return codec, width, height
}

// decodeErrors decodes the whole file with ffmpeg and returns what it
// complained about; "" for a clean file.
func decodeErrors(t testing.TB, path string) string {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput()
	if err != nil {
		return "ffmpeg: " + err.Error() + "\n" + string(out)
	}
	return strings.TrimSpace(string(out))
}

// decodedFrames counts the frames ffmpeg decodes from the file.
func decodedFrames(t testing.TB, path string) int {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "0",
		"-show_entries", "stream=nb_read_frames", "-of", "default=noprint_wrappers=1:nokey=1", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe -count_frames %s: %v\n%s", path, err, out)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("ffprobe -count_frames %s: %q", path, out)
	}
	return n
}

func needFFmpeg(t testing.TB) {
	t.Helper()
	for _, bin := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is needed (Debian package ffmpeg): %v", bin, err)
		}
	}
}
