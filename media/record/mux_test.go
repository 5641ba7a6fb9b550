package record

import (
	"bytes"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/at-wat/ebml-go/mkvcore"
)

// Block timecodes never repeat nor go back: each is at least 1 ms after the
// one before, as players and ffmpeg require of a track.
func TestMuxerTimecodes(t *testing.T) {
	tests := []struct {
		name    string
		in, out []int64
	}{
		{"increasing", []int64{0, 33, 66, 100}, []int64{0, 33, 66, 100}},
		{"repeated", []int64{0, 33, 33, 66}, []int64{0, 33, 34, 66}},
		{"backwards", []int64{0, 33, 20, 21, 66}, []int64{0, 33, 34, 35, 66}},
		{"gap over a cluster's reach", []int64{0, 40000, 40033}, []int64{0, 40000, 40033}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mf := &memFile{}
			m, err := openMuxer(&stickyFile{f: mf}, vp8Entry(64, 48), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			for i, ms := range tc.in {
				if err := m.write(i == 0, ms, []byte{byte(i), 1, 2, 3}); err != nil {
					t.Fatal(err)
				}
			}
			if err := m.close(); err != nil {
				t.Fatal(err)
			}
			rs, err := mkvcore.NewSimpleBlockReader(bytes.NewReader(mf.b))
			if err != nil || len(rs) != 1 {
				t.Fatalf("read back: %v (%d tracks)", err, len(rs))
			}
			var got []int64
			for {
				b, _, ts, err := rs[0].Read()
				if err != nil {
					break
				}
				if int(b[0]) != len(got) {
					t.Fatalf("block %d holds frame %d", len(got), b[0])
				}
				got = append(got, ts)
			}
			if !slices.Equal(got, tc.out) {
				t.Errorf("timecodes %v, want %v", got, tc.out)
			}
		})
	}
}

func TestOpusHead(t *testing.T) {
	// RFC 7845 section 5.1: magic, version 1, channels, pre-skip 0,
	// 48000 Hz, gain 0, mapping family 0 (all little endian).
	for ch, want := range map[int]string{1: "4f707573486561640101000080bb0000000000", 2: "4f707573486561640102000080bb0000000000"} {
		if got := hex.EncodeToString(opusHead(ch)); got != want {
			t.Errorf("%d channels: %s, want %s", ch, got, want)
		}
	}
}
