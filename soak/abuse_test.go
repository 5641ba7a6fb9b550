package soak

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/switchyard/switchyard/node/signal"
)

func TestJudgeAnswer(t *testing.T) {
	codes := abuseCase{codes: []string{"bad-message", "bad-message"}}
	closing := abuseCase{closed: true}
	flood := abuseCase{anyErrors: true, closed: true}
	tests := []struct {
		name   string
		ac     abuseCase
		got    []string
		closed bool
		ok     bool
		why    string
	}{
		{"codes in order", codes, []string{"bad-message", "bad-message"}, false, true, ""},
		{"a code missing", codes, []string{"bad-message"}, false, false, "error codes [bad-message], want [bad-message bad-message]"},
		{"another code", codes, []string{"bad-message", "internal"}, false, false, "want [bad-message bad-message]"},
		{"closed as it must", closing, nil, true, true, ""},
		{"left open", closing, nil, false, false, "still open"},
		{"flood answered and closed", flood, []string{"rate-limited"}, true, true, ""},
		{"flood without an error", flood, nil, true, false, "no error at all"},
		{"flood left open", flood, []string{"bad-message"}, false, false, "still open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, why := judgeAnswer(tt.ac, tt.got, tt.closed)
			if ok != tt.ok || !strings.Contains(why, tt.why) {
				t.Errorf("judgeAnswer = %v, %q; want %v, %q", ok, why, tt.ok, tt.why)
			}
		})
	}
}

// TestAbuseCases: every case expects an answer for each frame (or a close),
// and what it sends is bad by the node's own decoder where it must be.
func TestAbuseCases(t *testing.T) {
	junk := func(n int) []byte { return []byte(strings.Repeat("\xff", n)) }
	cases := abuseCases(junk)
	kinds := map[string]bool{}
	for _, ac := range cases {
		kinds[ac.kind] = true
		if len(ac.frames) == 0 {
			t.Errorf("%s sends nothing", ac.kind)
		}
		if !ac.anyErrors && !ac.closed && len(ac.codes) != len(ac.frames) {
			t.Errorf("%s: %d frames, %d codes", ac.kind, len(ac.frames), len(ac.codes))
		}
		if ac.join {
			continue // those frames are bad only after a join
		}
		for i, f := range ac.frames {
			if f.binary || len(ac.codes) <= i {
				continue
			}
			_, err := signal.Decode(f.data)
			switch code := ac.codes[i]; code {
			case signal.CodeBadMessage:
				if err == nil && utf8.Valid(f.data) {
					t.Errorf("%s frame %d (%.40q) decodes fine, want it refused", ac.kind, i, f.data)
				}
			case signal.CodeTooLarge:
				if err != signal.ErrTooLarge {
					t.Errorf("%s frame %d: %v, want too large", ac.kind, i, err)
				}
			case signal.CodeNotJoined:
				if err != nil {
					t.Errorf("%s frame %d must be valid but out of protocol: %v", ac.kind, i, err)
				}
			}
		}
	}
	for _, k := range abuseOrder[:10] {
		if !kinds[k] {
			t.Errorf("no case of %s", k)
		}
	}
}
