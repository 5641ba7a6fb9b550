package certs

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
)

// Config chooses where the node's HTTPS certificate comes from: a certificate
// and key file pair (CertFile, KeyFile), or ACME (ACMEDomains and the other
// ACME fields). Exactly one source must be set.
type Config struct {
	// CertFile and KeyFile are PEM files; CertFile holds the leaf followed by
	// any intermediates. Reload and Watch re-read them.
	CertFile, KeyFile string

	// ACMEDomains are the names certificates are obtained for. Setting them
	// accepts the ACME directory's terms of service. Wildcards and IP
	// addresses cannot be validated by http-01 or tls-alpn-01.
	ACMEDomains []string
	// ACMEEmail is the optional account contact, used by the CA for expiry
	// notices.
	ACMEEmail string
	// ACMEDirectory is the ACME directory URL; empty means Let's Encrypt
	// production (acme.LetsEncryptURL).
	ACMEDirectory string
	// CacheDir keeps the account key and certificates across restarts.
	// Required with ACME: without it every restart orders a new certificate
	// and soon hits the CA's rate limits.
	CacheDir string
	// ACMERootCAs verifies the ACME directory's HTTPS certificate (tests with
	// a local ACME server); nil uses the system roots.
	ACMERootCAs *x509.CertPool

	// HTTPSPort is the port put into HTTPHandler's redirects; 0 or 443 puts
	// none, which is what browsers expect of a public site.
	HTTPSPort int

	// Logger receives reloads and errors; nil means slog.Default().
	Logger *slog.Logger
}

func (c Config) usesFiles() bool { return c.CertFile != "" || c.KeyFile != "" }

func (c Config) usesACME() bool {
	return len(c.ACMEDomains) > 0 || c.ACMEEmail != "" || c.ACMEDirectory != "" ||
		c.CacheDir != "" || c.ACMERootCAs != nil
}

// validate reports the first problem with c, worded for an operator.
func (c Config) validate() error {
	files, acme := c.usesFiles(), c.usesACME()
	switch {
	case files && acme:
		return errors.New("certs: both a certificate file pair and ACME settings are set: choose one source")
	case !files && !acme:
		return errors.New("certs: no certificate source: set CertFile and KeyFile, or ACMEDomains")
	}
	if c.HTTPSPort < 0 || c.HTTPSPort > 65535 {
		return fmt.Errorf("certs: HTTPSPort %d out of range", c.HTTPSPort)
	}
	if files {
		if c.CertFile == "" {
			return errors.New("certs: KeyFile is set but CertFile is empty")
		}
		if c.KeyFile == "" {
			return errors.New("certs: CertFile is set but KeyFile is empty")
		}
		return nil
	}
	if len(c.ACMEDomains) == 0 {
		return errors.New("certs: ACME settings are set but ACMEDomains is empty")
	}
	if c.CacheDir == "" {
		return errors.New("certs: ACME needs CacheDir, so certificates survive restarts (CAs rate-limit new orders)")
	}
	for _, d := range c.ACMEDomains {
		if err := checkDomain(d); err != nil {
			return fmt.Errorf("certs: ACME domain %q: %w", d, err)
		}
	}
	return nil
}

// checkDomain rejects names that http-01 and tls-alpn-01 cannot validate.
func checkDomain(d string) error {
	switch {
	case d == "":
		return errors.New("empty")
	case strings.Contains(d, "*"):
		return errors.New("wildcards need the dns-01 challenge, which is not supported")
	case net.ParseIP(strings.Trim(d, "[]")) != nil:
		return errors.New("an IP address, not a domain name")
	case strings.ContainsAny(d, ":/ "):
		return errors.New("give a bare host name, without scheme, port or path")
	case !strings.Contains(strings.Trim(d, "."), "."):
		return errors.New("needs at least two labels (example.org)")
	}
	return nil
}
