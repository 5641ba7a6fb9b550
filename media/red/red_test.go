package red

import (
	"bytes"
	"errors"
	"testing"
)

const (
	ptRED  = 63
	ptOpus = 111
)

// hdr is a redundant block header.
func hdr(pt uint8, off uint16, l int) []byte {
	return []byte{0x80 | pt, byte(off >> 6), byte(off<<2) | byte(l>>8), byte(l)}
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestParse(t *testing.T) {
	tests := []struct {
		name      string
		in        []byte
		err       error
		primary   []byte
		redundant []Block
	}{
		{name: "primary only", in: []byte{ptOpus, 0xf8, 0xff, 0xfe}, primary: []byte{0xf8, 0xff, 0xfe}},
		{name: "empty primary", in: []byte{ptOpus}, primary: []byte{}},
		{name: "one redundant",
			in:        cat(hdr(ptOpus, 960, 2), []byte{ptOpus}, []byte{1, 2}, []byte{3, 4, 5}),
			primary:   []byte{3, 4, 5},
			redundant: []Block{{ptOpus, 960, []byte{1, 2}}}},
		{name: "two redundant, oldest first",
			in:        cat(hdr(ptOpus, 1920, 1), hdr(ptOpus, 960, 3), []byte{ptOpus}, []byte{9}, []byte{7, 7, 7}, []byte{5}),
			primary:   []byte{5},
			redundant: []Block{{ptOpus, 1920, []byte{9}}, {ptOpus, 960, []byte{7, 7, 7}}}},
		{name: "largest offset and length",
			in:        cat(hdr(ptOpus, MaxTSOffset, MaxBlockLen), []byte{ptOpus}, make([]byte, MaxBlockLen)),
			primary:   []byte{},
			redundant: []Block{{ptOpus, MaxTSOffset, make([]byte, MaxBlockLen)}}},
		{name: "redundant block of zero bytes",
			in:        cat(hdr(ptOpus, 960, 0), []byte{ptOpus, 1}),
			primary:   []byte{1},
			redundant: []Block{{ptOpus, 960, []byte{}}}},
		{name: "four redundant", in: cat(hdr(ptOpus, 4, 0), hdr(ptOpus, 3, 0), hdr(ptOpus, 2, 0), hdr(ptOpus, 1, 0), []byte{ptOpus}),
			primary:   []byte{},
			redundant: []Block{{ptOpus, 4, []byte{}}, {ptOpus, 3, []byte{}}, {ptOpus, 2, []byte{}}, {ptOpus, 1, []byte{}}}},

		{name: "zero blocks", in: []byte{}, err: ErrEmpty},
		{name: "nil", in: nil, err: ErrEmpty},
		{name: "redundant header cut short", in: []byte{0x80 | ptOpus, 0x0f, 0x00}, err: ErrTruncated},
		{name: "no primary header", in: hdr(ptOpus, 960, 0), err: ErrTruncated},
		{name: "no primary header after two", in: cat(hdr(ptOpus, 960, 0), hdr(ptOpus, 960, 0)), err: ErrTruncated},
		{name: "too many", in: cat(hdr(ptOpus, 5, 0), hdr(ptOpus, 4, 0), hdr(ptOpus, 3, 0), hdr(ptOpus, 2, 0), hdr(ptOpus, 1, 0), []byte{ptOpus}),
			err: ErrTooMany},
		{name: "nested primary", in: []byte{ptRED, 1, 2}, err: ErrNested},
		{name: "nested redundant", in: cat(hdr(ptRED, 960, 1), []byte{ptOpus, 1, 2}), err: ErrNested},
		{name: "other primary type", in: []byte{9, 1, 2}, err: ErrPT},
		{name: "other redundant type", in: cat(hdr(0, 960, 1), []byte{ptOpus, 1, 2}), err: ErrPT},
		{name: "plain Opus is not RED", in: []byte{0xf8, 0xff, 0xfe, 0x10, 0x20}, err: ErrPT},
		{name: "block past the end", in: cat(hdr(ptOpus, 960, 3), []byte{ptOpus, 1, 2}), err: ErrOverrun},
		{name: "blocks past the end together", in: cat(hdr(ptOpus, 1920, 2), hdr(ptOpus, 960, 2), []byte{ptOpus, 1, 2, 3}), err: ErrOverrun},
		{name: "length of 1023 past the end", in: cat(hdr(ptOpus, 960, MaxBlockLen), []byte{ptOpus}, make([]byte, 1000)), err: ErrOverrun},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Payload
			err := Parse(tt.in, ptRED, ptOpus, &p)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if err != nil {
				if p.Primary != nil || len(p.Redundant()) != 0 {
					t.Errorf("refused payload left %+v", p)
				}
				return
			}
			if p.PT != ptOpus || !bytes.Equal(p.Primary, tt.primary) {
				t.Errorf("primary %d % x, want %d % x", p.PT, p.Primary, ptOpus, tt.primary)
			}
			got := p.Redundant()
			if len(got) != len(tt.redundant) {
				t.Fatalf("%d redundant blocks, want %d", len(got), len(tt.redundant))
			}
			for i, b := range got {
				w := tt.redundant[i]
				if b.PT != w.PT || b.TSOffset != w.TSOffset || !bytes.Equal(b.Payload, w.Payload) {
					t.Errorf("block %d: %d %d % x, want %d %d % x", i, b.PT, b.TSOffset, b.Payload, w.PT, w.TSOffset, w.Payload)
				}
			}
		})
	}
}

func TestParseDoesNotCopy(t *testing.T) {
	in := cat(hdr(ptOpus, 960, 2), []byte{ptOpus}, []byte{1, 2}, []byte{3, 4})
	var p Payload
	if err := Parse(in, ptRED, ptOpus, &p); err != nil {
		t.Fatal(err)
	}
	in[len(in)-1], in[len(in)-3] = 0xaa, 0xbb
	if p.Primary[1] != 0xaa || p.Redundant()[0].Payload[1] != 0xbb {
		t.Errorf("blocks are copies: %x %x", p.Primary, p.Redundant()[0].Payload)
	}
	// A block's capacity ends with it: appending to it cannot overwrite the next.
	if b := p.Redundant()[0].Payload; cap(b) != len(b) {
		t.Errorf("redundant block cap %d, len %d", cap(b), len(b))
	}
}

func TestParseAllocs(t *testing.T) {
	in := cat(hdr(ptOpus, 1920, 10), hdr(ptOpus, 960, 10), []byte{ptOpus}, make([]byte, 30))
	var p Payload
	if n := testing.AllocsPerRun(100, func() { _ = Parse(in, ptRED, ptOpus, &p) }); n != 0 {
		t.Errorf("Parse allocates %v times", n)
	}
}

func TestAppendRoundTrip(t *testing.T) {
	tests := []struct {
		name      string
		redundant []Block
		primary   []byte
		err       error
	}{
		{name: "primary only", primary: []byte{1, 2, 3}},
		{name: "one", redundant: []Block{{ptOpus, 960, []byte{4, 5}}}, primary: []byte{1}},
		{name: "two", redundant: []Block{{ptOpus, 1920, []byte{6}}, {ptOpus, 960, []byte{4, 5}}}, primary: []byte{1}},
		{name: "limits", redundant: []Block{{ptOpus, MaxTSOffset, make([]byte, MaxBlockLen)}}, primary: make([]byte, 1200)},
		{name: "offset too large", redundant: []Block{{ptOpus, MaxTSOffset + 1, []byte{1}}}, err: ErrTSOffset},
		{name: "block too long", redundant: []Block{{ptOpus, 960, make([]byte, MaxBlockLen+1)}}, err: ErrBlockLen},
		{name: "payload type too large", redundant: []Block{{128, 960, nil}}, err: ErrBlockPT},
		{name: "too many", redundant: make([]Block, MaxRedundant+1), err: ErrTooMany},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Append([]byte{0xee}, ptOpus, tt.redundant, tt.primary)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if err != nil {
				if !bytes.Equal(out, []byte{0xee}) {
					t.Errorf("a refused Append changed dst to % x", out)
				}
				return
			}
			if out[0] != 0xee {
				t.Fatal("Append overwrote dst")
			}
			var p Payload
			if err := Parse(out[1:], ptRED, ptOpus, &p); err != nil {
				t.Fatalf("Parse of Append's payload: %v", err)
			}
			if !bytes.Equal(p.Primary, tt.primary) || len(p.Redundant()) != len(tt.redundant) {
				t.Fatalf("round trip gave % x and %d blocks", p.Primary, len(p.Redundant()))
			}
			for i, b := range p.Redundant() {
				w := tt.redundant[i]
				if b.PT != w.PT || b.TSOffset != w.TSOffset || !bytes.Equal(b.Payload, w.Payload) {
					t.Errorf("block %d: %d %d, want %d %d", i, b.PT, b.TSOffset, w.PT, w.TSOffset)
				}
			}
		})
	}
}

func TestEncoder(t *testing.T) {
	type step struct {
		ts      uint32
		primary []byte
		// want: the redundant blocks' offsets and first bytes, oldest first.
		offsets []uint16
		firsts  []byte
	}
	tests := []struct {
		name     string
		distance int
		steps    []step
	}{
		{name: "distance 2", distance: 2, steps: []step{
			{ts: 1000, primary: []byte{1}},
			{ts: 1960, primary: []byte{2}, offsets: []uint16{960}, firsts: []byte{1}},
			{ts: 2920, primary: []byte{3}, offsets: []uint16{1920, 960}, firsts: []byte{1, 2}},
			{ts: 3880, primary: []byte{4}, offsets: []uint16{1920, 960}, firsts: []byte{2, 3}},
		}},
		{name: "distance 1", distance: 1, steps: []step{
			{ts: 0, primary: []byte{1}},
			{ts: 960, primary: []byte{2}, offsets: []uint16{960}, firsts: []byte{1}},
			{ts: 1920, primary: []byte{3}, offsets: []uint16{960}, firsts: []byte{2}},
		}},
		{name: "distance 0 sends the primary alone", distance: 0, steps: []step{
			{ts: 0, primary: []byte{1}},
			{ts: 960, primary: []byte{2}},
		}},
		{name: "timestamps wrap", distance: 2, steps: []step{
			{ts: 0xffffffff - 959, primary: []byte{1}},
			{ts: 0, primary: []byte{2}, offsets: []uint16{960}, firsts: []byte{1}},
		}},
		{name: "a pause too long for the offset drops the old encodings", distance: 2, steps: []step{
			{ts: 0, primary: []byte{1}},
			{ts: 960, primary: []byte{2}, offsets: []uint16{960}, firsts: []byte{1}},
			{ts: 960 + MaxTSOffset, primary: []byte{3}, offsets: []uint16{MaxTSOffset}, firsts: []byte{2}},
			{ts: 960 + 2*MaxTSOffset + 1, primary: []byte{4}},
		}},
		{name: "a repeated timestamp is not redundancy", distance: 2, steps: []step{
			{ts: 500, primary: []byte{1}},
			{ts: 500, primary: []byte{2}},
			{ts: 1460, primary: []byte{3}, offsets: []uint16{960, 960}, firsts: []byte{1, 2}},
		}},
		{name: "an encoding too long for a block is left out", distance: 2, steps: []step{
			{ts: 0, primary: make([]byte, MaxBlockLen+1)},
			{ts: 960, primary: []byte{2}},
			{ts: 1920, primary: []byte{3}, offsets: []uint16{960}, firsts: []byte{2}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEncoder(ptOpus, tt.distance)
			var buf []byte
			for i, s := range tt.steps {
				buf = e.Encode(buf[:0], s.ts, s.primary)
				var p Payload
				if err := Parse(buf, ptRED, ptOpus, &p); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if !bytes.Equal(p.Primary, s.primary) {
					t.Errorf("step %d: primary % x, want % x", i, p.Primary, s.primary)
				}
				var offsets []uint16
				var firsts []byte
				for _, b := range p.Redundant() {
					offsets = append(offsets, b.TSOffset)
					firsts = append(firsts, b.Payload[0])
				}
				if !slicesEqual(offsets, s.offsets) || !bytes.Equal(firsts, s.firsts) {
					t.Errorf("step %d: offsets %v firsts %v, want %v %v", i, offsets, firsts, s.offsets, s.firsts)
				}
			}
		})
	}
}

func slicesEqual(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEncoderAllocs(t *testing.T) {
	e := NewEncoder(ptOpus, 2)
	buf := make([]byte, 0, 1500)
	frame := make([]byte, 80)
	ts := uint32(0)
	for range 4 {
		buf = e.Encode(buf[:0], ts, frame)
		ts += 960
	}
	if n := testing.AllocsPerRun(100, func() { buf = e.Encode(buf[:0], ts, frame); ts += 960 }); n != 0 {
		t.Errorf("Encode allocates %v times", n)
	}
}

func TestSetPT(t *testing.T) {
	in := cat(hdr(ptOpus, 1920, 1), hdr(ptOpus, 960, 1), []byte{ptOpus}, []byte{ptOpus, ptOpus, ptOpus})
	SetPT(in, 109)
	var p Payload
	if err := Parse(in, ptRED, 109, &p); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Primary, []byte{ptOpus}) || p.Redundant()[0].TSOffset != 1920 || p.Redundant()[1].Payload[0] != ptOpus {
		t.Errorf("SetPT changed more than the headers: % x", in)
	}
}

func TestPrimaryPT(t *testing.T) {
	tests := []struct {
		fmtp string
		pt   uint8
		ok   bool
	}{
		{"111/111", 111, true},
		{"111/111/111", 111, true},
		{"109", 109, true},
		{" 96/96", 96, true},
		{"", 0, false},
		{"apt=111", 0, false},
		{"128/128", 0, false},
		{"-1/1", 0, false},
	}
	for _, tt := range tests {
		pt, ok := PrimaryPT(tt.fmtp)
		if pt != tt.pt || ok != tt.ok {
			t.Errorf("PrimaryPT(%q) = %d, %v; want %d, %v", tt.fmtp, pt, ok, tt.pt, tt.ok)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte{ptOpus, 0xf8, 0xff, 0xfe})
	f.Add(cat(hdr(ptOpus, 1920, 1), hdr(ptOpus, 960, 2), []byte{ptOpus}, []byte{1, 2, 3, 4, 5}))
	f.Add(cat(hdr(ptOpus, 960, 3), []byte{ptOpus, 1, 2}))
	f.Add(cat(hdr(ptRED, 960, 0), []byte{ptOpus}))
	f.Add([]byte{0x80 | ptOpus})
	f.Fuzz(func(t *testing.T, in []byte) {
		var p Payload
		if err := Parse(in, ptRED, ptOpus, &p); err != nil {
			return
		}
		if p.PT != ptOpus || len(p.Redundant()) > MaxRedundant {
			t.Fatalf("accepted %d blocks, primary type %d", len(p.Redundant()), p.PT)
		}
		// What Parse accepts, Append writes back byte for byte.
		out, err := Append(nil, p.PT, p.Redundant(), p.Primary)
		if err != nil {
			t.Fatalf("Append of a parsed payload: %v", err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("round trip changed % x to % x", in, out)
		}
	})
}
