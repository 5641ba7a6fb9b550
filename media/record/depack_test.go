package record

import (
	"bytes"
	"fmt"
	"testing"
)

// vp8Key is a keyframe of w x h with n bytes in all (at least 10): a frame
// tag, the start code and the size, then filler.
func vp8Key(w, h, n int) []byte {
	f := make([]byte, n)
	tag := uint32(n-10)<<5 | 1<<4 // first partition, shown, version 0, key
	f[0], f[1], f[2] = byte(tag), byte(tag>>8), byte(tag>>16)
	f[3], f[4], f[5] = 0x9d, 0x01, 0x2a
	f[6], f[7], f[8], f[9] = byte(w), byte(w>>8), byte(h), byte(h>>8)
	for i := 10; i < n; i++ {
		f[i] = byte(i)
	}
	return f
}

// vp8Inter is an interframe of n bytes (at least 3).
func vp8Inter(n int) []byte {
	f := make([]byte, n)
	tag := uint32(n-3)<<5 | 1<<4 | 1
	f[0], f[1], f[2] = byte(tag), byte(tag>>8), byte(tag>>16)
	for i := 3; i < n; i++ {
		f[i] = byte(i * 3)
	}
	return f
}

// rtpVP8 prefixes data with a payload descriptor: S and PID, and a 15-bit
// picture id when pic >= 0.
func rtpVP8(start bool, pid byte, pic int, data []byte) []byte {
	b0 := pid & 7
	if start {
		b0 |= 0x10
	}
	if pic < 0 {
		return append([]byte{b0}, data...)
	}
	return append([]byte{b0 | 0x80, 0x80, 0x80 | byte(pic>>8), byte(pic)}, data...)
}

type asmStep struct {
	payload []byte
	ts      uint32
	marker  bool
	gap     bool

	frame     []byte // the frame expected, nil for none
	dropped   int
	malformed bool
	wantKey   bool
}

func TestAssembler(t *testing.T) {
	key := vp8Key(640, 360, 40)
	inter := vp8Inter(30)
	inter2 := vp8Inter(12)
	bad := vp8Key(640, 360, 40)
	bad[3] = 0 // no start code
	tests := []struct {
		name     string
		maxFrame int
		steps    []asmStep
	}{
		{
			name: "keyframe in two packets, then an interframe",
			steps: []asmStep{
				{payload: rtpVP8(true, 0, 1, key[:25]), ts: 100},
				{payload: rtpVP8(false, 0, 1, key[25:]), ts: 100, marker: true, frame: key},
				{payload: rtpVP8(true, 0, 2, inter), ts: 200, marker: true, frame: inter},
			},
		},
		{
			name: "frames before the first keyframe are dropped, asking for one",
			steps: []asmStep{
				{payload: rtpVP8(true, 0, -1, inter), ts: 100, marker: true, dropped: 1, wantKey: true},
				{payload: rtpVP8(true, 0, -1, inter2), ts: 200, marker: true, dropped: 1, wantKey: true},
				{payload: rtpVP8(true, 0, -1, key), ts: 300, marker: true, frame: key},
			},
		},
		{
			name: "a gap inside a frame drops it and the frames after, up to a keyframe",
			steps: []asmStep{
				{payload: rtpVP8(true, 0, 1, key), ts: 100, marker: true, frame: key},
				{payload: rtpVP8(true, 0, 2, inter[:10]), ts: 200},
				{payload: rtpVP8(false, 0, 2, inter[20:]), ts: 200, marker: true, gap: true, dropped: 1, wantKey: true},
				{payload: rtpVP8(true, 0, 3, inter2), ts: 300, marker: true, dropped: 1, wantKey: true},
				{payload: rtpVP8(true, 0, 4, key), ts: 400, marker: true, frame: key},
				{payload: rtpVP8(true, 0, 5, inter2), ts: 500, marker: true, frame: inter2},
			},
		},
		{
			name: "a gap between frames breaks the chain too",
			steps: []asmStep{
				{payload: rtpVP8(true, 0, 1, key), ts: 100, marker: true, frame: key},
				{payload: rtpVP8(true, 0, 3, inter2), ts: 300, marker: true, gap: true, dropped: 1, wantKey: true},
			},
		},
		{
			name: "a frame whose start was lost is ignored",
			steps: []asmStep{
				{payload: rtpVP8(true, 0, 1, key), ts: 100, marker: true, frame: key},
				{payload: rtpVP8(false, 0, 2, inter[10:]), ts: 200, marker: true, gap: true, wantKey: true},
				{payload: rtpVP8(true, 0, 3, key), ts: 300, marker: true, frame: key},
			},
		},
		{
			name: "a frame without its marker is dropped when the next starts",
			steps: []asmStep{
				{payload: rtpVP8(true, 0, 1, key), ts: 100, marker: true, frame: key},
				{payload: rtpVP8(true, 0, 2, inter), ts: 200},
				{payload: rtpVP8(true, 0, 3, inter2), ts: 300, marker: true, dropped: 2, wantKey: true},
			},
		},
		{
			name: "a packet of another timestamp without a start breaks the frame",
			steps: []asmStep{
				{payload: rtpVP8(true, 0, 1, key[:20]), ts: 100},
				{payload: rtpVP8(false, 0, 1, key[20:]), ts: 101, marker: true, dropped: 1, wantKey: true},
			},
		},
		{
			name: "later partitions continue the frame",
			steps: []asmStep{
				{payload: rtpVP8(true, 0, 1, key[:15]), ts: 100},
				{payload: rtpVP8(true, 1, 1, key[15:30]), ts: 100},
				{payload: rtpVP8(false, 1, 1, key[30:]), ts: 100, marker: true, frame: key},
			},
		},
		{
			name: "truncated descriptor, empty data, short frame, bad keyframe: malformed",
			steps: []asmStep{
				{payload: rtpVP8(true, 0, 1, key), ts: 100, marker: true, frame: key},
				{payload: []byte{0x90, 0x80}, ts: 200, marker: true, malformed: true, wantKey: true},
				{payload: rtpVP8(true, 0, 1, key), ts: 300, marker: true, frame: key},
				{payload: []byte{0x10}, ts: 400, marker: true, malformed: true, wantKey: true},
				{payload: rtpVP8(true, 0, 1, key), ts: 500, marker: true, frame: key},
				{payload: rtpVP8(true, 0, 1, []byte{1, 2}), ts: 600, marker: true, malformed: true, dropped: 1, wantKey: true},
				{payload: rtpVP8(true, 0, 1, bad), ts: 700, marker: true, malformed: true, dropped: 1, wantKey: true},
				{payload: rtpVP8(true, 0, 1, key), ts: 800, marker: true, frame: key},
			},
		},
		{
			name:     "a frame larger than the limit is dropped",
			maxFrame: 35,
			steps: []asmStep{
				{payload: rtpVP8(true, 0, 1, key[:30]), ts: 100},
				{payload: rtpVP8(false, 0, 1, key[30:]), ts: 100, marker: true, dropped: 1, wantKey: true},
				{payload: rtpVP8(true, 0, 1, inter), ts: 200, marker: true, frame: nil, dropped: 1, wantKey: true},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			maxF := tc.maxFrame
			if maxF == 0 {
				maxF = 1 << 20
			}
			a := newAssembler(maxF)
			for i, s := range tc.steps {
				r := a.push(s.payload, s.ts, s.marker, s.gap)
				got := fmt.Sprintf("frame=%v dropped=%d malformed=%v wantKey=%v", r.Frame != nil, r.Dropped, r.Malformed, r.WantKey)
				want := fmt.Sprintf("frame=%v dropped=%d malformed=%v wantKey=%v", s.frame != nil, s.dropped, s.malformed, s.wantKey)
				if got != want {
					t.Fatalf("step %d: %s, want %s", i, got, want)
				}
				if s.frame == nil {
					continue
				}
				if !bytes.Equal(r.Frame, s.frame) || r.TS != s.ts {
					t.Fatalf("step %d: frame of %d bytes at %d, want %d bytes at %d", i, len(r.Frame), r.TS, len(s.frame), s.ts)
				}
				wantKey := s.frame[0]&1 == 0
				if r.Keyframe != wantKey || (wantKey && (r.Width != 640 || r.Height != 360)) {
					t.Fatalf("step %d: keyframe %v %dx%d", i, r.Keyframe, r.Width, r.Height)
				}
			}
		})
	}
}

func TestVP8FrameInfo(t *testing.T) {
	zeroSize := vp8Key(0, 360, 20)
	bigPart := vp8Inter(10)
	bigPart[2] = 0xff // first partition longer than the frame
	version7 := vp8Inter(10)
	version7[0] |= 0x0e
	tests := []struct {
		name    string
		f       []byte
		key, ok bool
		w, h    int
	}{
		{"keyframe", vp8Key(1280, 720, 20), true, true, 1280, 720},
		{"interframe", vp8Inter(10), false, true, 0, 0},
		{"too short", []byte{1, 0}, false, false, 0, 0},
		{"keyframe shorter than its header", vp8Key(64, 64, 20)[:9], false, false, 0, 0},
		{"keyframe of width 0", zeroSize, false, false, 0, 0},
		{"first partition past the end", bigPart, false, false, 0, 0},
		{"version 7", version7, false, false, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, w, h, ok := vp8FrameInfo(tc.f)
			if key != tc.key || ok != tc.ok || w != tc.w || h != tc.h {
				t.Errorf("got key=%v %dx%d ok=%v, want key=%v %dx%d ok=%v", key, w, h, ok, tc.key, tc.w, tc.h, tc.ok)
			}
		})
	}
}
