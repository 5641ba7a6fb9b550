package signal

import (
	"strings"
	"testing"
)

const minimalOffer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n"

func TestCheckSDP(t *testing.T) {
	many := "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
		strings.Repeat("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", MaxMediaSections+1)
	cases := []struct {
		name, sdp string
		ok        bool
	}{
		{"minimal offer", minimalOffer, true},
		{"empty", "", false},
		{"garbage", "hello", false},
		{"no media", "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", false},
		{"too many media sections", many, false},
	}
	for _, c := range cases {
		if err := CheckSDP(c.sdp); (err == nil) != c.ok {
			t.Errorf("%s: CheckSDP = %v, want ok %v", c.name, err, c.ok)
		}
	}
}

func FuzzCheckSDP(f *testing.F) {
	f.Add(minimalOffer)
	f.Add("v=0\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		_ = CheckSDP(s) // must not panic, whatever arrives
	})
}
