package browsertest

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func post(t *testing.T, url, body string) int {
	t.Helper()
	resp, err := http.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestReporterCollects(t *testing.T) {
	r := NewReporter(t)
	if !strings.HasPrefix(r.URL("a"), "http://127.0.0.1:") {
		t.Fatalf("reporter not on loopback: %s", r.URL("a"))
	}
	tests := []struct {
		name, tag, body string
		status          int
	}{
		{"first", "a", `{"browser":"chromium","id":"p1","remotes":{"p2":{"video":{"framesDecoded":3}}}}`, 204},
		{"second replaces first", "a", `{"browser":"chromium","id":"p1","remotes":{"p2":{"video":{"framesDecoded":9}}}}`, 204},
		{"other page", "b", `{"browser":"firefox","id":"p2"}`, 204},
		{"not JSON", "c", `{"browser":`, 400},
	}
	for _, tc := range tests {
		if got := post(t, r.URL(tc.tag), tc.body); got != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.status)
		}
	}
	m := r.Latest()
	if len(m) != 2 {
		t.Fatalf("latest has %d pages, want 2: %v", len(m), m)
	}
	if got := m["a"].Remotes["p2"].Video.FramesDecoded; got != 9 {
		t.Errorf("page a framesDecoded %d, want the latest, 9", got)
	}
	if m["b"].Browser != "firefox" || m["b"].ID != "p2" {
		t.Errorf("page b = %+v", m["b"])
	}
	dump := r.Dump()
	for _, want := range []string{"--- a (2 reports)", "--- b (1 reports)", "undecodable report: c"} {
		if !strings.Contains(dump, want) {
			t.Errorf("dump lacks %q:\n%s", want, dump)
		}
	}
}

func TestReporterRefusesOtherRequests(t *testing.T) {
	r := NewReporter(t)
	resp, err := http.Get(r.URL("a"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET: status %d, want 404", resp.StatusCode)
	}
	if got := post(t, strings.TrimSuffix(r.URL("a"), "/report/a")+"/elsewhere", "{}"); got != http.StatusNotFound {
		t.Errorf("POST elsewhere: status %d, want 404", got)
	}
	if got := post(t, r.URL("big"), `{"browser":"`+strings.Repeat("x", maxReportSize)+`"}`); got != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized: status %d, want 413", got)
	}
}

func TestReporterKeepsRecordings(t *testing.T) {
	r := NewReporter(t)
	base := strings.TrimSuffix(r.URL("a"), "/a")
	tests := []struct {
		name, path, body string
		status           int
	}{
		{"first", "/a/recording", "webm-1", 204},
		{"second replaces first", "/a/recording", "webm-2", 204},
		{"other page", "/b/recording", "webm-b", 204},
		{"no tag", "//recording", "x", 404},
		{"nested tag", "/a/b/recording", "x", 404},
		{"other suffix", "/a/recordings", "x", 404},
	}
	for _, tc := range tests {
		if got := post(t, base+tc.path, tc.body); got != tc.status {
			t.Errorf("%s: POST %s: status %d, want %d", tc.name, tc.path, got, tc.status)
		}
	}
	for tag, want := range map[string]string{"a": "webm-2", "b": "webm-b", "c": ""} {
		if got := string(r.Recording(tag)); got != want {
			t.Errorf("recording of %s = %q, want %q", tag, got, want)
		}
	}
	// A recording is not a report.
	if m := r.Latest(); len(m) != 0 {
		t.Errorf("recordings showed up as reports: %v", m)
	}
}

func TestWaitForSeesLaterReport(t *testing.T) {
	r := NewReporter(t)
	go func() {
		time.Sleep(300 * time.Millisecond)
		resp, err := http.Post(r.URL("a"), "text/plain", strings.NewReader(`{"id":"p7"}`))
		if err != nil {
			t.Errorf("post: %v", err)
			return
		}
		resp.Body.Close()
	}()
	r.WaitFor(t, 20*time.Second, "page a to join", func(m map[string]Report) error {
		if m["a"].ID != "p7" {
			return ErrPending
		}
		return nil
	})
}

// fakeTB records how a helper ends the test instead of ending it.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Skipf(format string, a ...any)  { f.skipped = fmt.Sprintf(format, a...) }
func (f *fakeTB) Fatalf(format string, a ...any) { f.failed = fmt.Sprintf(format, a...) }

func TestMissingBrowser(t *testing.T) {
	const bin = "switchyard-no-such-browser"
	tests := []struct {
		require  string
		wantSkip bool
	}{
		{"", true},
		{"0", true},
		{"1", false},
	}
	for _, tc := range tests {
		t.Run("require="+tc.require, func(t *testing.T) {
			t.Setenv(RequireEnv, tc.require)
			f := &fakeTB{}
			lookBrowser(f, bin)
			if tc.wantSkip && (f.skipped == "" || f.failed != "") {
				t.Errorf("want a skip, got skip %q fail %q", f.skipped, f.failed)
			}
			if !tc.wantSkip && (f.failed == "" || f.skipped != "") {
				t.Errorf("want a failure, got skip %q fail %q", f.skipped, f.failed)
			}
			if msg := f.skipped + f.failed; !strings.Contains(msg, bin) || !strings.Contains(msg, RequireEnv) {
				t.Errorf("message %q should name the browser and %s", msg, RequireEnv)
			}
		})
	}
}

func TestFirefoxPrefs(t *testing.T) {
	js := userJS(firefoxPrefs)
	for _, want := range []string{
		`user_pref("media.navigator.streams.fake", true);`,
		`user_pref("media.peerconnection.ice.loopback", true);`,
		`user_pref("media.peerconnection.ice.obfuscate_host_addresses", false);`,
		`user_pref("media.autoplay.default", 0);`,
		`user_pref("browser.startup.homepage_override.mstone", "ignore");`,
	} {
		if !strings.Contains(js, want) {
			t.Errorf("user.js lacks %s", want)
		}
	}
}

// probePage asks for the fake camera and microphone and reports what it got,
// which proves the flags and prefs give a page devices and a way to report.
const probePage = `<!doctype html><script type="module">
const report = new URLSearchParams(location.search).get('report');
let id = '', errors = [];
try {
  const s = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
  id = s.getTracks().map((t) => t.kind).sort().join('+');
} catch (err) { errors.push(String(err)); }
const browser = /Firefox\//.test(navigator.userAgent) ? 'firefox' : 'chromium';
setInterval(() => fetch(report, {method: 'POST', mode: 'no-cors',
  body: JSON.stringify({browser, id, errors})}), 500);
</script>`

func TestBrowsersGetDevicesAndReport(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real browsers; skipped with -short")
	}
	tests := []struct {
		name   string
		launch func(testing.TB, string) *Browser
	}{
		{"chromium", Chromium},
		{"firefox", Firefox},
	}
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, probePage)
	}))
	defer page.Close()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReporter(t)
			b := tc.launch(t, page.URL+"/?report="+url.QueryEscape(r.URL(tc.name)))
			r.WaitFor(t, 45*time.Second, "the page to report its devices", func(m map[string]Report) error {
				got := m[tc.name]
				if len(got.Errors) > 0 {
					return fmt.Errorf("page errors: %v", got.Errors)
				}
				if got.ID != "audio+video" || got.Browser != tc.name {
					return fmt.Errorf("%w: report %+v", ErrPending, got)
				}
				return nil
			}, b)
		})
	}
}

// TestDevTools drives a Chromium page: expressions (a promise, a thrown
// error) and a screenshot at a chosen viewport size.
func TestDevTools(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real browser; skipped with -short")
	}
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><body style="margin:0;background:#0f0"><script>window.answer = 42;</script>`)
	}))
	defer page.Close()
	b := Options{DevTools: true}.Chromium(t, page.URL)
	d := b.DevTools(t)
	var got json.RawMessage
	deadline := time.Now().Add(30 * time.Second)
	for string(got) != "42" {
		// Until the page has loaded, its context may be replaced mid-call.
		var err error
		got, err = d.Eval(`new Promise((r) => setTimeout(() => r(window.answer ?? null), 10))`, 10*time.Second)
		if time.Now().After(deadline) {
			t.Fatalf("window.answer = %s (%v), want 42", got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := d.Eval(`throw new Error("boom")`, 10*time.Second); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("a thrown error gave %v, want one naming boom", err)
	}
	if err := d.SetViewport(320, 200); err != nil {
		t.Fatal(err)
	}
	shot, err := d.Screenshot()
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatal(err)
	}
	if r := img.Bounds(); r.Dx() != 320 || r.Dy() != 200 {
		t.Errorf("screenshot %dx%d, want 320x200", r.Dx(), r.Dy())
	}
	if r, g, bl, _ := img.At(10, 10).RGBA(); r>>8 > 10 || g>>8 < 245 || bl>>8 > 10 {
		t.Errorf("screenshot pixel %d,%d,%d, want the page's green", r>>8, g>>8, bl>>8)
	}
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		stat  string
		state byte
		pgrp  int
		ok    bool
	}{
		{"4242 (chromium) S 1 4242 4242 0 -1", 'S', 4242, true},
		{"4243 (Web Content) Z 4242 4242 4242 0", 'Z', 4242, true},
		{"4244 (a) b) (c) R 1 77 77 0", 'R', 77, true},
		{"4245 (no close paren S 1 2", 0, 0, false},
		{"4246 (short) S 1", 0, 0, false},
		{"4247 (bad) S 1 x 0", 0, 0, false},
	}
	for _, tc := range tests {
		state, pgrp, ok := parseStat(tc.stat)
		if state != tc.state || pgrp != tc.pgrp || ok != tc.ok {
			t.Errorf("parseStat(%q) = %c, %d, %v; want %c, %d, %v", tc.stat, state, pgrp, ok, tc.state, tc.pgrp, tc.ok)
		}
	}
}

func TestTrustCertificate(t *testing.T) {
	cert := &x509.Certificate{Raw: []byte("certificate"), RawSubjectPublicKeyInfo: []byte("public key")}
	spki := sha256.Sum256([]byte("public key"))
	o := TrustCertificate(cert, "127.0.0.1:8443", "localhost:3478")
	if want := "--ignore-certificate-errors-spki-list=" + base64.StdEncoding.EncodeToString(spki[:]); len(o.ChromiumFlags) != 1 || o.ChromiumFlags[0] != want {
		t.Errorf("chromium flags %q, want [%s]", o.ChromiumFlags, want)
	}
	sum := sha256.Sum256([]byte("certificate"))
	fp := strings.ToUpper(hex.EncodeToString(sum[:2])) // first bytes, colon-separated below
	overrides := o.FirefoxFiles["cert_override.txt"]
	for _, hp := range []string{"127.0.0.1:8443", "localhost:3478"} {
		prefix := hp + ":\tOID.2.16.840.1.101.3.4.2.1\t" + fp[:2] + ":" + fp[2:4] + ":"
		if !strings.Contains(overrides, "\n"+prefix) {
			t.Errorf("cert_override.txt lacks a line starting %q:\n%s", prefix, overrides)
		}
	}
	for _, line := range strings.Split(overrides, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if f := strings.Split(line, "\t"); len(f) != 4 || len(f[2]) != 32*3-1 {
			t.Errorf("override line %q: want host:port:, OID, a 32-byte fingerprint and an empty key", line)
		}
	}
}
