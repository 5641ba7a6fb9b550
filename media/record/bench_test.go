package record

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/switchyard/switchyard/media"
	"github.com/switchyard/switchyard/media/codec"
	"github.com/switchyard/switchyard/media/red"
)

// feed is a participant's packets as an UpTrack hands them to its sinks:
// the three simulcast layers of the video clip interleaved frame by frame,
// and the audio, each with its VP8 descriptor or RED payload parsed. Their
// sequence numbers and timestamps are rewritten as the clip loops.
type feed struct {
	video [][]vpkt // per frame time: the packets of every layer
	audio []apkt
}

type vpkt struct {
	layer   int
	hdr     rtp.Header
	payload []byte
	vp8     codec.VP8
}

type apkt struct {
	hdr     rtp.Header
	payload []byte
	red     red.Payload
}

func newFeed(t testing.TB, withRED bool) *feed {
	c := loadClips(t)
	f := &feed{}
	var pz [media.MaxLayers]rtp.Packetizer
	for l := range pz {
		pz[l] = rtp.NewPacketizerWithOptions(1200, &codecs.VP8Payloader{EnablePictureID: true},
			rtp.NewFixedSequencer(0), 90000, rtp.WithSSRC(uint32(l+1)), rtp.WithTimestamp(0))
	}
	for i := range c.video[2] {
		var frame []vpkt
		for l := range pz {
			for _, p := range pz[l].Packetize(c.video[l][i], 3000) {
				v := vpkt{layer: l, hdr: p.Header, payload: p.Payload}
				if err := codec.ParseVP8(p.Payload, &v.vp8); err != nil {
					t.Fatal(err)
				}
				frame = append(frame, v)
			}
		}
		f.video = append(f.video, frame)
	}
	enc := red.NewEncoder(111, 1)
	for i, p := range c.audio {
		a := apkt{hdr: rtp.Header{PayloadType: 111, SequenceNumber: uint16(i), Timestamp: uint32(i * 960)}, payload: p}
		if withRED {
			a.hdr.PayloadType = 63
			a.payload = enc.Encode(nil, a.hdr.Timestamp, p)
			if err := red.Parse(a.payload, 63, 111, &a.red); err != nil {
				t.Fatal(err)
			}
		}
		f.audio = append(f.audio, a)
	}
	return f
}

// player hands a feed to sinks, frame by frame, looping, without allocating.
type player struct {
	f       *feed
	frame   int // frames played
	aidx    int // audio packets played
	seq     [media.MaxLayers]uint16
	aseq    uint16
	pkt     media.Packet
	hdr     rtp.Header
	vp8     codec.VP8
	redPay  red.Payload
	clipLen int
}

func newPlayer(f *feed) *player { return &player{f: f, clipLen: len(f.video)} }

// videoFrame plays one frame time of every layer to s; it returns the
// number of packets.
func (p *player) videoFrame(s media.Sink) int {
	loop, idx := p.frame/p.clipLen, p.frame%p.clipLen
	at := int64(p.frame) * int64(time.Second) / 30
	pkts := p.f.video[idx]
	for i := range pkts {
		v := &pkts[i]
		p.hdr = v.hdr
		p.hdr.SequenceNumber = p.seq[v.layer]
		p.seq[v.layer]++
		p.hdr.Timestamp = uint32(p.frame * 3000)
		p.vp8 = v.vp8
		// A looped clip starts with a keyframe: the picture ids go on.
		p.vp8.PictureID = uint16((int(v.vp8.PictureID) + loop*p.clipLen) & 0x7fff)
		p.pkt = media.Packet{Header: &p.hdr, Payload: v.payload, Layer: v.layer, Keyframe: v.vp8.Keyframe,
			VP8: &p.vp8, Arrival: at + int64(i)*50_000}
		s.WriteRTP(&p.pkt)
	}
	p.frame++
	return len(pkts)
}

// audioPacket plays the next 20 ms audio packet to s.
func (p *player) audioPacket(s media.Sink) {
	a := &p.f.audio[p.aidx%len(p.f.audio)]
	p.hdr = a.hdr
	p.hdr.SequenceNumber = p.aseq
	p.aseq++
	p.hdr.Timestamp = uint32(p.aidx * 960)
	p.pkt = media.Packet{Header: &p.hdr, Payload: a.payload, Keyframe: true, Arrival: int64(p.aidx) * int64(20*time.Millisecond)}
	if a.red.Primary != nil {
		p.redPay = a.red
		p.pkt.RED = &p.redPay
	}
	s.WriteRTP(&p.pkt)
	p.aidx++
}

// drain stands in for the writer goroutine: it gives every queued slot back.
func drain(t *Track) {
	for {
		select {
		case s := <-t.queue:
			t.release(s)
		default:
			return
		}
	}
}

// WriteRTP, the forwarding goroutine's whole cost, allocates nothing once
// the pool's buffers exist: video with its three layers (two dropped), and
// RED audio.
func TestWriteRTPDoesNotAllocate(t *testing.T) {
	f := newFeed(t, true)
	dir := t.TempDir()
	vt, err := newTrack(filepath.Join(dir, "v.webm"), TrackConfig{Codec: vp8Codec, RequestKeyframe: func(int) {}})
	if err != nil {
		t.Fatal(err)
	}
	at, err := newTrack(filepath.Join(dir, "a.webm"), TrackConfig{Codec: redCodec})
	if err != nil {
		t.Fatal(err)
	}
	p := newPlayer(f)
	for range 120 { // warm up: fill the pool, start on a keyframe
		p.videoFrame(vt)
		p.audioPacket(at)
		drain(vt)
		drain(at)
	}
	allocs := testing.AllocsPerRun(200, func() {
		p.videoFrame(vt)
		p.audioPacket(at)
		drain(vt)
		drain(at)
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per frame time", allocs)
	}
	if st := vt.Stats(); st.Packets == 0 || st.Switches != 1 {
		t.Errorf("video %+v: the top layer should be forwarded", st)
	}
	if st := at.Stats(); st.Packets == 0 || st.Malformed != 0 {
		t.Errorf("audio %+v", st)
	}
}

// BenchmarkWriteRTP is the cost on the forwarding goroutine per packet of a
// simulcast video track (all three layers reach the sink; the top one is
// queued). The writer's side is stood in for by handing slots back.
func BenchmarkWriteRTP(b *testing.B) {
	f := newFeed(b, false)
	vt, err := newTrack(filepath.Join(b.TempDir(), "v.webm"), TrackConfig{Codec: vp8Codec})
	if err != nil {
		b.Fatal(err)
	}
	p := newPlayer(f)
	for range 60 {
		p.videoFrame(vt)
		drain(vt)
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for n < b.N {
		n += p.videoFrame(vt)
		drain(vt)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/packet")
}

// BenchmarkRecordParticipant records a participant's camera (three simulcast
// layers, the top one recorded: 1280x720 at about 1 Mbit/s) and mic to files,
// everything included: WriteRTP, the writer goroutines, ebml-go and the
// writes. It reports the process's CPU time (user+system, from getrusage)
// per second of media recorded.
func BenchmarkRecordParticipant(b *testing.B) {
	f := newFeed(b, true)
	const seconds = 10
	var cpu time.Duration
	for range b.N {
		dir := b.TempDir()
		vt, err := NewTrack(filepath.Join(dir, "v.webm"), TrackConfig{Codec: vp8Codec})
		if err != nil {
			b.Fatal(err)
		}
		at, err := NewTrack(filepath.Join(dir, "a.webm"), TrackConfig{Codec: redCodec})
		if err != nil {
			b.Fatal(err)
		}
		p := newPlayer(f)
		before := cpuTime(b)
		for p.frame < seconds*30 {
			p.videoFrame(vt)
			for p.aidx*20 < p.frame*1000/30 {
				p.audioPacket(at)
			}
			// As fast as the writer goes, without overflowing its queue.
			for len(vt.queue) > cap(vt.queue)/2 {
				time.Sleep(100 * time.Microsecond)
			}
		}
		if err := vt.Close(); err != nil {
			b.Fatal(err)
		}
		if err := at.Close(); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime(b) - before
		if st := vt.Stats(); st.QueueDrops != 0 || st.Frames != seconds*30 {
			b.Fatalf("video %+v", st)
		}
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*seconds), "cpu-µs/media-s")
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
