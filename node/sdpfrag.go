package node

// The body of a WHIP or WHEP PATCH: an SDP fragment carrying trickled ICE
// candidates (RFC 8840, application/trickle-ice-sdpfrag).

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/pion/ice/v4"
)

// Limits on a trickle-ice-sdpfrag body; real clients send a few lines.
const (
	maxFragSize       = 16 << 10
	maxFragLine       = 1024
	maxFragLines      = 256
	maxFragCandidates = 64
)

// iceFragment is what a trickle-ice-sdpfrag body says.
type iceFragment struct {
	// ufrag and pwd are the client's ICE credentials, "" when not given;
	// new ones mean an ICE restart.
	ufrag, pwd string
	candidates []fragCandidate
	// end is set when the client said it has no more candidates.
	end bool
}

// fragCandidate is one candidate and the media section it came in.
type fragCandidate struct {
	mid   string // "" when the section named none
	mline int    // index of its m= section in the fragment, from 0
	value string // "candidate:…", as an ICECandidateInit carries it
}

// parseICEFragment reads a trickle-ice-sdpfrag body. It accepts what RFC
// 8840 puts in one (ice-ufrag, ice-pwd, ice-options, m=, mid, candidate,
// end-of-candidates, group) and ignores other attributes; every candidate
// must parse as an ICE candidate. The error says what is wrong, for the
// client.
func parseICEFragment(body string) (iceFragment, error) {
	var f iceFragment
	if len(body) > maxFragSize {
		return f, fmt.Errorf("fragment larger than %d bytes", maxFragSize)
	}
	if !utf8.ValidString(body) {
		return f, errors.New("fragment is not UTF-8")
	}
	lines := strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n")
	if len(lines) > maxFragLines {
		return f, fmt.Errorf("fragment has more than %d lines", maxFragLines)
	}
	mline, mid := -1, ""
	for i, line := range lines {
		n := i + 1
		if line == "" {
			continue
		}
		if len(line) > maxFragLine {
			return f, fmt.Errorf("line %d: longer than %d bytes", n, maxFragLine)
		}
		if len(line) < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z' {
			return f, fmt.Errorf("line %d: not an SDP line (x=value)", n)
		}
		for _, r := range line {
			if r < 0x20 || r == 0x7f {
				return f, fmt.Errorf("line %d: control character", n)
			}
		}
		kind, value := line[0], line[2:]
		switch kind {
		case 'm':
			if !strings.HasPrefix(value, "audio ") && !strings.HasPrefix(value, "video ") &&
				!strings.HasPrefix(value, "application ") {
				return f, fmt.Errorf("line %d: media section of an unknown kind", n)
			}
			mline, mid = mline+1, ""
			continue
		case 'a':
		default:
			continue // other lines say nothing about ICE
		}
		name, arg, _ := strings.Cut(value, ":")
		var err error
		switch name {
		case "ice-ufrag":
			err = setCredential(&f.ufrag, arg, 4, "ice-ufrag")
		case "ice-pwd":
			err = setCredential(&f.pwd, arg, 22, "ice-pwd")
		case "mid":
			if mline < 0 {
				err = errors.New("mid outside a media section")
			} else if arg == "" || len(arg) > 32 {
				err = errors.New("mid: empty or longer than 32 bytes")
			}
			mid = arg
		case "candidate":
			if len(f.candidates) == maxFragCandidates {
				err = fmt.Errorf("more than %d candidates", maxFragCandidates)
				break
			}
			if _, perr := ice.UnmarshalCandidate(value); perr != nil {
				err = fmt.Errorf("candidate: %w", perr)
				break
			}
			f.candidates = append(f.candidates, fragCandidate{mid: mid, mline: max(mline, 0), value: value})
		case "end-of-candidates":
			f.end = true
		}
		if err != nil {
			return f, fmt.Errorf("line %d: %w", n, err)
		}
	}
	return f, nil
}

// setCredential records an ICE ufrag or password, which must be ice-chars
// (RFC 8839) and the same wherever the fragment repeats it.
func setCredential(dst *string, v string, minLen int, name string) error {
	if len(v) < minLen || len(v) > 256 {
		return fmt.Errorf("%s: %d characters, want %d to 256", name, len(v), minLen)
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '+' || r == '/') {
			return fmt.Errorf("%s: %q is not an ice-char", name, r)
		}
	}
	if *dst != "" && *dst != v {
		return fmt.Errorf("%s: two different values", name)
	}
	*dst = v
	return nil
}
