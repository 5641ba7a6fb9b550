// Package certs supplies the node's HTTPS certificate, from files reloaded on change or from ACME.
package certs

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// Manager hands the TLS listener its certificate and serves port 80.
type Manager struct {
	cfg Config
	log *slog.Logger

	// Files source: current is read on every handshake without a lock.
	current atomic.Pointer[tls.Certificate]
	// reloadMu serialises Reload; it guards loaded and failed.
	reloadMu sync.Mutex
	loaded   fileStamps // stamps of the pair in current
	failed   fileStamps // stamps of the last pair that failed to load

	// ACME source (nil with files).
	acme *autocert.Manager
}

// New checks cfg and prepares its source. With files it loads the pair now,
// so a bad pair fails start-up rather than the first handshake.
func New(cfg Config) (*Manager, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	m := &Manager{cfg: cfg, log: log.With("component", "certs")}
	if cfg.usesFiles() {
		if err := m.Reload(); err != nil {
			return nil, err
		}
		return m, nil
	}
	m.acme = newAutocert(cfg)
	m.log.Info("certs: ACME", "domains", cfg.ACMEDomains, "directory", m.acme.Client.DirectoryURL, "cache", cfg.CacheDir)
	return m, nil
}

func newAutocert(cfg Config) *autocert.Manager {
	dir := cfg.ACMEDirectory
	if dir == "" {
		dir = acme.LetsEncryptURL
	}
	hosts := make([]string, len(cfg.ACMEDomains))
	for i, d := range cfg.ACMEDomains {
		hosts[i] = strings.ToLower(strings.TrimSuffix(d, ".")) // as browsers send SNI
	}
	client := &acme.Client{DirectoryURL: dir}
	if cfg.ACMERootCAs != nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: cfg.ACMERootCAs, MinVersion: tls.VersionTLS12}
		client.HTTPClient = &http.Client{Transport: tr}
	}
	return &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(cfg.CacheDir),
		HostPolicy: autocert.HostWhitelist(hosts...),
		Client:     client,
		Email:      cfg.ACMEEmail,
	}
}

// TLSConfig returns a new config for the HTTPS listener.
//
// It offers only HTTP/1.1 (plus acme-tls/1 with ACME): WebSocket signaling
// upgrades an HTTP/1.1 request, which an HTTP/2 connection cannot carry.
// Serve it with http.Server.Serve(tls.NewListener(ln, cfg)); ServeTLS and
// ListenAndServeTLS add "h2" back unless Server.Protocols is HTTP/1 only.
func (m *Manager) TLSConfig() *tls.Config {
	if m.acme != nil {
		return &tls.Config{
			GetCertificate: m.acme.GetCertificate,
			NextProtos:     []string{"http/1.1", acme.ALPNProto},
			MinVersion:     tls.VersionTLS12,
		}
	}
	return &tls.Config{
		GetCertificate: m.getFileCertificate,
		NextProtos:     []string{"http/1.1"},
		MinVersion:     tls.VersionTLS12,
	}
}

func (m *Manager) getFileCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return m.current.Load(), nil
}

// HTTPHandler is the handler for port 80: with ACME it answers http-01
// challenges under /.well-known/acme-challenge/ (and enables that challenge
// type); every other request is redirected to the same host and path over
// https, 301 for GET and HEAD, 308 otherwise.
func (m *Manager) HTTPHandler() http.Handler {
	redirect := http.HandlerFunc(m.redirect)
	if m.acme == nil {
		return redirect
	}
	challenge := m.acme.HTTPHandler(redirect)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// autocert checks Host against its whitelist as is; a CA validating
		// on a port other than 80 (tests, pebble) sends host:port.
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			r = r.Clone(r.Context())
			r.Host = h
		}
		challenge.ServeHTTP(w, r)
	})
}

func (m *Manager) redirect(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if host == "" {
		http.Error(w, "certs: missing Host header; use https", http.StatusBadRequest)
		return
	}
	if port := m.cfg.HTTPSPort; port != 0 && port != 443 {
		host = net.JoinHostPort(host, strconv.Itoa(port))
	} else if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		host = "[" + host + "]"
	}
	code := http.StatusPermanentRedirect
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		code = http.StatusMovedPermanently
	}
	http.Redirect(w, r, fmt.Sprintf("https://%s%s", host, r.URL.RequestURI()), code)
}
