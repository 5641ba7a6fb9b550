package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

const testDomain = "switchyard.test"

// quietLog drops http.Server's handshake errors (clients that close early).
var quietLog = log.New(io.Discard, "", 0)

// testCA signs leaves for the file-source tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1000),
		Subject:               pkix.Name{CommonName: "certs test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// leaf returns PEM certificate and key for testDomain and 127.0.0.1; the
// serial tells the tests which leaf a server presented.
func (ca *testCA) leaf(t *testing.T, serial int64) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: testDomain},
		DNSNames:     []string{testDomain},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// pairFiles is a certificate and key file pair whose writes always move the
// modification time forward, whatever the file system's clock granularity.
type pairFiles struct {
	cert, key string
	version   int
}

func newPairFiles(t *testing.T) *pairFiles {
	dir := t.TempDir()
	return &pairFiles{cert: filepath.Join(dir, "cert.pem"), key: filepath.Join(dir, "key.pem")}
}

func (p *pairFiles) write(t *testing.T, certPEM, keyPEM []byte) {
	t.Helper()
	p.version++
	mod := time.Now().Add(time.Duration(p.version) * time.Second)
	for _, f := range []struct {
		path string
		data []byte
	}{{p.key, keyPEM}, {p.cert, certPEM}} {
		if f.data == nil {
			continue
		}
		// Replace atomically, as certbot and kubernetes secrets do.
		tmp := f.path + ".tmp"
		if err := os.WriteFile(tmp, f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(tmp, mod, mod); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, f.path); err != nil {
			t.Fatal(err)
		}
	}
}

// serveTLS serves h over TLS on loopback, the way the node is meant to.
func serveTLS(t *testing.T, cfg *tls.Config, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: quietLog}
	go func() { _ = srv.Serve(tls.NewListener(ln, cfg)) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// handshake connects as a browser would (offering h2 first) and returns the
// verified connection state.
func handshake(t *testing.T, addr string, roots *x509.CertPool) tls.ConnectionState {
	t.Helper()
	d := &tls.Dialer{
		NetDialer: &net.Dialer{Timeout: 15 * time.Second},
		Config:    &tls.Config{ServerName: testDomain, RootCAs: roots, NextProtos: []string{"h2", "http/1.1"}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", addr, err)
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState()
}

func servedSerial(t *testing.T, addr string, roots *x509.CertPool) int64 {
	t.Helper()
	return handshake(t, addr, roots).PeerCertificates[0].SerialNumber.Int64()
}

// errorCounter is a slog handler that counts error records.
type errorCounter struct{ n atomic.Int64 }

func (h *errorCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *errorCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.n.Add(1)
	}
	return nil
}
func (h *errorCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *errorCounter) WithGroup(string) slog.Handler      { return h }

func TestFilesReload(t *testing.T) {
	ca := newTestCA(t)
	files := newPairFiles(t)
	c1, k1 := ca.leaf(t, 1)
	files.write(t, c1, k1)
	m, err := New(Config{CertFile: files.cert, KeyFile: files.key, Logger: slog.New(&errorCounter{})})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, m.TLSConfig(), http.NotFoundHandler())
	if got := servedSerial(t, addr, ca.pool); got != 1 {
		t.Fatalf("served serial %d, want 1", got)
	}

	c2, k2 := ca.leaf(t, 2)
	files.write(t, c2, k2)
	if got := servedSerial(t, addr, ca.pool); got != 1 {
		t.Fatalf("before Reload served serial %d, want still 1", got)
	}
	if err := m.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got := servedSerial(t, addr, ca.pool); got != 2 {
		t.Fatalf("after Reload served serial %d, want 2", got)
	}

	c3, _ := ca.leaf(t, 3)
	for _, bad := range []struct {
		name      string
		cert, key []byte
	}{
		{"corrupt certificate", []byte("-----BEGIN CERTIFICATE-----\nnot base64\n"), nil},
		{"truncated certificate", c3[:len(c3)/2], nil},
		{"key of another certificate", c3, nil}, // key file still holds leaf 2's key
		{"empty key", c2, []byte{}},
	} {
		files.write(t, bad.cert, bad.key)
		if err := m.Reload(); err == nil {
			t.Errorf("%s: Reload succeeded, want an error", bad.name)
		}
		if got := servedSerial(t, addr, ca.pool); got != 2 {
			t.Errorf("%s: served serial %d, want the old 2", bad.name, got)
		}
	}
}

func TestNewRejectsBadFiles(t *testing.T) {
	ca := newTestCA(t)
	files := newPairFiles(t)
	c1, _ := ca.leaf(t, 1)
	_, k2 := ca.leaf(t, 2)
	files.write(t, c1, k2)
	if _, err := New(Config{CertFile: files.cert, KeyFile: files.key}); err == nil {
		t.Error("New with a mismatched pair succeeded")
	}
	if _, err := New(Config{CertFile: files.cert + ".missing", KeyFile: files.key}); err == nil {
		t.Error("New with a missing certificate file succeeded")
	}
}

func TestFilesWatch(t *testing.T) {
	ca := newTestCA(t)
	files := newPairFiles(t)
	c1, k1 := ca.leaf(t, 1)
	files.write(t, c1, k1)
	errs := &errorCounter{}
	m, err := New(Config{CertFile: files.cert, KeyFile: files.key, Logger: slog.New(errs)})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, m.TLSConfig(), http.NotFoundHandler())
	ctx, cancel := context.WithCancel(context.Background())
	watched := make(chan struct{})
	go func() { m.Watch(ctx, 10*time.Millisecond); close(watched) }()
	defer func() { cancel(); <-watched }()

	waitSerial := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for servedSerial(t, addr, ca.pool) != want {
			if time.Now().After(deadline) {
				t.Fatalf("Watch did not switch to serial %d within 5 s", want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	c2, k2 := ca.leaf(t, 2)
	files.write(t, c2, k2)
	waitSerial(2)

	// A bad pair keeps the old certificate and is reported once, not on
	// every poll.
	before := errs.n.Load()
	files.write(t, []byte("garbage"), nil)
	deadline := time.Now().Add(5 * time.Second)
	for errs.n.Load() == before {
		if time.Now().After(deadline) {
			t.Fatal("Watch did not report the corrupt pair within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // about 20 more polls
	if got := servedSerial(t, addr, ca.pool); got != 2 {
		t.Fatalf("after a corrupt write served serial %d, want the old 2", got)
	}
	if n := errs.n.Load() - before; n != 1 {
		t.Errorf("corrupt pair logged %d errors over 20 polls, want 1", n)
	}

	// And a good pair after it is picked up.
	c3, k3 := ca.leaf(t, 3)
	files.write(t, c3, k3)
	waitSerial(3)
}

// TestWatchLoadsPairTogether steps Watch by hand: a key written before its
// certificate must not be tried (and reported) with the old certificate.
func TestWatchLoadsPairTogether(t *testing.T) {
	ca := newTestCA(t)
	files := newPairFiles(t)
	c1, k1 := ca.leaf(t, 1)
	files.write(t, c1, k1)
	errs := &errorCounter{}
	m, err := New(Config{CertFile: files.cert, KeyFile: files.key, Logger: slog.New(errs)})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, m.TLSConfig(), http.NotFoundHandler())

	var w watchState
	m.poll(&w) // nothing changed
	c2, k2 := ca.leaf(t, 2)
	files.write(t, nil, k2)
	m.poll(&w) // the new key: wait, the certificate may follow
	files.write(t, c2, nil)
	m.poll(&w) // changed again: wait
	if got := servedSerial(t, addr, ca.pool); got != 1 {
		t.Fatalf("served serial %d before the files settled, want 1", got)
	}
	m.poll(&w) // unchanged for a poll: load
	if got := servedSerial(t, addr, ca.pool); got != 2 {
		t.Fatalf("served serial %d after the files settled, want 2", got)
	}
	m.poll(&w)
	if n := errs.n.Load(); n != 0 {
		t.Errorf("%d errors logged for a pair written in two steps, want 0", n)
	}
}

// TestTLSConfigKeepsWebSocket dials a WebSocket the way a browser offers
// protocols (h2 first): the upgrade must work, so the server must not pick h2.
func TestTLSConfigKeepsWebSocket(t *testing.T) {
	ca := newTestCA(t)
	files := newPairFiles(t)
	c1, k1 := ca.leaf(t, 1)
	files.write(t, c1, k1)
	m, err := New(Config{CertFile: files.cert, KeyFile: files.key, Logger: slog.New(&errorCounter{})})
	if err != nil {
		t.Fatal(err)
	}
	up := websocket.Upgrader{}
	addr := serveTLS(t, m.TLSConfig(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		typ, msg, err := c.ReadMessage()
		if err == nil {
			_ = c.WriteMessage(typ, msg)
		}
	}))

	if p := handshake(t, addr, ca.pool).NegotiatedProtocol; p != "http/1.1" {
		t.Errorf("negotiated %q with a client offering h2 and http/1.1, want http/1.1", p)
	}
	d := websocket.Dialer{
		TLSClientConfig:  &tls.Config{ServerName: testDomain, RootCAs: ca.pool, NextProtos: []string{"h2", "http/1.1"}},
		HandshakeTimeout: 5 * time.Second,
	}
	c, _, err := d.Dial("wss://"+addr+"/ws", nil)
	if err != nil {
		t.Fatalf("WebSocket over TLSConfig: %v", err)
	}
	defer c.Close()
	if err := c.WriteMessage(websocket.TextMessage, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "ping" {
		t.Fatalf("echo = %q, %v", msg, err)
	}
}

func TestHTTPHandlerRedirects(t *testing.T) {
	ca := newTestCA(t)
	files := newPairFiles(t)
	c1, k1 := ca.leaf(t, 1)
	files.write(t, c1, k1)
	fileCfg := Config{CertFile: files.cert, KeyFile: files.key, Logger: slog.New(&errorCounter{})}
	acmeCfg := Config{ACMEDomains: []string{testDomain}, CacheDir: t.TempDir(), Logger: slog.New(&errorCounter{})}
	withPort := fileCfg
	withPort.HTTPSPort = 8443

	for _, tc := range []struct {
		name     string
		cfg      Config
		method   string
		host     string
		target   string
		code     int
		location string
	}{
		{"GET keeps host, path and query", fileCfg, "GET", testDomain, "/room/a?x=1", 301, "https://switchyard.test/room/a?x=1"},
		{"port 80 is dropped", fileCfg, "GET", testDomain + ":80", "/", 301, "https://switchyard.test/"},
		{"HEAD", fileCfg, "HEAD", testDomain, "/p", 301, "https://switchyard.test/p"},
		{"POST keeps its method", fileCfg, "POST", testDomain, "/api/join", 308, "https://switchyard.test/api/join"},
		{"IPv6 host", fileCfg, "GET", "[::1]:80", "/p", 301, "https://[::1]/p"},
		{"IPv4 host", fileCfg, "GET", "127.0.0.1", "/p", 301, "https://127.0.0.1/p"},
		{"HTTPS port", withPort, "GET", testDomain + ":80", "/p", 301, "https://switchyard.test:8443/p"},
		{"HTTPS port, IPv6", withPort, "GET", "[::1]", "/p", 301, "https://[::1]:8443/p"},
		{"escaped path", fileCfg, "GET", testDomain, "/a%20b/%2F", 301, "https://switchyard.test/a%20b/%2F"},
		{"no host", fileCfg, "GET", "", "/", 400, ""},
		{"ACME: other paths redirect", acmeCfg, "GET", testDomain, "/index.html", 301, "https://switchyard.test/index.html"},
		{"ACME: unknown challenge token is answered, not redirected", acmeCfg, "GET", testDomain, "/.well-known/acme-challenge/nope", 404, ""},
		{"ACME: challenge for another host", acmeCfg, "GET", "evil.example", "/.well-known/acme-challenge/nope", 403, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(tc.method, "http://placeholder"+tc.target, nil)
			req.Host = tc.host
			rec := httptest.NewRecorder()
			m.HTTPHandler().ServeHTTP(rec, req)
			if rec.Code != tc.code {
				t.Fatalf("status %d, want %d (body %q)", rec.Code, tc.code, strings.TrimSpace(rec.Body.String()))
			}
			if got := rec.Header().Get("Location"); got != tc.location {
				t.Errorf("Location %q, want %q", got, tc.location)
			}
		})
	}
}
