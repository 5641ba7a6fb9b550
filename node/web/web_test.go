package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path"
	"regexp"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := Handler()
	tests := []struct {
		name, method, path string
		status             int
		contentType        string
		body               string // substring the body must contain
	}{
		{"join form", "GET", "/", 200, "text/html", `id="join-form"`},
		{"deep link", "GET", "/r/demo?name=ann", 200, "text/html", `src="/assets/app.js"`},
		{"deep link with dots", "GET", "/r/team.a-1_b", 200, "text/html", `id="room-view"`},
		{"bad room", "GET", "/r/a%20b", 400, "text/plain", "room names"},
		{"room too long", "GET", "/r/" + strings.Repeat("x", 65), 400, "text/plain", "room names"},
		{"script", "GET", "/assets/app.js", 200, "text/javascript", "import"},
		{"module", "GET", "/assets/session.js", 200, "text/javascript", "RTCPeerConnection"},
		{"style", "GET", "/assets/style.css", 200, "text/css", ".tile"},
		{"missing asset", "GET", "/assets/nope.js", 404, "", ""},
		{"no listing", "GET", "/assets/", 404, "", ""},
		{"no index under assets", "GET", "/assets/index.html", 404, "", ""},
		{"nested room path", "GET", "/r/demo/x", 404, "", ""},
		{"unknown path", "GET", "/ws-not-here", 404, "", ""},
		{"post refused", "POST", "/", 405, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.status {
				t.Fatalf("%s %s: status %d, want %d", tc.method, tc.path, rec.Code, tc.status)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
				t.Errorf("Content-Type %q, want prefix %q", ct, tc.contentType)
			}
			if !strings.Contains(rec.Body.String(), tc.body) {
				t.Errorf("body lacks %q", tc.body)
			}
		})
	}
}

func TestPageHeaders(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/r/demo", nil))
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "ws:", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
}

var importRE = regexp.MustCompile(`(?m)^import .* from '\./([^']+)';$`)

// TestModulesResolve checks every relative import of every module names an
// embedded file, and that each stays small enough to read.
func TestModulesResolve(t *testing.T) {
	files, err := fs.Glob(static, "static/*.js")
	if err != nil || len(files) == 0 {
		t.Fatalf("no embedded modules (%v)", err)
	}
	for _, f := range files {
		src, err := fs.ReadFile(static, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range importRE.FindAllStringSubmatch(string(src), -1) {
			if _, err := fs.Stat(static, path.Join("static", m[1])); err != nil {
				t.Errorf("%s imports %s, which is not embedded", f, m[1])
			}
		}
		if n := strings.Count(string(src), "\n"); n > 400 {
			t.Errorf("%s has %d lines; split it", f, n)
		}
	}
}

// TestModulesParse runs each module through node's syntax check, when node is
// installed, so a typo fails here rather than in a browser.
func TestModulesParse(t *testing.T) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node (JavaScript) not installed; syntax not checked")
	}
	files, _ := fs.Glob(static, "static/*.js")
	for _, f := range files {
		t.Run(path.Base(f), func(t *testing.T) {
			cmd := exec.Command(nodeBin, "--input-type=module", "--check")
			in, err := static.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			cmd.Stdin = in
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", f, err, out)
			}
		})
	}
}

func TestPageNotCached(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/r/demo?name=a&region=eu")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("status %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
}
