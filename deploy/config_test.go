package deploy

import (
	"maps"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestConfigValidates runs deploy/config.toml through the node's own
// configuration path (switchyard check-config: loadConfig, nodeConfig,
// node.New, certs.New; no socket is opened, so the placeholder addresses
// need no substitution), with the secrets the guide's environment file sets.
func TestConfigValidates(t *testing.T) {
	env := guideEnv(t, readGuide(t))
	noAuth := maps.Clone(env)
	delete(noAuth, "SWITCHYARD_AUTH_SECRET")
	tests := []struct {
		name string
		env  map[string]string
		code int
		want []string // in stdout (code 0) or stderr
	}{
		{"with the guide's environment file", env, 0, []string{
			"valid", "joins    token required", "https (ACME meet.example.org), redirect :80",
			"media    203.0.113.10 udp 10000, tcp 10000", "tls 0.0.0.0:5349; clients use meet.example.org", "api      api key"}},
		// The guide says a public node refuses to start without the secret.
		{"without SWITCHYARD_AUTH_SECRET", noAuth, 2, []string{"auth.secret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := run(t, tt.env, "check-config", "--config", mustAbs(t, configFile))
			if code != tt.code {
				t.Fatalf("check-config exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			got := out
			if code != 0 {
				got = errOut
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("check-config output lacks %q:\n%s", w, got)
				}
			}
		})
	}
}

// TestGuideConfigBlocks checks every toml block of the guide: the whole
// file is deploy/config.toml verbatim, and each set of changes, merged into
// it, still validates.
func TestGuideConfigBlocks(t *testing.T) {
	g := readGuide(t)
	env := guideEnv(t, g)
	full, fragments := g.tomlBlocks(t)
	if len(full) != 1 {
		t.Fatalf("%s: %d toml blocks start with %q, want exactly one (deploy/config.toml)", guideFile, len(full), fullConfigHeader)
	}
	if want := read(t, configFile); strings.TrimSpace(full[0].text) != strings.TrimSpace(want) {
		t.Errorf("%s:%d: the config shown differs from deploy/config.toml; copy the file into the guide", guideFile, full[0].line)
	}
	if len(fragments) == 0 {
		t.Fatalf("%s: no %q blocks (reverse proxy, NAT, cascade)", guideFile, fragmentHeader)
	}
	for _, f := range fragments {
		title := strings.TrimPrefix(strings.SplitN(f.text, "\n", 2)[0], fragmentHeader)
		t.Run(strings.Trim(title, ": "), func(t *testing.T) {
			path, v := mergedConfig(t, f.text)
			out, errOut, code := run(t, env, "check-config", "--config", path)
			if code != 0 {
				t.Fatalf("%s:%d: deploy/config.toml with these changes does not validate (exit %d):\n%s%s\n%s",
					guideFile, f.line, code, out, errOut, read(t, path))
			}
			// Every server the guide sets up admits only token holders; a
			// node on loopback behind a proxy does so only with auth.required.
			if !strings.Contains(out, "joins    token required") {
				t.Errorf("%s:%d: with these changes joins need no token:\n%s", guideFile, f.line, out)
			}
			// Clients are sent to signal_url (redirects, fallback); its
			// default, http://<http.addr>, is wrong behind a proxy and on a
			// wildcard address.
			if host, _, _ := net.SplitHostPort(v.GetString("http.addr")); v.GetBool("cascade.enabled") || host == "127.0.0.1" {
				if u := v.GetString("cascade.signal_url"); !strings.HasPrefix(u, "https://") {
					t.Errorf("%s:%d: cascade.signal_url = %q, want the node's public https:// URL", guideFile, f.line, u)
				}
			}
		})
	}
}

var goLine = regexp.MustCompile(`(?m)^go (\d+)\.(\d+)`)
var guideGo = regexp.MustCompile(`GO=go(\d+)\.(\d+)`)
var guideMin = regexp.MustCompile(`\((\d+)\.(\d+) or later\)`)

// TestGuideGoVersion keeps the Go version the guide installs at least the
// one go.mod needs.
func TestGuideGoVersion(t *testing.T) {
	m := goLine.FindStringSubmatch(read(t, goModFile))
	if m == nil {
		t.Fatal("go.mod: no go line")
	}
	need := version(m[1], m[2])
	g := readGuide(t)
	for name, re := range map[string]*regexp.Regexp{"GO=goX.Y": guideGo, "(X.Y or later)": guideMin} {
		got := re.FindStringSubmatch(g.text)
		switch {
		case got == nil:
			t.Errorf("%s: no %s", guideFile, name)
		case name == "GO=goX.Y" && version(got[1], got[2]) < need:
			t.Errorf("%s: installs Go %s.%s; go.mod needs %s.%s", guideFile, got[1], got[2], m[1], m[2])
		case name == "(X.Y or later)" && version(got[1], got[2]) != need:
			t.Errorf("%s: says Go %s.%s or later; go.mod's go line is %s.%s", guideFile, got[1], got[2], m[1], m[2])
		}
	}
}

func version(major, minor string) int {
	a, _ := strconv.Atoi(major)
	b, _ := strconv.Atoi(minor)
	return a*1000 + b
}

// TestGuideFirewallPorts checks that every port the guide's configurations
// listen on beyond loopback is opened by an nftables rule in the guide,
// with the right protocol.
func TestGuideFirewallPorts(t *testing.T) {
	g := readGuide(t)
	var rules []string
	for _, l := range strings.Split(g.text, "\n") {
		if strings.Contains(l, " dport ") {
			rules = append(rules, l)
		}
	}
	opened := func(proto string, port int) bool {
		re := regexp.MustCompile(`\b` + proto + ` dport (\{[^}]*\b` + strconv.Itoa(port) + `\b[^}]*\}|` + strconv.Itoa(port) + `\b)`)
		for _, r := range rules {
			if re.MatchString(r) {
				return true
			}
		}
		return false
	}
	_, fragments := g.tomlBlocks(t)
	configs := map[string]string{"deploy/config.toml": ""}
	for _, f := range fragments {
		configs[strings.SplitN(f.text, "\n", 2)[0]] = f.text
	}
	for name, fragment := range configs {
		_, v := mergedConfig(t, fragment)
		type need struct{ key, proto, addr string }
		var needs []need
		for _, k := range []string{"http.addr", "http.redirect_addr", "turn.tcp_addr", "turn.tls_addr"} {
			needs = append(needs, need{k, "tcp", v.GetString(k)})
		}
		needs = append(needs, need{"turn.udp_addr", "udp", v.GetString("turn.udp_addr")})
		mediaPort := strconv.Itoa(v.GetInt("media.port"))
		needs = append(needs, need{"media.port", "udp", net.JoinHostPort(v.GetString("media.ip"), mediaPort)})
		if tp := v.GetInt("media.tcp_port"); tp >= 0 {
			if tp == 0 {
				tp = v.GetInt("media.port")
			}
			needs = append(needs, need{"media.tcp_port", "tcp", net.JoinHostPort(v.GetString("media.ip"), strconv.Itoa(tp))})
		}
		if v.GetBool("cascade.enabled") {
			needs = append(needs, need{"cascade.relay_addr", "udp", v.GetString("cascade.relay_addr")},
				need{"cascade.gossip_addr", "udp", v.GetString("cascade.gossip_addr")},
				need{"cascade.gossip_addr", "tcp", v.GetString("cascade.gossip_addr")})
		}
		for _, n := range needs {
			if n.addr == "" {
				continue
			}
			host, p, err := net.SplitHostPort(n.addr)
			if err != nil {
				t.Errorf("%s: %s = %q: %v", name, n.key, n.addr, err)
				continue
			}
			if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
				continue // reached on the machine only
			}
			port, _ := strconv.Atoi(p)
			if !opened(n.proto, port) {
				t.Errorf("%s: %s listens on %s %d, but no nftables rule in %s opens it", name, n.key, n.proto, port, guideFile)
			}
		}
	}
}

// mustAbs is p made absolute: run starts the binary in a temporary directory.
func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
