package codec

import "testing"

func TestH264Keyframe(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		want    bool
	}{
		{"empty", nil, false},
		{"IDR single NAL", []byte{0x65, 0x88, 0x84}, true},
		{"SPS single NAL", []byte{0x67, 0x42, 0xc0, 0x1f}, true},
		{"PPS single NAL", []byte{0x68, 0xce}, false},
		{"non-IDR slice", []byte{0x41, 0x9a}, false},
		{"STAP-A with SPS, PPS", []byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}, true},
		{"STAP-A with PPS then IDR", []byte{0x78, 0x00, 0x02, 0x68, 0xce, 0x00, 0x02, 0x65, 0x88}, true},
		{"STAP-A with non-IDR only", []byte{0x78, 0x00, 0x02, 0x41, 0x9a, 0x00, 0x01, 0x06}, false},
		{"STAP-A truncated size", []byte{0x78, 0x00}, false},
		{"STAP-A size beyond payload", []byte{0x78, 0x00, 0x09, 0x65}, false},
		{"STAP-A zero size", []byte{0x78, 0x00, 0x00, 0x65}, false},
		{"FU-A start of IDR", []byte{0x7c, 0x85, 0x88}, true},
		{"FU-A middle of IDR", []byte{0x7c, 0x05, 0x88}, false},
		{"FU-A end of IDR", []byte{0x7c, 0x45, 0x88}, false},
		{"FU-A start of non-IDR", []byte{0x7c, 0x81, 0x9a}, false},
		{"FU-A without header", []byte{0x7c}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := H264Keyframe(tt.payload); got != tt.want {
				t.Errorf("H264Keyframe(% x) = %v, want %v", tt.payload, got, tt.want)
			}
		})
	}
}

func FuzzH264Keyframe(f *testing.F) {
	f.Add([]byte{0x65, 0x88})
	f.Add([]byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce})
	f.Add([]byte{0x7c, 0x85})
	f.Add([]byte{0x78, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, payload []byte) {
		got := H264Keyframe(payload)
		// A keyframe always needs a NAL type byte naming IDR or SPS somewhere.
		if got && len(payload) == 0 {
			t.Fatal("keyframe in empty payload")
		}
		// Appending bytes to a single NAL unit cannot change its type.
		if len(payload) > 0 {
			if t0 := payload[0] & 0x1f; t0 >= 1 && t0 <= 23 {
				if want := t0 == 5 || t0 == 7; got != want {
					t.Fatalf("single NAL type %d: got %v", t0, got)
				}
			}
		}
	})
}
