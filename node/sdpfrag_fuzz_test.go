package node

import (
	"strings"
	"testing"
)

// FuzzParseICEFragment feeds PATCH bodies of WHIP and WHEP sessions to the
// trickle-ice-sdpfrag parser: no input may panic, and what it accepts keeps
// its limits.
func FuzzParseICEFragment(f *testing.F) {
	f.Add("a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\na=" +
		hostCand + "\r\na=end-of-candidates\r\n")
	f.Add("a=ice-ufrag:abcd\nm=video 9 UDP/TLS/RTP/SAVPF 0\na=mid:1\na=" + hostCand2 + "\n")
	f.Add("m=audio 9 RTP/AVP 0\na=candidate:1 1 tcp 1 ::1 9 typ host tcptype passive\n")
	f.Add("a=candidate:x 1 udp 1 h.local 1 typ srflx raddr 0.0.0.0 rport 0\n")
	f.Fuzz(func(t *testing.T, body string) {
		frag, err := parseICEFragment(body)
		if err != nil {
			return
		}
		if len(frag.candidates) > maxFragCandidates {
			t.Fatalf("%d candidates accepted", len(frag.candidates))
		}
		for _, c := range frag.candidates {
			if !strings.HasPrefix(c.value, "candidate:") || len(c.value) > maxFragLine || c.mline < 0 {
				t.Fatalf("accepted candidate %+v", c)
			}
		}
		if frag.ufrag != "" && len(frag.ufrag) < 4 || frag.pwd != "" && len(frag.pwd) < 22 {
			t.Fatalf("accepted credentials %q %q", frag.ufrag, frag.pwd)
		}
	})
}
