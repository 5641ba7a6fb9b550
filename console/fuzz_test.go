package console

import (
	"crypto/ed25519"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	gossh "golang.org/x/crypto/ssh"
)

// Text from clients goes through clean and fit before it is drawn: whatever
// it is, the result has no control characters and exactly the asked width.
func FuzzCleanFit(f *testing.F) {
	for _, s := range []string{"alice", "", "\x1b[2J", "名前テスト", "a\u009bb", "\xff\xfe", "e\u0301", "🎥🎥🎥"} {
		f.Add(s, 8)
	}
	f.Fuzz(func(t *testing.T, s string, w int) {
		w = w%200 + 1
		if w < 1 {
			w = -w + 1
		}
		got := fit(clean(s), w, false)
		if strings.ContainsFunc(got, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }) {
			t.Fatalf("control character in %q", got)
		}
		if gw := ansi.StringWidth(got); gw > w {
			t.Fatalf("fit(%q, %d) is %d wide", s, w, gw)
		}
	})
}

func FuzzParseAuthorizedKeys(f *testing.F) {
	pub, _, _ := ed25519.GenerateKey(nil)
	k, _ := gossh.NewPublicKey(pub)
	line := string(gossh.MarshalAuthorizedKey(k))
	f.Add(line)
	f.Add("# comment\n\n" + line + "garbage\n")
	f.Add(`command="x",no-pty ` + line)
	f.Add("ssh-ed25519 AAAA\n")
	f.Fuzz(func(t *testing.T, data string) {
		keys, err := parseAuthorizedKeys([]byte(data))
		if err != nil {
			return
		}
		for _, k := range keys {
			if k == nil {
				t.Fatal("nil key")
			}
		}
	})
}
