package signal

import (
	"errors"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name, in string
		wantErr  string // substring; "" = valid
	}{
		{"join", `{"type":"join","room":"demo","name":"ann","region":"eu"}`, ""},
		{"join without region", `{"type":"join","room":"demo","name":"ann"}`, ""},
		{"join bad room", `{"type":"join","room":"../etc","name":"ann"}`, "room"},
		{"join empty name", `{"type":"join","room":"demo","name":""}`, "name: required"},
		{"join control chars", `{"type":"join","room":"demo","name":"a\u001b[2J"}`, "control"},
		{"join long name", `{"type":"join","room":"demo","name":"` + strings.Repeat("x", 65) + `"}`, "longer"},
		{"offer", `{"type":"offer","sdp":"v=0"}`, ""},
		{"offer empty", `{"type":"offer"}`, "sdp is empty"},
		{"candidate end", `{"type":"candidate"}`, ""},
		{"constraints", `{"type":"constraints","tiles":{"p1":360}}`, ""},
		{"constraints negative", `{"type":"constraints","tiles":{"p1":-1}}`, "out of range"},
		{"message", `{"type":"message","to":"p1","payload":{"kind":"chat","text":"hi"}}`, ""},
		{"message no payload", `{"type":"message"}`, "payload is empty"},
		{"leave", `{"type":"leave"}`, ""},
		{"unknown type", `{"type":"hack"}`, "unknown message type"},
		{"missing type", `{}`, "missing type"},
		{"unknown field", `{"type":"leave","x":1}`, "malformed"},
		{"not json", `hello`, "malformed"},
		{"trailing", `{"type":"leave"} {}`, "trailing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.in))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	if _, err := Decode(make([]byte, MaxMessageSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized: %v, want ErrTooLarge", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"join","room":"demo","name":"ann"}`,
		`{"type":"offer","sdp":"v=0\r\n"}`,
		`{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0"}}`,
		`{"type":"constraints","tiles":{"a":1}}`,
		`{"type":"message","payload":[1,2]}`,
		`{"type":`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err == nil && m.Type == "" {
			t.Fatalf("accepted a message without a type: %q", data)
		}
	})
}
