package console

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/ssh"
	"github.com/charmbracelet/wish"
	bm "github.com/charmbracelet/wish/bubbletea"
	"github.com/muesli/termenv"
	gossh "golang.org/x/crypto/ssh"
)

// SSHConfig configures the console's SSH server.
type SSHConfig struct {
	Addr string // listen address, e.g. ":2222"
	// HostKeyPath is the server's private key; an ed25519 key is generated
	// there on first start and kept, so viewers see the same host key.
	HostKeyPath string
	// AuthorizedKeysPath lists the public keys allowed in, in OpenSSH
	// authorized_keys format. It is read on every attempt, so edits apply
	// without a restart.
	AuthorizedKeysPath string
	// Listener, when set, is served instead of listening on Addr.
	Listener net.Listener
	// StallTimeout is how long a viewer's terminal may refuse output before
	// the session is closed; 30s when zero.
	StallTimeout time.Duration
}

const defaultStallTimeout = 30 * time.Second

// ServeSSH serves the console over SSH until ctx ends, then closes every
// session and returns nil. Each viewer gets an own program; only keys in
// cfg.AuthorizedKeysPath get in, and password and keyboard-interactive logins
// are refused. Refused attempts and every session are logged.
func ServeSSH(ctx context.Context, cfg SSHConfig, src Source, act Actions, opts Options) error {
	opts = opts.withDefaults()
	log := opts.Logger.With("component", "console-ssh")
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = defaultStallTimeout
	}
	if cfg.HostKeyPath == "" || cfg.AuthorizedKeysPath == "" {
		return errors.New("console ssh: host key path and authorized keys path are required")
	}
	// Read the keys once now so that a wrong path fails at start rather than
	// silently locking every operator out.
	keys, err := readAuthorizedKeys(cfg.AuthorizedKeysPath)
	if err != nil {
		return fmt.Errorf("console ssh: %w", err)
	}
	if len(keys) == 0 {
		log.Warn("console ssh: no authorized keys; nobody can log in", "path", cfg.AuthorizedKeysPath)
	}
	if err := os.MkdirAll(filepath.Dir(cfg.HostKeyPath), 0o700); err != nil {
		return fmt.Errorf("console ssh: host key dir: %w", err)
	}

	handler := func(sess ssh.Session) *tea.Program {
		viewer := "ssh:" + fingerprint(sess.PublicKey())
		o := opts
		o.Viewer = viewer
		o.Renderer = sessionRenderer(sess)
		out := &stallGuard{w: sess, timeout: cfg.StallTimeout, onStall: func() {
			log.Warn("console ssh: viewer stopped reading; closing session", "viewer", viewer, "remote", sess.RemoteAddr().String())
			_ = sess.Close()
		}}
		return tea.NewProgram(NewModel(src, act, o),
			tea.WithInput(sess),
			tea.WithOutput(out),
			tea.WithAltScreen(),
			tea.WithoutSignalHandler(),
			tea.WithContext(ctx),
		)
	}
	sessionLog := func(next ssh.Handler) ssh.Handler {
		return func(sess ssh.Session) {
			attrs := []any{"viewer", "ssh:" + fingerprint(sess.PublicKey()), "user", sess.User(), "remote", sess.RemoteAddr().String()}
			log.Info("console ssh: viewer connected", attrs...)
			next(sess)
			log.Info("console ssh: viewer left", attrs...)
		}
	}

	srv, err := wish.NewServer(
		wish.WithAddress(cfg.Addr),
		wish.WithHostKeyPath(cfg.HostKeyPath),
		wish.WithPublicKeyAuth(func(sctx ssh.Context, key ssh.PublicKey) bool {
			ok, err := authorized(cfg.AuthorizedKeysPath, key)
			attrs := []any{"user", sctx.User(), "remote", sctx.RemoteAddr().String(), "key", fingerprint(key)}
			switch {
			case err != nil:
				log.Error("console ssh: cannot read authorized keys; refusing", append(attrs, "err", err)...)
			case !ok:
				log.Warn("console ssh: refused unknown key", append(attrs,
					"why", "not in "+cfg.AuthorizedKeysPath)...)
			}
			return ok
		}),
		// No password or keyboard-interactive handlers: only public keys
		// are offered, so a client is not asked for a password that could
		// never succeed.
		// Middlewares run last to first: sessionLog wraps the program.
		wish.WithMiddleware(
			bm.MiddlewareWithProgramHandler(handler, termenv.Ascii),
			sessionLog,
		),
	)
	if err != nil {
		return fmt.Errorf("console ssh: %w", err)
	}
	srv.ConnectionFailedCallback = func(conn net.Conn, err error) {
		log.Info("console ssh: connection failed", "remote", conn.RemoteAddr().String(), "err", err)
	}

	ln := cfg.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return fmt.Errorf("console ssh: listen %s: %w", cfg.Addr, err)
		}
	}
	log.Info("console ssh: listening", "addr", ln.Addr().String())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("console ssh: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	// Close drops every connection, which ends each viewer's program; then
	// wait briefly for their handlers so that none outlives the node.
	_ = srv.Close()
	<-served
	wait, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(wait); err != nil && !errors.Is(err, ssh.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		log.Warn("console ssh: sessions still closing", "err", err)
	}
	return nil
}

// sessionRenderer picks colours from the viewer's own terminal type and
// environment (NO_COLOR, TERM=dumb). It replaces wish's MakeRenderer, which
// asks the terminal for its background colour and, on an SSH channel, waits
// for the answer forever when a client never sends one, swallowing the
// viewer's first keys meanwhile.
func sessionRenderer(sess ssh.Session) *lipgloss.Renderer {
	pty, _, ok := sess.Pty()
	if !ok || pty.Term == "" || pty.Term == "dumb" {
		return lipgloss.NewRenderer(sess, termenv.WithProfile(termenv.Ascii))
	}
	env := append(sess.Environ(), "TERM="+pty.Term)
	// WithTTY: the session is a terminal though not an *os.File.
	r := newRenderer(sess, env, termenv.WithTTY(true), termenv.WithColorCache(true))
	// Adaptive colours read on both; assuming dark avoids a terminal query.
	r.SetHasDarkBackground(true)
	return r
}

func fingerprint(k ssh.PublicKey) string {
	if k == nil {
		return "none"
	}
	return gossh.FingerprintSHA256(k)
}

func readAuthorizedKeys(path string) ([]gossh.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read authorized keys: %w", err)
	}
	keys, err := parseAuthorizedKeys(data)
	if err != nil {
		return nil, fmt.Errorf("read authorized keys %s: %w", path, err)
	}
	return keys, nil
}

// parseAuthorizedKeys reads OpenSSH authorized_keys lines, skipping comments
// and lines that are not keys.
func parseAuthorizedKeys(data []byte) ([]gossh.PublicKey, error) {
	var keys []gossh.PublicKey
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		k, _, _, _, err := gossh.ParseAuthorizedKey(line)
		if err != nil {
			// One bad line must not lock out the keys on the other lines.
			continue
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	return keys, nil
}

func authorized(path string, key ssh.PublicKey) (bool, error) {
	keys, err := readAuthorizedKeys(path)
	if err != nil {
		return false, err
	}
	for _, k := range keys {
		if ssh.KeysEqual(k, key) {
			return true, nil
		}
	}
	return false, nil
}

// stallGuard closes a viewer's session when one write to it blocks longer
// than timeout. The write blocks only that viewer's program, but without the
// guard a viewer that stops reading would hold its session open forever.
type stallGuard struct {
	w       io.Writer
	timeout time.Duration
	onStall func()
}

func (g *stallGuard) Write(p []byte) (int, error) {
	t := time.AfterFunc(g.timeout, g.onStall)
	defer t.Stop()
	return g.w.Write(p)
}
