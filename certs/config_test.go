package certs

import (
	"crypto/x509"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr string // substring; empty means valid
	}{
		{"files", Config{CertFile: "c", KeyFile: "k"}, ""},
		{"ACME", Config{ACMEDomains: []string{"a.example.org", "b.example.org."}, CacheDir: "/tmp/c", ACMEEmail: "ops@example.org"}, ""},
		{"nothing", Config{}, "no certificate source"},
		{"both", Config{CertFile: "c", KeyFile: "k", ACMEDomains: []string{"a.example.org"}, CacheDir: "d"}, "choose one"},
		{"files and an ACME directory", Config{CertFile: "c", KeyFile: "k", ACMEDirectory: "https://x/dir"}, "choose one"},
		{"cert without key", Config{CertFile: "c"}, "KeyFile is empty"},
		{"key without cert", Config{KeyFile: "k"}, "CertFile is empty"},
		{"ACME settings without domains", Config{ACMEEmail: "ops@example.org", CacheDir: "d"}, "ACMEDomains is empty"},
		{"ACME roots without domains", Config{ACMERootCAs: x509.NewCertPool()}, "ACMEDomains is empty"},
		{"ACME without cache", Config{ACMEDomains: []string{"a.example.org"}}, "CacheDir"},
		{"empty domain", Config{ACMEDomains: []string{""}, CacheDir: "d"}, "empty"},
		{"wildcard", Config{ACMEDomains: []string{"*.example.org"}, CacheDir: "d"}, "wildcard"},
		{"IPv4", Config{ACMEDomains: []string{"192.0.2.1"}, CacheDir: "d"}, "IP address"},
		{"IPv6", Config{ACMEDomains: []string{"[2001:db8::1]"}, CacheDir: "d"}, "IP address"},
		{"URL", Config{ACMEDomains: []string{"https://example.org"}, CacheDir: "d"}, "bare host name"},
		{"port", Config{ACMEDomains: []string{"example.org:443"}, CacheDir: "d"}, "bare host name"},
		{"single label", Config{ACMEDomains: []string{"localhost"}, CacheDir: "d"}, "two labels"},
		{"bad HTTPS port", Config{CertFile: "c", KeyFile: "k", HTTPSPort: 70000}, "HTTPSPort"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("no error, want one containing %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("error %q, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
