package turn

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseUsername(t *testing.T) {
	for _, tc := range []struct {
		in     string
		expiry int64
		user   string
		ok     bool
	}{
		{"1700000000:alice", 1700000000, "alice", true},
		{"1:a:b", 1, "a:b", true}, // the user id may hold colons
		{"0:x", 0, "x", true},
		{"9223372036854775807:x", 9223372036854775807, "x", true},
		{"9223372036854775808:x", 0, "", false}, // overflows
		{"alice", 0, "", false},
		{":alice", 0, "", false},
		{"1700000000:", 0, "", false},
		{"+1700000000:alice", 0, "", false},
		{"-1:alice", 0, "", false},
		{" 1:alice", 0, "", false},
		{"1e9:alice", 0, "", false},
		{"0x10:alice", 0, "", false},
		{"１:alice", 0, "", false}, // a full-width digit
		{"1:" + strings.Repeat("u", maxUserLen), 1, strings.Repeat("u", maxUserLen), true},
		{"1:" + strings.Repeat("u", maxUserLen+1), 0, "", false},
		{"", 0, "", false},
	} {
		expiry, user, err := parseUsername(tc.in)
		if (err == nil) != tc.ok || expiry != tc.expiry || user != tc.user {
			t.Errorf("parseUsername(%q) = %d, %q, %v; want %d, %q, ok %v", tc.in, expiry, user, err, tc.expiry, tc.user, tc.ok)
		}
	}
}

func TestCredentialsFormat(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := &Server{secret: []byte("secret"), now: func() time.Time { return now }}
	username, password := s.Credentials("alice", time.Hour)
	if username != "1700003600:alice" {
		t.Errorf("username %q", username)
	}
	// base64(HMAC-SHA1("secret", "1700003600:alice")), as coturn's
	// use-auth-secret computes it.
	if want := "LLPLO4qjdVL2qZhwr3eImhn7J20="; password != want {
		t.Errorf("password %q, want %q", password, want)
	}
}

func FuzzParseUsername(f *testing.F) {
	for _, s := range []string{"1700000000:alice", "1:a:b", "alice", "+1:x", "9223372036854775808:x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		expiry, user, err := parseUsername(s)
		if err != nil {
			return
		}
		if expiry < 0 || user == "" || len(user) > maxUserLen {
			t.Fatalf("parseUsername(%q) = %d, %q", s, expiry, user)
		}
		// Only what Credentials writes parses: decimal digits, a colon,
		// the user id.
		digits, rest, _ := strings.Cut(s, ":")
		if rest != user || strings.Trim(digits, "0123456789") != "" {
			t.Fatalf("parseUsername(%q) = %d, %q", s, expiry, user)
		}
		if n, err := strconv.ParseInt(digits, 10, 64); err != nil || n != expiry {
			t.Fatalf("parseUsername(%q) = %d, want %d", s, expiry, n)
		}
	})
}
