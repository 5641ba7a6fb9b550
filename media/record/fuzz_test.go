package record

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/switchyard/switchyard/media"
)

// fuzzPackets cuts data into packets: a flags byte (bit 0 marker, bits 1-2
// layer, bit 3 a sequence jump of bits 4-7, bit 4 a timestamp step), a length
// byte, then the payload.
func fuzzPackets(data []byte, each func(layer int, hdr rtp.Header, payload []byte, arrival int64)) {
	var seq uint16
	var ts uint32
	var arrival int64
	for len(data) >= 2 {
		flags, n := data[0], int(data[1])
		data = data[2:]
		n = min(n, len(data))
		payload := data[:n]
		data = data[n:]
		if flags&8 != 0 {
			seq += uint16(flags >> 4)
		}
		seq++
		if flags&16 != 0 {
			ts += 3000
		}
		arrival += int64(time.Millisecond)
		each(int(flags>>1&3), rtp.Header{Marker: flags&1 != 0, SequenceNumber: seq, Timestamp: ts, PayloadType: 63}, payload, arrival)
	}
}

// FuzzTrackWrite feeds arbitrary payloads through a video track (VP8
// descriptor, forwarder, jitter buffer, frame assembly, muxing) and a RED
// audio track. Nothing may panic or block, nothing may fail to write, and
// a file with frames must be WebM.
func FuzzTrackWrite(f *testing.F) {
	// Seeds: the start of the real clip, and some broken descriptors.
	c := loadClips(f)
	pz := rtp.NewPacketizerWithOptions(200, &codecs.VP8Payloader{EnablePictureID: true},
		rtp.NewFixedSequencer(0), 90000)
	var seed []byte
	for _, p := range pz.Packetize(c.video[0][0][:min(1500, len(c.video[0][0]))], 3000) {
		fl := byte(2 << 1)
		if p.Marker {
			fl |= 1
		}
		seed = append(seed, fl, byte(len(p.Payload)))
		seed = append(seed, p.Payload...)
	}
	f.Add(seed)
	f.Add([]byte{0x05, 1, 0x80, 0x05, 3, 0x90, 0x80, 0x80, 0x15, 2, 0x10, 0x00})
	f.Add([]byte{0x15, 6, 0x10, 0x01, 0xff, 0xff, 0xff, 1, 0x0d, 0})
	f.Add([]byte{0x11, 5, 0xef, 0, 0, 3, 111, 0x11, 4, 0x80 | 111, 0, 0, 0})

	f.Fuzz(func(t *testing.T, data []byte) {
		// In memory: the fuzzer runs this thousands of times a second.
		files := map[string]*memFile{}
		open := func(path string) (file, error) {
			m := &memFile{}
			files[path] = m
			return m, nil
		}
		vt, err := NewTrack("v.webm", TrackConfig{Codec: vp8Codec, RequestKeyframe: func(int) {}, open: open})
		if err != nil {
			t.Fatal(err)
		}
		at, err := NewTrack("a.webm", TrackConfig{Codec: redCodec, open: open})
		if err != nil {
			t.Fatal(err)
		}
		fuzzPackets(data, func(layer int, hdr rtp.Header, payload []byte, arrival int64) {
			vt.WriteRTP(&media.Packet{Header: &hdr, Payload: payload, Layer: layer, Arrival: arrival})
			at.WriteRTP(&media.Packet{Header: &hdr, Payload: payload, Arrival: arrival})
		})
		for _, tr := range []*Track{vt, at} {
			if err := tr.Close(); err != nil {
				t.Fatalf("%s: %v", tr.Path(), err)
			}
			st := tr.Stats()
			if st.Frames+st.FramesDropped > st.Packets+st.Recovered+1 && tr.Video() {
				t.Fatalf("%s: more frames than packets: %+v", tr.Path(), st)
			}
			m := files[tr.Path()]
			if !m.closed {
				t.Fatalf("%s: file not closed", tr.Path())
			}
			if st.Frames > 0 && !bytes.HasPrefix(m.b, []byte{0x1a, 0x45, 0xdf, 0xa3}) {
				t.Fatalf("%s: %d frames but not WebM", tr.Path(), st.Frames)
			}
		}
	})
}

// memFile is a file in memory.
type memFile struct {
	mu     sync.Mutex
	b      []byte
	closed bool
}

func (m *memFile) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.b = append(m.b, p...)
	return len(p), nil
}

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if off < 0 || off+int64(len(p)) > int64(len(m.b)) {
		return 0, errors.New("memFile: WriteAt past the end")
	}
	copy(m.b[off:], p)
	return len(p), nil
}

func (m *memFile) Sync() error { return nil }

func (m *memFile) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
