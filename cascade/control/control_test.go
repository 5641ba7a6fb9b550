package control

import (
	"strings"
	"testing"

	"github.com/switchyard/switchyard/media"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name, in, err string
	}{
		{"state", `{"t":"state","participants":[{"id":"us-p1","name":"ann","region":"us","rtt_ms":12,"tracks":[{"kind":"video","mime":"video/VP8","clock":90000,"layers":[{"i":0,"active":true,"bitrate":150000,"w":320,"h":180}]},{"kind":"audio","mime":"audio/opus","clock":48000,"channels":2,"audio_level_ext":1}]}],"wants":[{"publisher":"eu-p2","kind":"video","layers":5}]}`, ""},
		{"empty state", `{"t":"state"}`, ""},
		{"keyframe", `{"t":"keyframe","publisher":"us-p1","kind":"video","layer":2}`, ""},
		{"endpoint", `{"t":"endpoint","from":"us-p1","payload":{"kind":"chat"}}`, ""},
		{"unknown type", `{"t":"nope"}`, "unknown type"},
		{"no type", `{}`, "missing type"},
		{"unknown field", `{"t":"state","x":1}`, "unknown field"},
		{"trailing", `{"t":"state"} {}`, "trailing"},
		{"not json", `hello`, "malformed"},
		{"duplicate participant", `{"t":"state","participants":[{"id":"a","name":"","region":""},{"id":"a","name":"","region":""}]}`, "twice"},
		{"empty id", `{"t":"state","participants":[{"id":"","name":"","region":""}]}`, "empty"},
		{"id with space", `{"t":"state","participants":[{"id":"a b","name":"","region":""}]}`, "printable"},
		{"negative rtt", `{"t":"state","participants":[{"id":"a","name":"","region":"","rtt_ms":-1}]}`, "rtt"},
		{"kind mismatch", `{"t":"state","participants":[{"id":"a","name":"","region":"","tracks":[{"kind":"audio","mime":"video/VP8","clock":90000}]}]}`, "does not fit"},
		{"two videos", `{"t":"state","participants":[{"id":"a","name":"","region":"","tracks":[{"kind":"video","mime":"video/VP8","clock":90000},{"kind":"video","mime":"video/VP8","clock":90000}]}]}`, "two camera"},
		{"camera and screen", `{"t":"state","participants":[{"id":"a","name":"","region":"","tracks":[{"kind":"video","mime":"video/VP8","clock":90000},{"kind":"video","source":"screen","mime":"video/VP8","clock":90000}]}]}`, ""},
		{"audio as screen", `{"t":"state","participants":[{"id":"a","name":"","region":"","tracks":[{"kind":"audio","source":"screen","mime":"audio/opus","clock":48000}]}]}`, "cannot carry"},
		{"unknown source", `{"t":"state","participants":[{"id":"a","name":"","region":"","tracks":[{"kind":"video","source":"window","mime":"video/VP8","clock":90000}]}]}`, "source"},
		{"zero clock", `{"t":"state","participants":[{"id":"a","name":"","region":"","tracks":[{"kind":"video","mime":"video/VP8","clock":0}]}]}`, "clock"},
		{"layer index", `{"t":"state","participants":[{"id":"a","name":"","region":"","tracks":[{"kind":"video","mime":"video/VP8","clock":90000,"layers":[{"i":3,"active":true,"bitrate":1}]}]}]}`, "out of range"},
		{"want mask", `{"t":"state","wants":[{"publisher":"a","kind":"video","layers":8}]}`, "layers"},
		{"keyframe layer", `{"t":"keyframe","publisher":"a","kind":"video","layer":3}`, "out of range"},
		{"keyframe kind", `{"t":"keyframe","publisher":"a","kind":"data","layer":0}`, "neither"},
		{"endpoint bad payload", `{"t":"endpoint","from":"a","payload":""}`, "payload"},
		{"control chars", `{"t":"state","participants":[{"id":"a","name":"a\u0001","region":""}]}`, "control"},
		{"too large", `{"t":"state","dominant":"` + strings.Repeat("a", MaxSize) + `"}`, "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.in))
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.err != "" && err == nil:
				t.Fatalf("accepted, want error containing %q", tt.err)
			case tt.err != "" && !strings.Contains(err.Error(), tt.err):
				t.Fatalf("error %q, want it to contain %q", err, tt.err)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	m := Message{Type: TypeState, Dominant: "us-p1", Participants: []Participant{{ID: "us-p1", Name: "Zoë", Region: "us",
		Measured: map[string]float64{"eu-p2": 88}, Tracks: []Track{{Kind: media.KindAudio, MimeType: "audio/opus", ClockRate: 48000, AudioLevel: 1}}}},
		Wants: []Want{{Publisher: "eu-p2", Kind: media.KindVideo, Layers: 3}}}
	b, err := Encode(&m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Participants[0].Name != "Zoë" || got.Wants[0].Layers != 3 || got.Participants[0].Measured["eu-p2"] != 88 {
		t.Fatalf("round trip changed the message: %+v", got)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"t":"state","participants":[{"id":"us-p1","name":"ann","region":"us","tracks":[{"kind":"video","mime":"video/VP8","clock":90000,"layers":[{"i":1,"active":true,"bitrate":5}]}]}],"wants":[{"publisher":"x","kind":"audio","layers":1}]}`))
	f.Add([]byte(`{"t":"keyframe","publisher":"us-p1","kind":"video","layer":2}`))
	f.Add([]byte(`{"t":"endpoint","from":"a","to":"b","payload":{"kind":"ping","seq":1}}`))
	f.Add([]byte(`{"t":`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		// Whatever is accepted must re-encode and decode to an accepted message.
		out, err := Encode(&m)
		if err != nil {
			return // re-encoding may grow past MaxSize (escapes)
		}
		if _, err := Decode(out); err != nil {
			t.Fatalf("accepted %q but not its re-encoding %q: %v", b, out, err)
		}
	})
}
