package certs

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/certs/acmetest"
)

// refuseTLS accepts connections and closes them at once: a tls-alpn-01 port
// where validation fails quickly, so autocert falls back to http-01.
func refuseTLS(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func listen(t *testing.T) (net.Listener, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln, ln.Addr().(*net.TCPAddr).Port
}

// TestACME obtains a certificate from a real ACME CA (pebble, in process)
// that validates the challenge against this Manager on loopback: once by
// tls-alpn-01 on the HTTPS listener, once by http-01 on the port-80 handler.
func TestACME(t *testing.T) {
	for _, http01 := range []bool{false, true} {
		name := "tls-alpn-01"
		if http01 {
			name = "http-01"
		}
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			tlsLn, tlsPort := listen(t)
			httpLn, httpPort := listen(t)
			vaTLSPort := tlsPort
			if http01 {
				vaTLSPort = refuseTLS(t)
			}
			ca := acmetest.Start(t, acmetest.Options{HTTPPort: httpPort, TLSPort: vaTLSPort})

			cacheDir := t.TempDir()
			m, err := New(Config{
				ACMEDomains:   []string{"Switchyard.TEST."}, // normalised to the SNI name
				ACMEEmail:     "ops@switchyard.test",
				ACMEDirectory: ca.DirectoryURL,
				CacheDir:      cacheDir,
				ACMERootCAs:   ca.DirectoryRoots,
				Logger:        slog.New(&errorCounter{}),
			})
			if err != nil {
				t.Fatal(err)
			}
			if p := m.TLSConfig().NextProtos; !slices.Contains(p, "acme-tls/1") || slices.Contains(p, "h2") {
				t.Errorf("ACME NextProtos %q: want acme-tls/1 and no h2", p)
			}

			tlsSrv := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: quietLog}
			go func() { _ = tlsSrv.Serve(tls.NewListener(tlsLn, m.TLSConfig())) }()
			t.Cleanup(func() { _ = tlsSrv.Close() })

			var challenges atomic.Int64
			if http01 {
				h := m.HTTPHandler()
				httpSrv := &http.Server{ReadHeaderTimeout: 5 * time.Second, ErrorLog: quietLog, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
						challenges.Add(1)
					}
					h.ServeHTTP(w, r)
				})}
				go func() { _ = httpSrv.Serve(httpLn) }()
				t.Cleanup(func() { _ = httpSrv.Close() })
			}

			// The first handshake for the name triggers the order and waits
			// for it; the client trusts only pebble's root.
			st := handshake(t, tlsLn.Addr().String(), ca.IssuerRoots)
			leaf := st.PeerCertificates[0]
			if !slices.Contains(leaf.DNSNames, testDomain) {
				t.Errorf("served certificate names %q, want %s", leaf.DNSNames, testDomain)
			}
			if chain := st.VerifiedChains[0]; len(chain) != 3 || !chain[2].Equal(ca.Root) {
				t.Errorf("verified chain of %d; want leaf, pebble intermediate, pebble root", len(chain))
			}
			if st.NegotiatedProtocol != "http/1.1" {
				t.Errorf("negotiated %q, want http/1.1", st.NegotiatedProtocol)
			}
			if http01 && challenges.Load() == 0 {
				t.Error("no http-01 request reached the port-80 handler")
			}
			if _, err := os.Stat(filepath.Join(cacheDir, testDomain)); err != nil {
				t.Errorf("certificate not cached: %v", err)
			}
			t.Logf("%s: certificate issued and served in %v", name, time.Since(start).Round(time.Millisecond))

			if !http01 {
				return
			}
			// A restarted node serves the cached certificate without the CA
			// (its directory points at a closed port).
			m2, err := New(Config{
				ACMEDomains:   []string{testDomain},
				ACMEDirectory: "https://127.0.0.1:1/dir",
				CacheDir:      cacheDir,
				Logger:        slog.New(&errorCounter{}),
			})
			if err != nil {
				t.Fatal(err)
			}
			addr := serveTLS(t, m2.TLSConfig(), http.NotFoundHandler())
			if got := handshake(t, addr, ca.IssuerRoots).PeerCertificates[0]; !got.Equal(leaf) {
				t.Error("restarted Manager did not serve the cached certificate")
			}
		})
	}
}
