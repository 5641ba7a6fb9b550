package console

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	gossh "golang.org/x/crypto/ssh"

	"github.com/switchyard/switchyard/internal/syncbuf"
)

func newClientKey(t *testing.T) gossh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type sshServer struct {
	addr    string
	cancel  context.CancelFunc
	done    chan error
	log     *syncbuf.Buffer
	act     *fakeActions
	hostKey gossh.PublicKey // filled by the first successful dial
}

func startSSH(t *testing.T, cfg SSHConfig, act *fakeActions, logBuf *syncbuf.Buffer) *sshServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listener = ln
	ctx, cancel := context.WithCancel(context.Background())
	s := &sshServer{addr: ln.Addr().String(), cancel: cancel, done: make(chan error, 1), log: logBuf, act: act}
	src := &fakeSource{snap: fixtureAt(0)}
	opts := Options{Logger: slog.New(slog.NewTextHandler(logBuf, nil)), Logs: fixedLogs()}
	go func() { s.done <- ServeSSH(ctx, cfg, src, act, opts) }()
	return s
}

func (s *sshServer) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	if err := <-s.done; err != nil {
		t.Fatalf("ServeSSH returned %v", err)
	}
}

func (s *sshServer) dial(auth ...gossh.AuthMethod) (*gossh.Client, gossh.PublicKey, error) {
	var hostKey gossh.PublicKey
	c, err := gossh.Dial("tcp", s.addr, &gossh.ClientConfig{
		User: "operator",
		Auth: auth,
		HostKeyCallback: func(_ string, _ net.Addr, k gossh.PublicKey) error {
			hostKey = k
			return nil
		},
	})
	return c, hostKey, err
}

// viewer is one SSH console session as the test client sees it.
type viewer struct {
	t    *testing.T
	sess *gossh.Session
	in   io.WriteCloser
	out  io.Reader
	seen bytes.Buffer
}

func openViewer(t *testing.T, c *gossh.Client, env map[string]string) *viewer {
	t.Helper()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range env {
		if err := sess.Setenv(k, v); err != nil {
			t.Fatalf("setenv %s: %v", k, err)
		}
	}
	if err := sess.RequestPty("xterm-256color", 40, 120, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	in, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	return &viewer{t: t, sess: sess, in: in, out: out}
}

// waitFor reads the session until its text (escape codes removed) contains
// want. It blocks on the read, not on a clock; the test's own timeout bounds
// it.
func (v *viewer) waitFor(want string) {
	v.t.Helper()
	buf := make([]byte, 4096)
	for !strings.Contains(ansi.Strip(v.seen.String()), want) {
		n, err := v.out.Read(buf)
		v.seen.Write(buf[:n])
		if err != nil {
			v.t.Fatalf("session ended (%v) before %q appeared; got:\n%s", err, want, ansi.Strip(v.seen.String()))
		}
	}
}

func (v *viewer) keys(ks ...string) {
	v.t.Helper()
	for _, k := range ks {
		if _, err := io.WriteString(v.in, k); err != nil {
			v.t.Fatal(err)
		}
	}
}

func TestSSH(t *testing.T) {
	dir := t.TempDir()
	keyA, keyB, stranger := newClientKey(t), newClientKey(t), newClientKey(t)
	authorized := "# operators\n" + string(gossh.MarshalAuthorizedKey(keyA.PublicKey())) +
		"not a key at all\n" + string(gossh.MarshalAuthorizedKey(keyB.PublicKey()))
	authPath := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authPath, []byte(authorized), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := SSHConfig{HostKeyPath: filepath.Join(dir, "state", "ssh_host_ed25519"), AuthorizedKeysPath: authPath}
	logBuf, act := &syncbuf.Buffer{}, &fakeActions{}
	srv := startSSH(t, cfg, act, logBuf)

	// Two authorised viewers at once, each with an own console.
	clientA, hostKey, err := srv.dial(gossh.PublicKeys(keyA))
	if err != nil {
		t.Fatalf("authorised key refused: %v", err)
	}
	defer clientA.Close()
	clientB, _, err := srv.dial(gossh.PublicKeys(keyB))
	if err != nil {
		t.Fatalf("second authorised key refused: %v", err)
	}
	defer clientB.Close()
	a := openViewer(t, clientA, nil)
	b := openViewer(t, clientB, map[string]string{"NO_COLOR": "1"})
	a.waitFor("participants 6")
	a.waitFor("standup")
	b.waitFor("participants 6")

	// NO_COLOR sent by the viewer reaches that viewer's renderer only.
	sgrColour := regexp.MustCompile(`\x1b\[[0-9;]*(38|48);[25];`)
	if !sgrColour.MatchString(a.seen.String()) {
		t.Error("viewer A (xterm-256color) got no colours; the NO_COLOR check below would prove nothing")
	}
	if sgrColour.MatchString(b.seen.String()) {
		t.Error("viewer B sent NO_COLOR but got colours")
	}

	// A quits: only A's session ends.
	a.keys("q")
	a.waitFor("Close this session? The node keeps running.")
	a.keys("y")
	if err := a.sess.Wait(); err != nil {
		var exit *gossh.ExitMissingError
		if !errors.As(err, &exit) {
			t.Logf("session A ended with %v", err)
		}
	}

	// B still works, and its action is logged with B's fingerprint.
	b.keys("5")
	b.waitFor("level ≥ DEBUG")
	b.keys("D")
	b.waitFor("Drain this node?")
	b.keys("y")
	b.waitFor("Draining: new participants are refused")
	if got := act.got(); len(got) != 1 || got[0] != "drain true" {
		t.Fatalf("actions %v", got)
	}
	fpB := gossh.FingerprintSHA256(keyB.PublicKey())
	if !strings.Contains(logBuf.String(), "viewer=ssh:"+fpB) {
		t.Errorf("action not logged with the viewer's fingerprint %s:\n%s", fpB, logBuf.String())
	}

	// Refused: an unknown key (logged with why); passwords and
	// keyboard-interactive are not even offered, so a client is never
	// prompted for a password that cannot work.
	if c, _, err := srv.dial(gossh.PublicKeys(stranger)); err == nil {
		c.Close()
		t.Error("unknown key: let in")
	}
	if !strings.Contains(logBuf.String(), "refused unknown key") || !strings.Contains(logBuf.String(), "not in ") {
		t.Errorf("unknown key: refusal not logged with its reason:\n%s", logBuf.String())
	}
	prompted := false
	for _, auth := range []gossh.AuthMethod{
		gossh.PasswordCallback(func() (string, error) { prompted = true; return "hunter2", nil }),
		gossh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) {
			prompted = true
			return []string{"hunter2"}, nil
		}),
	} {
		c, _, err := srv.dial(auth)
		if err == nil {
			c.Close()
			t.Error("password or keyboard-interactive: let in")
		} else if !strings.Contains(err.Error(), "[none]") && !strings.Contains(err.Error(), "publickey") {
			t.Errorf("methods offered: %v, want publickey only", err)
		}
	}
	if prompted {
		t.Error("the client was asked for a password: the server offered password or keyboard-interactive auth")
	}
	if fp := gossh.FingerprintSHA256(stranger.PublicKey()); !strings.Contains(logBuf.String(), fp) {
		t.Errorf("refused key's fingerprint %s not logged", fp)
	}

	srv.stop(t)

	// The host key was generated on first start and is kept across restarts.
	if _, err := os.Stat(cfg.HostKeyPath); err != nil {
		t.Fatalf("host key not kept: %v", err)
	}
	srv2 := startSSH(t, cfg, act, logBuf)
	c, hostKey2, err := srv2.dial(gossh.PublicKeys(keyA))
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	c.Close()
	if !bytes.Equal(hostKey.Marshal(), hostKey2.Marshal()) {
		t.Error("host key changed across restarts")
	}
	srv2.stop(t)
}

func TestSSHConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		cfg  SSHConfig
	}{
		{"no paths", SSHConfig{Addr: "127.0.0.1:0"}},
		{"missing authorized keys", SSHConfig{Addr: "127.0.0.1:0", HostKeyPath: filepath.Join(dir, "hk"), AuthorizedKeysPath: filepath.Join(dir, "nope")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ServeSSH(context.Background(), tc.cfg, &fakeSource{}, &fakeActions{}, Options{Logger: slog.New(slog.DiscardHandler)})
			if err == nil {
				t.Fatal("no error")
			}
		})
	}
}
