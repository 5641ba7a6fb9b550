// Package acmetest runs a real ACME CA (pebble) and its DNS on loopback, for tests that obtain certificates.
//
// The CA really validates challenges: its validation authority resolves every
// name to 127.0.0.1 through a DNS server started here and connects to the
// http-01 and tls-alpn-01 ports the test gives, so the code under test must
// answer them.
package acmetest

import (
	"bytes"
	"crypto/x509"
	"log"
	"net"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
)

// Options says where the CA validates challenges, on 127.0.0.1.
type Options struct {
	// HTTPPort is where http-01 is fetched (the test's port-80 listener).
	HTTPPort int
	// TLSPort is where tls-alpn-01 is dialled (the test's HTTPS listener).
	TLSPort int
}

// CA is a running pebble instance.
type CA struct {
	// DirectoryURL is the ACME directory, served over HTTPS on 127.0.0.1.
	DirectoryURL string
	// DirectoryRoots trusts the directory's HTTPS certificate (for
	// certs.Config.ACMERootCAs).
	DirectoryRoots *x509.CertPool
	// IssuerRoots trusts the certificates the CA issues.
	IssuerRoots *x509.CertPool
	// Root is the CA's root certificate, e.g. for a browser's trust store.
	Root *x509.Certificate
	// DNSAddr is the TCP address of the DNS server that answers A 127.0.0.1
	// for every name.
	DNSAddr string
}

// Start runs pebble and its DNS server until t ends. It sets pebble's
// environment with t.Setenv (no random validation delay, no forced bad
// nonces, no authorization reuse), so t must not be parallel.
func Start(t testing.TB, opt Options) *CA {
	t.Helper()
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	t.Setenv("PEBBLE_AUTHZREUSE", "0")
	t.Setenv("PEBBLE_VA_ALWAYS_VALID", "0")

	logs := &lockedBuffer{}
	logger := log.New(logs, "pebble ", log.Lmicroseconds)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pebble log:\n%s", logs.String())
		}
	})

	dnsAddr := startDNS(t)
	store := db.NewMemoryStore()
	profiles := map[string]ca.Profile{"default": {Description: "acmetest"}}
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, profiles)
	validator := va.New(logger, opt.HTTPPort, opt.TLSPort, false, dnsAddr, store)
	frontEnd := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)

	srv := httptest.NewUnstartedServer(frontEnd.Handler())
	srv.Config.ErrorLog = logger
	srv.StartTLS()
	t.Cleanup(srv.Close)

	dirRoots := x509.NewCertPool()
	dirRoots.AddCert(srv.Certificate())
	root := authority.GetRootCert(0).Cert
	issuerRoots := x509.NewCertPool()
	issuerRoots.AddCert(root)
	return &CA{
		DirectoryURL:   srv.URL + wfe.DirectoryPath,
		DirectoryRoots: dirRoots,
		IssuerRoots:    issuerRoots,
		Root:           root,
		DNSAddr:        dnsAddr,
	}
}

// startDNS serves DNS over TCP on loopback (pebble's VA queries over TCP):
// A 127.0.0.1 for every name, no AAAA, so validation stays on loopback.
func startDNS(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("acmetest: dns listen: %v", err)
	}
	srv := &dns.Server{Listener: ln, Net: "tcp", Handler: dns.HandlerFunc(answerLoopback)}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

func answerLoopback(w dns.ResponseWriter, req *dns.Msg) {
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.Authoritative = true
	for _, q := range req.Question {
		if q.Qtype == dns.TypeA && q.Qclass == dns.ClassINET {
			resp.Answer = append(resp.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A:   net.IPv4(127, 0, 0, 1),
			})
		}
	}
	_ = w.WriteMsg(resp)
}

// lockedBuffer collects pebble's log from its many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
