package codec

import (
	"bytes"
	"errors"
	"testing"
)

// keyframeHeader is a VP8 keyframe frame tag, start code and dimensions.
func keyframeHeader(w, h int) []byte {
	return []byte{
		0x10, 0x02, 0x00, // frame tag: keyframe (bit 0 clear), show_frame
		0x9d, 0x01, 0x2a,
		byte(w), byte(w >> 8), byte(h), byte(h >> 8),
		0xaa, 0xbb, // some partition data
	}
}

// interHeader is a VP8 interframe frame tag followed by data.
var interHeader = []byte{0x31, 0x02, 0x00, 0xaa, 0xbb}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestParseVP8(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		want    VP8
	}{
		{
			name:    "minimal descriptor, interframe continuation",
			payload: cat([]byte{0x00}, interHeader),
			want:    VP8{HeaderLen: 1},
		},
		{
			name:    "start of interframe, no extension",
			payload: cat([]byte{0x10}, interHeader),
			want:    VP8{HeaderLen: 1, Start: true},
		},
		{
			name:    "keyframe 1280x720, 15-bit picture id, TL0, TID",
			payload: cat([]byte{0x90, 0xe0, 0x80 | 0x12, 0x34, 0x07, 0x40}, keyframeHeader(1280, 720)),
			want: VP8{
				HeaderLen: 6, Start: true, Keyframe: true, Width: 1280, Height: 720,
				HasPictureID: true, PictureIDBits: 15, PictureID: 0x1234,
				HasTL0: true, TL0PICIDX: 7, HasTID: true, TID: 1,
				pictureIDOff: 2, tl0Off: 4,
			},
		},
		{
			name:    "keyframe 320x180, 7-bit picture id, no TL0",
			payload: cat([]byte{0x90, 0x80, 0x55}, keyframeHeader(320, 180)),
			want: VP8{
				HeaderLen: 3, Start: true, Keyframe: true, Width: 320, Height: 180,
				HasPictureID: true, PictureIDBits: 7, PictureID: 0x55,
				pictureIDOff: 2,
			},
		},
		{
			name: "keyframe with scaling bits set on dimensions",
			payload: cat([]byte{0x10}, []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a,
				0x00, 0x45, 0xd0, 0xc2}), // 0x4500 -> 1280 scale 1, 0xc2d0 -> 720 scale 3
			want: VP8{HeaderLen: 1, Start: true, Keyframe: true, Width: 1280, Height: 720},
		},
		{
			name:    "7-bit picture id with TL0, interframe",
			payload: cat([]byte{0x90, 0xc0, 0x7f, 0xfe}, interHeader),
			want: VP8{
				HeaderLen: 4, Start: true,
				HasPictureID: true, PictureIDBits: 7, PictureID: 0x7f,
				HasTL0: true, TL0PICIDX: 0xfe,
				pictureIDOff: 2, tl0Off: 3,
			},
		},
		{
			name:    "15-bit picture id, TL0 and K only (no TID)",
			payload: cat([]byte{0x80, 0xd0, 0xff, 0xff, 0x01, 0x1f}, interHeader),
			want: VP8{
				HeaderLen:    6,
				HasPictureID: true, PictureIDBits: 15, PictureID: 0x7fff,
				HasTL0: true, TL0PICIDX: 1,
				pictureIDOff: 2, tl0Off: 4,
			},
		},
		{
			name:    "TL0 without picture id",
			payload: cat([]byte{0x90, 0x40, 0x09}, interHeader),
			want:    VP8{HeaderLen: 3, Start: true, HasTL0: true, TL0PICIDX: 9, tl0Off: 2},
		},
		{
			name:    "keyframe bit on a non-zero partition is not a keyframe",
			payload: cat([]byte{0x11}, keyframeHeader(640, 360)),
			want:    VP8{HeaderLen: 1},
		},
		{
			name:    "keyframe bit without S is not a keyframe",
			payload: cat([]byte{0x00}, keyframeHeader(640, 360)),
			want:    VP8{HeaderLen: 1},
		},
		{
			name:    "X with no optional fields",
			payload: cat([]byte{0x90, 0x00}, interHeader),
			want:    VP8{HeaderLen: 2, Start: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d VP8
			if err := ParseVP8(tt.payload, &d); err != nil {
				t.Fatalf("ParseVP8: %v", err)
			}
			if d != tt.want {
				t.Errorf("got  %+v\nwant %+v", d, tt.want)
			}
		})
	}
}

func TestParseVP8Errors(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		want    error
	}{
		{"empty", nil, ErrVP8Short},
		{"X without extension octet", []byte{0x80}, ErrVP8Short},
		{"I without picture id", []byte{0x80, 0x80}, ErrVP8Short},
		{"M without second octet", []byte{0x80, 0x80, 0x80}, ErrVP8Short},
		{"L without TL0PICIDX", []byte{0x80, 0x40}, ErrVP8Short},
		{"L after 15-bit id without TL0PICIDX", []byte{0x80, 0xc0, 0x81, 0x00}, ErrVP8Short},
		{"T without TID octet", []byte{0x80, 0x20}, ErrVP8Short},
		{"K without KEYIDX octet", []byte{0x80, 0x10}, ErrVP8Short},
		{"descriptor only", []byte{0x10}, ErrVP8Empty},
		{"full descriptor only", []byte{0x90, 0xf0, 0x81, 0x02, 0x03, 0x04}, ErrVP8Empty},
		{"keyframe header truncated", []byte{0x10, 0x10, 0x02, 0x00, 0x9d, 0x01}, ErrVP8Keyframe},
		{"keyframe bad start code", []byte{0x10, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2b, 0, 5, 0, 5}, ErrVP8Keyframe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d VP8
			err := ParseVP8(tt.payload, &d)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseVP8(% x) = %v, want %v", tt.payload, err, tt.want)
			}
		})
	}
}

func TestRewriteVP8(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		pid     uint16
		tl0     uint8
		want    []byte
		wantPID uint16
	}{
		{
			name:    "15-bit id and TL0",
			payload: cat([]byte{0x90, 0xe0, 0x80 | 0x12, 0x34, 0x07, 0x40}, interHeader),
			pid:     0x7abc, tl0: 0x99,
			want:    cat([]byte{0x90, 0xe0, 0x80 | 0x7a, 0xbc, 0x99, 0x40}, interHeader),
			wantPID: 0x7abc,
		},
		{
			name:    "15-bit id masks the top bit",
			payload: cat([]byte{0x90, 0x80, 0x80, 0x01}, interHeader),
			pid:     0x8001,
			want:    cat([]byte{0x90, 0x80, 0x80, 0x01}, interHeader),
			wantPID: 1,
		},
		{
			name:    "7-bit id keeps its width",
			payload: cat([]byte{0x90, 0xc0, 0x05, 0x03}, interHeader),
			pid:     0x1ff, tl0: 4,
			want:    cat([]byte{0x90, 0xc0, 0x7f, 0x04}, interHeader),
			wantPID: 0x7f,
		},
		{
			name:    "no TL0 leaves following bytes alone",
			payload: cat([]byte{0x90, 0x80, 0x05}, interHeader),
			pid:     0x10, tl0: 0xee,
			want:    cat([]byte{0x90, 0x80, 0x10}, interHeader),
			wantPID: 0x10,
		},
		{
			name:    "no extension: untouched",
			payload: cat([]byte{0x10}, interHeader),
			pid:     0x10, tl0: 0xee,
			want: cat([]byte{0x10}, interHeader),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d VP8
			if err := ParseVP8(tt.payload, &d); err != nil {
				t.Fatalf("ParseVP8: %v", err)
			}
			parsed := d
			RewriteVP8(tt.payload, &d, tt.pid, tt.tl0)
			if d != parsed {
				t.Fatalf("RewriteVP8 changed the descriptor to %+v", d)
			}
			if !bytes.Equal(tt.payload, tt.want) {
				t.Fatalf("got % x, want % x", tt.payload, tt.want)
			}
			var again VP8
			if err := ParseVP8(tt.payload, &again); err != nil {
				t.Fatalf("reparse: %v", err)
			}
			if again.PictureID != tt.wantPID {
				t.Errorf("reparsed picture id %#x, want %#x", again.PictureID, tt.wantPID)
			}
		})
	}
}

func TestRewriteVP8ShortPayload(t *testing.T) {
	full := cat([]byte{0x90, 0xe0, 0x81, 0x02, 0x03, 0x40}, interHeader)
	var d VP8
	if err := ParseVP8(full, &d); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(full); n++ {
		RewriteVP8(full[:n:n], &d, 0x1234, 9) // must not panic
	}
}

func TestParseVP8Allocs(t *testing.T) {
	p := cat([]byte{0x90, 0xe0, 0x80 | 0x12, 0x34, 0x07, 0x40}, keyframeHeader(1280, 720))
	var d VP8
	allocs := testing.AllocsPerRun(100, func() {
		if err := ParseVP8(p, &d); err != nil {
			t.Fatal(err)
		}
		RewriteVP8(p, &d, d.PictureID+1, d.TL0PICIDX+1)
	})
	if allocs != 0 {
		t.Errorf("ParseVP8+RewriteVP8 allocate %v per run", allocs)
	}
}

func BenchmarkParseVP8(b *testing.B) {
	p := cat([]byte{0x90, 0xe0, 0x80 | 0x12, 0x34, 0x07, 0x40}, keyframeHeader(1280, 720))
	var d VP8
	b.ReportAllocs()
	for b.Loop() {
		if err := ParseVP8(p, &d); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParseVP8(f *testing.F) {
	f.Add([]byte{0x10, 0x31, 0x02, 0x00})
	f.Add(cat([]byte{0x90, 0xe0, 0x80 | 0x12, 0x34, 0x07, 0x40}, keyframeHeader(1280, 720)))
	f.Add(cat([]byte{0x90, 0x80, 0x55}, keyframeHeader(320, 180)))
	f.Add([]byte{0x80, 0x80, 0x80})
	f.Add([]byte{0x90, 0xf0})
	f.Fuzz(func(t *testing.T, payload []byte) {
		var d VP8
		err := ParseVP8(payload, &d)
		if err != nil {
			return
		}
		if d.HeaderLen < 1 || d.HeaderLen >= len(payload) {
			t.Fatalf("HeaderLen %d out of range for %d-byte payload", d.HeaderLen, len(payload))
		}
		if d.Keyframe && !d.Start {
			t.Fatal("keyframe without start")
		}
		if d.HasPictureID && d.PictureIDBits != 7 && d.PictureIDBits != 15 {
			t.Fatalf("picture id bits %d", d.PictureIDBits)
		}
		// Rewriting with the parsed values must be the identity, and a new
		// value must read back modulo the id width.
		orig := append([]byte(nil), payload...)
		before := d
		RewriteVP8(payload, &d, d.PictureID, d.TL0PICIDX)
		if !bytes.Equal(orig, payload) {
			t.Fatalf("identity rewrite changed % x to % x", orig, payload)
		}
		RewriteVP8(payload, &d, d.PictureID+1, d.TL0PICIDX+1)
		var after VP8
		if err := ParseVP8(payload, &after); err != nil {
			t.Fatalf("reparse after rewrite: %v", err)
		}
		if before.HasPictureID {
			mask := uint16(1)<<before.PictureIDBits - 1
			if after.PictureID != (before.PictureID+1)&mask {
				t.Fatalf("picture id %d after rewrite of %d (%d bits)", after.PictureID, before.PictureID, before.PictureIDBits)
			}
		}
		if before.HasTL0 && after.TL0PICIDX != before.TL0PICIDX+1 {
			t.Fatalf("TL0PICIDX %d after rewrite of %d", after.TL0PICIDX, before.TL0PICIDX)
		}
	})
}
