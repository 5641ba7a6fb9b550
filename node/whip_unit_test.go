package node

import (
	"maps"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/media"
)

const (
	hostCand  = "candidate:1 1 udp 2122260223 127.0.0.1 61764 typ host"
	hostCand2 = "candidate:2 1 udp 2122194687 127.0.0.1 61765 typ host generation 0"
)

func TestParseICEFragment(t *testing.T) {
	tests := []struct {
		name string
		body string
		want iceFragment
		err  string // substring of the error; "" = no error
	}{
		{
			name: "RFC 8840 example shape, CRLF",
			body: "a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\na=" +
				hostCand + "\r\na=" + hostCand2 + "\r\na=end-of-candidates\r\n",
			want: iceFragment{ufrag: "EsAw", pwd: "P2uYro0UCOQ4zxjKXaWCBui1", end: true,
				candidates: []fragCandidate{{mid: "0", value: hostCand}, {mid: "0", value: hostCand2}}},
		},
		{
			name: "as whip.js sends it: LF, two sections, other lines ignored",
			body: "a=ice-ufrag:abcd\nm=audio 9 UDP/TLS/RTP/SAVPF 0\na=mid:0\na=" + hostCand +
				"\nc=IN IP4 0.0.0.0\na=ice-options:trickle\nm=video 9 UDP/TLS/RTP/SAVPF 0\na=mid:1\na=" + hostCand2 + "\n",
			want: iceFragment{ufrag: "abcd",
				candidates: []fragCandidate{{mid: "0", value: hostCand}, {mid: "1", mline: 1, value: hostCand2}}},
		},
		{name: "empty", body: "", want: iceFragment{}},
		{name: "end of candidates only", body: "a=end-of-candidates\r\n", want: iceFragment{end: true}},
		{name: "candidate before any m= line", body: "a=" + hostCand,
			want: iceFragment{candidates: []fragCandidate{{value: hostCand}}}},
		{name: "not SDP", body: "hello world", err: "not an SDP line"},
		{name: "upper-case type", body: "A=ice-ufrag:abcd", err: "not an SDP line"},
		{name: "control character", body: "a=ice-ufrag:ab\x00cd", err: "control character"},
		{name: "not UTF-8", body: "a=ice-ufrag:ab\xffcd", err: "UTF-8"},
		{name: "bad candidate", body: "m=audio 9 RTP/AVP 0\na=candidate:1 1 udp notanumber 127.0.0.1 1 typ host", err: "line 2: candidate"},
		{name: "short ufrag", body: "a=ice-ufrag:abc", err: "ice-ufrag"},
		{name: "ufrag not ice-chars", body: "a=ice-ufrag:ab cd", err: "ice-char"},
		{name: "two ufrags", body: "a=ice-ufrag:abcd\nm=audio 9 RTP/AVP 0\na=ice-ufrag:wxyz", err: "two different values"},
		{name: "short pwd", body: "a=ice-pwd:tooshort", err: "ice-pwd"},
		{name: "mid outside a section", body: "a=mid:0", err: "mid outside"},
		{name: "unknown media", body: "m=text 9 RTP/AVP 0", err: "unknown kind"},
		{name: "long line", body: "a=x:" + strings.Repeat("y", maxFragLine), err: "longer than"},
		{name: "too many lines", body: strings.Repeat("a=end-of-candidates\n", maxFragLines+1), err: "more than"},
		{name: "too many candidates", body: "m=audio 9 RTP/AVP 0\n" + strings.Repeat("a="+hostCand+"\n", maxFragCandidates+1),
			err: "more than 64 candidates"},
		{name: "too large", body: strings.Repeat("a", maxFragSize+1), err: "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseICEFragment(tc.body)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ufrag != tc.want.ufrag || got.pwd != tc.want.pwd || got.end != tc.want.end ||
				len(got.candidates) != len(tc.want.candidates) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got.candidates {
				if got.candidates[i] != tc.want.candidates[i] {
					t.Errorf("candidate %d: %+v, want %+v", i, got.candidates[i], tc.want.candidates[i])
				}
			}
		})
	}
}

func TestNumberedLayers(t *testing.T) {
	tests := []struct {
		simulcast string
		want      map[string]int
	}{
		{"send 0;1;2", map[string]int{"0": 2, "1": 1, "2": 0}},            // OBS, three layers
		{"send 0;1", map[string]int{"0": 1, "1": 0}},                      // two
		{"send 0;1;2;3", map[string]int{"0": 2, "1": 1, "2": 0, "3": -1}}, // four: the smallest is dropped
		{"send 2;0;1", map[string]int{"0": 2, "1": 1, "2": 0}},            // by number, not by order
		{"send 0,~1;2", map[string]int{"0": 2, "1": 1, "2": 0}},           // alternatives and paused
		{"recv 5 send 0;1", map[string]int{"0": 1, "1": 0}},               // the send list
		{"send 0", map[string]int{"0": 0}},                                // one
		{"send q;h;f", nil},                                               // named: LayerIndex's
		{"send 0;h", nil},                                                 // mixed
		{"send 01;1", nil},                                                // not a plain number
		{"send -1;0", nil},                                                // negative
		{"recv 0;1", nil},                                                 // nothing sent
		{"send", nil},                                                     // empty
		{"send " + strings.Repeat("1;", 20) + "1", nil},                   // absurd
	}
	for _, tc := range tests {
		if got := numberedLayers(tc.simulcast); !maps.Equal(got, tc.want) {
			t.Errorf("numberedLayers(%q) = %v, want %v", tc.simulcast, got, tc.want)
		}
	}
	e := &httpEndpoint{layers: numberedLayers("send 0;1;2;3")}
	if e.layerOf("0") != 2 || e.layerOf("3") != -1 || e.layerOf("q") != -1 || e.layerOf("") != 0 {
		t.Errorf("layerOf with numbered RIDs: 0→%d 3→%d q→%d", e.layerOf("0"), e.layerOf("3"), e.layerOf("q"))
	}
	if e := (&httpEndpoint{}); e.layerOf("f") != 2 || e.layerOf("") != 0 {
		t.Errorf("layerOf without a map does not follow media.LayerIndex")
	}
}

func TestInspectOffer(t *testing.T) {
	const head = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\n"
	audio := func(dir string) string { return "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=" + dir + "\r\n" }
	video := func(dir string) string { return "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=" + dir + "\r\n" }
	tests := []struct {
		name     string
		sdp      string
		sends    bool
		receives []media.Kind
		layers   map[string]int
		err      bool
	}{
		{name: "WHIP", sdp: head + audio("sendonly") + video("sendonly"), sends: true},
		{name: "WHIP with OBS simulcast", sdp: head + audio("sendonly") + video("sendonly") +
			"a=rid:0 send\r\na=rid:1 send\r\na=simulcast:send 0;1\r\n", sends: true, layers: map[string]int{"0": 1, "1": 0}},
		{name: "WHEP", sdp: head + audio("recvonly") + video("recvonly"), receives: []media.Kind{media.KindAudio, media.KindVideo}},
		{name: "WHEP as whep.js's example, sendrecv", sdp: head + audio("sendrecv") + video("sendrecv"),
			sends: true, receives: []media.Kind{media.KindAudio, media.KindVideo}},
		{name: "inactive", sdp: head + audio("inactive")},
		{name: "video only", sdp: head + video("recvonly"), receives: []media.Kind{media.KindVideo}},
		{name: "no ICE credentials", sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" + audio("sendonly"), err: true},
		{name: "credentials in the m-line", sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" + audio("sendonly") +
			"a=ice-ufrag:wxyz\r\na=ice-pwd:0123456789012345678901\r\n", sends: true},
		{name: "garbage", sdp: "nonsense", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info, err := inspectOffer(tc.sdp)
			if tc.err {
				if err == nil {
					t.Fatalf("no error; got %+v", info)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := map[media.Kind]bool{}
			for _, k := range tc.receives {
				want[k] = true
			}
			if info.sends != tc.sends || !maps.Equal(info.receives, want) || !maps.Equal(info.ridLayers, tc.layers) {
				t.Errorf("got sends %v receives %v layers %v; want %v %v %v", info.sends, info.receives, info.ridLayers,
					tc.sends, want, tc.layers)
			}
			if info.ufrag == "" || info.pwd == "" {
				t.Errorf("credentials not read: %q %q", info.ufrag, info.pwd)
			}
		})
	}
}

func TestPickSource(t *testing.T) {
	a, b, c := &media.UpTrack{}, &media.UpTrack{}, &media.UpTrack{}
	on := func(member string, up *media.UpTrack) publication { return publication{member: member, up: up} }
	off := func(member string, up *media.UpTrack) publication {
		return publication{member: member, up: up, off: true}
	}
	tests := []struct {
		name      string
		pubs      []publication
		preferred string
		only      bool
		current   *media.UpTrack
		refused   []*media.UpTrack
		want      *media.UpTrack
	}{
		{name: "the dominant speaker's", pubs: []publication{on("a", a), on("b", b)}, preferred: "b", current: a, want: b},
		{name: "no speaker yet: the first", pubs: []publication{on("a", a), on("b", b)}, want: a},
		{name: "no speaker yet: keep the current", pubs: []publication{on("a", a), on("b", b)}, current: b, want: b},
		{name: "speaker publishes none of it: keep the current", pubs: []publication{on("a", a), on("b", b)}, preferred: "c", current: b, want: b},
		{name: "speaker's camera off: keep the current", pubs: []publication{on("a", a), off("b", b)}, preferred: "b", current: a, want: a},
		{name: "speaker's camera off, current gone: the first on", pubs: []publication{off("b", b), on("c", c)}, preferred: "b", current: a, want: c},
		{name: "everyone off: the speaker's", pubs: []publication{off("a", a), off("b", b)}, preferred: "b", current: a, want: b},
		{name: "current off, another on", pubs: []publication{off("a", a), on("c", c)}, current: a, want: c},
		{name: "nobody publishes", pubs: nil, preferred: "b", current: a, want: nil},
		{name: "refused speaker: keep the current", pubs: []publication{on("a", a), on("b", b)}, preferred: "b", current: a, refused: []*media.UpTrack{b}, want: a},
		{name: "refused current: the next", pubs: []publication{on("a", a), on("b", b)}, current: a, refused: []*media.UpTrack{a}, want: b},
		{name: "one participant: its track", pubs: []publication{on("a", a), on("b", b)}, preferred: "b", only: true, current: a, want: b},
		{name: "one participant, off: still its track", pubs: []publication{on("a", a), off("b", b)}, preferred: "b", only: true, want: b},
		{name: "one participant without it: none", pubs: []publication{on("a", a)}, preferred: "b", only: true, current: a, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			refused := map[*media.UpTrack]bool{}
			for _, up := range tc.refused {
				refused[up] = true
			}
			if got := pickSource(tc.pubs, tc.preferred, tc.only, tc.current, refused); got != tc.want {
				names := map[*media.UpTrack]string{a: "a", b: "b", c: "c", nil: "none"}
				t.Errorf("picked %s, want %s", names[got], names[tc.want])
			}
		})
	}
}

func TestEtagMatches(t *testing.T) {
	tests := []struct {
		ifMatch string
		want    bool
	}{
		{`"abc"`, true}, {`W/"abc"`, true}, {`"x", "abc"`, true}, {`"abcd"`, false}, {`abc`, false}, {``, false},
	}
	for _, tc := range tests {
		if got := etagMatches(tc.ifMatch, `"abc"`); got != tc.want {
			t.Errorf("etagMatches(%q) = %v", tc.ifMatch, got)
		}
	}
}
