package browsertest

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Options adjust a browser beyond the defaults; the zero value is what
// Chromium and Firefox start with. Its Chromium and Firefox methods have the
// same shape as those functions, so a configured browser can be passed where
// a plain one is.
type Options struct {
	// ChromiumFlags are appended to the default flags.
	ChromiumFlags []string
	// FirefoxPrefs are added to the default prefs, replacing equal keys.
	FirefoxPrefs map[string]any
	// FirefoxFiles are written into the fresh Firefox profile, by file name
	// (e.g. cert_override.txt).
	FirefoxFiles map[string]string
	// DevTools lets the test drive a Chromium page (Browser.DevTools): the
	// browser listens for the DevTools protocol on a loopback port of its
	// choosing.
	DevTools bool
}

// Chromium starts headless Chromium on url with o's extra flags.
func (o Options) Chromium(t testing.TB, url string) *Browser {
	t.Helper()
	bin := lookBrowser(t, "chromium")
	profile := t.TempDir()
	args := append(append(append([]string{}, chromiumFlags...), o.ChromiumFlags...), "--user-data-dir="+profile)
	if o.DevTools {
		args = append(args, "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0")
	}
	b := start(t, "chromium", exec.Command(bin, append(args, url)...))
	if o.DevTools {
		b.profile = profile
	}
	return b
}

// Firefox starts headless Firefox ESR on url with a fresh profile holding o's
// prefs and files.
func (o Options) Firefox(t testing.TB, url string) *Browser {
	t.Helper()
	bin := lookBrowser(t, "firefox-esr")
	profile := t.TempDir()
	prefs := maps.Clone(firefoxPrefs)
	maps.Copy(prefs, o.FirefoxPrefs)
	files := map[string]string{"user.js": userJS(prefs)}
	maps.Copy(files, o.FirefoxFiles)
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(profile, name), []byte(content), 0o600); err != nil {
			t.Fatalf("browsertest: write firefox profile file %s: %v", name, err)
		}
	}
	cmd := exec.Command(bin, "--headless", "--no-remote", "--profile", profile, url)
	cmd.Env = append(os.Environ(), "HOME="+profile, "MOZ_HEADLESS=1")
	return start(t, "firefox", cmd)
}

// TrustCertificate returns Options under which both browsers accept the
// (self-signed or test-CA) server certificate cert, and only that one:
//   - Chromium trusts its public key with --ignore-certificate-errors-spki-list,
//     which (unlike --ignore-certificate-errors) leaves every other
//     certificate checked;
//   - Firefox gets the certificate override a user's "accept the risk" click
//     would leave in cert_override.txt, for each of hostPorts ("127.0.0.1:8443").
//     An override is per host and port, so every TLS listener needs one.
func TrustCertificate(cert *x509.Certificate, hostPorts ...string) Options {
	return Options{
		ChromiumFlags: []string{"--ignore-certificate-errors-spki-list=" + SPKIHash(cert)},
		FirefoxFiles:  map[string]string{"cert_override.txt": CertOverrides(cert, hostPorts...)},
	}
}

// SPKIHash is the base64 SHA-256 of cert's SubjectPublicKeyInfo, the form
// Chromium's --ignore-certificate-errors-spki-list takes.
func SPKIHash(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// CertOverrides renders Firefox's cert_override.txt accepting cert at each of
// hostPorts: "host:port:originAttributes", the hash algorithm's OID
// (SHA-256), the certificate's fingerprint, and an empty database key.
func CertOverrides(cert *x509.Certificate, hostPorts ...string) string {
	sum := sha256.Sum256(cert.Raw)
	hex := make([]string, len(sum))
	for i, b := range sum {
		hex[i] = fmt.Sprintf("%02X", b)
	}
	var b strings.Builder
	b.WriteString("# PSM Certificate Override Settings file\n# This is a generated file!  Do not edit.\n")
	for _, hp := range hostPorts {
		fmt.Fprintf(&b, "%s:\tOID.2.16.840.1.101.3.4.2.1\t%s\t\n", hp, strings.Join(hex, ":"))
	}
	return b.String()
}
