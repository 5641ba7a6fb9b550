package main

import (
	"bytes"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/linkemu"
	"github.com/switchyard/switchyard/node"
)

// nodeLoad is what run does before it starts a node: the node's own path.
func nodeLoad(args []string) (node.Config, error) {
	c, err := loadConfig(args, io.Discard)
	if err != nil {
		return node.Config{}, err
	}
	return nodeConfig(c), nil
}

// cleanEnv removes every SWITCHYARD_* variable for the test and sets env.
func cleanEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, envPrefix) {
			t.Setenv(name, "") // restored after the test
			os.Unsetenv(name)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// TestConfigRefused: every mistake is refused, by the node and by config
// check alike, with a message naming the key (and its flag and variable).
func TestConfigRefused(t *testing.T) {
	tests := []struct {
		name   string
		config string
		env    map[string]string
		args   []string
		want   []string
	}{
		{name: "misspelt key", config: "[media]\nprot = 10000\n",
			want: []string{"media.prot: unknown key; did you mean media.port?"}},
		{name: "key in the wrong section", config: "[http]\nport = 10000\n",
			want: []string{"http.port: unknown key; did you mean media.port?"}},
		{name: "misspelt key, transposed", config: "[http]\nacme_domian = [\"meet.example.org\"]\n",
			want: []string{"http.acme_domian: unknown key; did you mean http.acme_domains?"}},
		{name: "unknown key, nothing near", config: "[media]\nwhatever = 1\n",
			want: []string{"media.whatever: unknown key ("}},
		{name: "misspelt section", config: "[meida]\nport = 10000\n",
			want: []string{"[meida]: unknown section; did you mean [media]?"}},
		{name: "misspelt subsection", config: "[console.shh]\nenabled = true\n",
			want: []string{"[console.shh]: unknown section; did you mean [console.ssh]?"}},
		{name: "section given a value", config: "media = 10000\n",
			want: []string{"media: is a section"}},
		{name: "unknown variable", env: map[string]string{"SWITCHYARD_MEDIA_PROT": "10000"},
			want: []string{"SWITCHYARD_MEDIA_PROT: unknown environment variable; did you mean SWITCHYARD_MEDIA_PORT (media.port)?"}},
		{name: "int in words", config: "[media]\nport = \"ten thousand\"\n",
			want: []string{`media.port (--media-port, SWITCHYARD_MEDIA_PORT): "ten thousand" is not an integer`}},
		{name: "int variable not a number", env: map[string]string{"SWITCHYARD_MEDIA_PORT": "abc"},
			want: []string{`media.port (--media-port, SWITCHYARD_MEDIA_PORT): "abc" is not an integer (in the environment)`}},
		{name: "int flag not a number", args: []string{"--media-port", "abc"},
			want: []string{`media.port (--media-port, SWITCHYARD_MEDIA_PORT): "abc" is not an integer (on the command line)`}},
		{name: "int with a fraction", config: "[limits]\nmax_rooms = 10.5\n",
			want: []string{"limits.max_rooms (SWITCHYARD_LIMITS_MAX_ROOMS): 10.5 is not an integer"}},
		{name: "int quoted", config: "[limits]\nmax_rooms = \"100\"\n",
			want: []string{`limits.max_rooms (SWITCHYARD_LIMITS_MAX_ROOMS): "100" is a string, not an integer`}},
		{name: "bare duration", config: "[limits]\ngone_after = 4\n",
			want: []string{"limits.gone_after (SWITCHYARD_LIMITS_GONE_AFTER): 4 has no unit", "4 nanoseconds"}},
		{name: "bare duration variable", env: map[string]string{"SWITCHYARD_LIMITS_GONE_AFTER": "4"},
			want: []string{`limits.gone_after (SWITCHYARD_LIMITS_GONE_AFTER): "4" has no unit`}},
		{name: "bad duration", config: "[limits]\njoin_timeout = \"10 seconds\"\n",
			want: []string{`limits.join_timeout (SWITCHYARD_LIMITS_JOIN_TIMEOUT): "10 seconds" is not a duration`}},
		{name: "negative duration", config: "[http]\nidle_timeout = \"-30s\"\n",
			want: []string{`http.idle_timeout (SWITCHYARD_HTTP_IDLE_TIMEOUT): "-30s" is negative`}},
		{name: "negative port", config: "[media]\nport = -1\n",
			want: []string{"media.port (--media-port, SWITCHYARD_MEDIA_PORT): -1 is not a port"}},
		{name: "port too large", config: "[media]\ntcp_port = 70000\n",
			want: []string{"media.tcp_port (SWITCHYARD_MEDIA_TCP_PORT): 70000 is not a port"}},
		{name: "list given as a number", config: "[cascade]\njoin = 7946\n",
			want: []string{"cascade.join (--join, SWITCHYARD_CASCADE_JOIN): 7946 is not a list"}},
		{name: "list given as a string", config: "[media]\nallowed_networks = \"10.0.0.0/8\"\n",
			want: []string{`media.allowed_networks (SWITCHYARD_MEDIA_ALLOWED_NETWORKS): "10.0.0.0/8" is not a list: write ["10.0.0.0/8"]`}},
		{name: "bool in words", config: "[http]\npprof = \"yes\"\n",
			want: []string{`http.pprof (SWITCHYARD_HTTP_PPROF): "yes" is not a boolean`}},
		{name: "bool flag", args: []string{"--ssh=maybe"},
			want: []string{`console.ssh.enabled (--ssh, SWITCHYARD_CONSOLE_SSH_ENABLED): "maybe" is not a boolean`}},
		{name: "auth.required not a bool", env: map[string]string{"SWITCHYARD_AUTH_REQUIRED": "sometimes"},
			want: []string{`auth.required (SWITCHYARD_AUTH_REQUIRED): "sometimes" is not a boolean`}},
		{name: "address without a port", config: "[http]\naddr = \"localhost\"\n",
			want: []string{`http.addr (--http, SWITCHYARD_HTTP_ADDR): "localhost" is not an address (host:port)`}},
		{name: "join address without a port", args: []string{"--join", "10.0.0.2"},
			want: []string{`cascade.join (--join, SWITCHYARD_CASCADE_JOIN): "10.0.0.2" is not an address`}},
		{name: "IP that is a name", env: map[string]string{"SWITCHYARD_MEDIA_PUBLIC_IP": "meet.example.org"},
			want: []string{`media.public_ip (--public-ip, SWITCHYARD_MEDIA_PUBLIC_IP): "meet.example.org" is not an IP address`}},
		{name: "log level", config: "[log]\nlevel = \"loud\"\n",
			want: []string{`log.level (--log-level, SWITCHYARD_LOG_LEVEL): "loud" is not a log level`}},
		{name: "unknown link parameter", config: "[cascade.links.eu]\nlatency = \"40ms\"\n",
			want: []string{"cascade.links.eu.latency: unknown link parameter"}},
		{name: "misspelt link parameter", config: "[cascade.links.eu]\ndelai = \"40ms\"\n",
			want: []string{"cascade.links.eu.delai: unknown link parameter; did you mean cascade.links.eu.delay?"}},
		{name: "link delay without a unit", config: "[cascade.links.eu]\ndelay = 40\n",
			want: []string{"cascade.links.eu.delay: 40 has no unit"}},
		{name: "every mistake at once", config: "[media]\nport = \"x\"\nprot = 1\n", env: map[string]string{"SWITCHYARD_LIMITS_GONE_AFTER": "4"},
			want: []string{"media.port (", "media.prot:", "limits.gone_after ("}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t, tt.env)
			t.Chdir(t.TempDir())
			var args []string
			if tt.config != "" {
				args = append(args, "--config", writeConfig(t, tt.config))
			}
			args = append(args, tt.args...)

			_, err := nodeLoad(args)
			if err == nil {
				t.Fatalf("the node accepts it")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the node's error lacks %q:\n%v", w, err)
				}
			}

			var stdout, stderr bytes.Buffer
			if code := run(append([]string{"config", "check"}, args...), &stdout, &stderr); code != 2 {
				t.Fatalf("config check: exit %d, want 2\n%s%s", code, stdout.String(), stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("config check's error lacks %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}

// TestConfigAccepted: good files, variables and flags reach node.Config
// with their meaning.
func TestConfigAccepted(t *testing.T) {
	yes := true
	tests := []struct {
		name   string
		config string
		env    map[string]string
		args   []string
		check  func(node.Config) bool
	}{
		{name: "defaults", check: func(c node.Config) bool {
			return c.MediaPort == 10000 && c.GoneAfter == 4*time.Second && c.Auth.Required == nil
		}},
		{name: "file", config: "[media]\nport = 10500\n[limits]\ngone_after = \"2500ms\"\nmessage_rate = 10\n",
			check: func(c node.Config) bool {
				return c.MediaPort == 10500 && c.GoneAfter == 2500*time.Millisecond && c.MessageRate == 10
			}},
		{name: "variable over file", config: "[media]\nport = 10500\n", env: map[string]string{"SWITCHYARD_MEDIA_PORT": "10600"},
			check: func(c node.Config) bool { return c.MediaPort == 10600 }},
		{name: "flag over variable", env: map[string]string{"SWITCHYARD_MEDIA_PORT": "10600"}, args: []string{"--media-port", "10700"},
			check: func(c node.Config) bool { return c.MediaPort == 10700 }},
		{name: "list variable is comma-separated", env: map[string]string{"SWITCHYARD_CASCADE_JOIN": "10.0.0.2:7946, 10.0.0.3:7946"},
			check: func(c node.Config) bool {
				return len(c.Cascade.Join) == 2 && c.Cascade.Join[0] == "10.0.0.2:7946" && c.Cascade.Join[1] == "10.0.0.3:7946"
			}},
		{name: "list flag repeats", args: []string{"--join", "10.0.0.2:7946", "--join", "10.0.0.3:7946"},
			check: func(c node.Config) bool { return len(c.Cascade.Join) == 2 }},
		{name: "zero duration needs no unit", config: "[cascade]\nprobe_interval = 0\n",
			check: func(c node.Config) bool { return c.Cascade.ProbeInterval == 0 }},
		{name: "auth.required set", config: "[auth]\nrequired = true\n",
			check: func(c node.Config) bool { return c.Auth.Required != nil && *c.Auth.Required == yes }},
		{name: "auth.required from the environment", env: map[string]string{"SWITCHYARD_AUTH_REQUIRED": "false"},
			check: func(c node.Config) bool { return c.Auth.Required != nil && !*c.Auth.Required }},
		{name: "link tables", config: "[cascade.links.eu]\ndelay = \"40ms\"\njitter = \"5ms\"\nloss = 0\nrate = 2000000\n[cascade.links.us]\nloss = 0.01\n",
			check: func(c node.Config) bool {
				return c.Cascade.Links["eu"] == linkemu.Params{Delay: 40 * time.Millisecond, Jitter: 5 * time.Millisecond, RateBitsPerSec: 2_000_000} &&
					c.Cascade.Links["us"] == linkemu.Params{Loss: 0.01}
			}},
		{name: "empty and non-configuration variables", env: map[string]string{"SWITCHYARD_AUTH_SECRET": "", "SWITCHYARD_TEST_LOG": "1"},
			check: func(c node.Config) bool { return c.Auth.Secret == "" }},
		{name: "bools and addresses", args: []string{"--ssh", "--http", "[::1]:8080"}, env: map[string]string{"SWITCHYARD_HTTP_PPROF": "true"},
			check: func(c node.Config) bool { return c.Pprof && c.HTTPAddr == "[::1]:8080" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t, tt.env)
			t.Chdir(t.TempDir())
			var args []string
			if tt.config != "" {
				args = append(args, "--config", writeConfig(t, tt.config))
			}
			cfg, err := nodeLoad(append(args, tt.args...))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Errorf("not as configured: %+v", cfg)
			}
		})
	}
}

// TestConfigShow: one line per key with the source of its value, secrets
// masked.
func TestConfigShow(t *testing.T) {
	secrets := map[string]string{
		"auth.secret":    strings.Repeat("a", 32),
		"turn.secret":    strings.Repeat("t", 16),
		"http.api_key":   strings.Repeat("k", 24),
		"cascade.secret": strings.Repeat("c", 16),
	}
	cleanEnv(t, map[string]string{
		"SWITCHYARD_NODE_REGION":  "eu",
		"SWITCHYARD_AUTH_SECRET":  secrets["auth.secret"],
		"SWITCHYARD_TURN_SECRET":  secrets["turn.secret"],
		"SWITCHYARD_HTTP_API_KEY": secrets["http.api_key"],
	})
	t.Chdir(t.TempDir())
	path := writeConfig(t, "[media]\nport = 10500\n[cascade]\nsecret = \""+secrets["cascade.secret"]+"\"\n[cascade.links.us]\ndelay = \"40ms\"\n")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"config", "show", "--config", path, "--log-level", "debug"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	q := regexp.QuoteMeta
	for _, want := range []string{
		`limits.max_rooms = 100 +# default`,
		`media.port = 10500 +# file ` + q(path),
		`node.region = "eu" +# env SWITCHYARD_NODE_REGION`,
		`log.level = "debug" +# flag --log-level`,
		`limits.gone_after = "4s" +# default`,
		`cascade.links.us.delay = "40ms" +# file ` + q(path),
		`auth.required = false +# default: unset, so decided by http.addr \(required off loopback\)`,
		`auth.secret = "\*+" +# env SWITCHYARD_AUTH_SECRET`,
		`turn.secret = "\*+" +# env SWITCHYARD_TURN_SECRET`,
		`http.api_key = "\*+" +# env SWITCHYARD_HTTP_API_KEY`,
		`cascade.secret = "\*+" +# file ` + q(path),
	} {
		if !regexp.MustCompile(`(?m)^` + want + `$`).MatchString(out) {
			t.Errorf("no line matching %s in:\n%s", want, out)
		}
	}
	for key, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("%s shown in clear:\n%s", key, out)
		}
	}
	if n := strings.Count(out, "\n"); n < 60 {
		t.Errorf("%d lines, want one per key (60 or more)", n)
	}
}

// TestClosest: the suggestion is the intended key, and nothing when no key
// is near.
func TestClosest(t *testing.T) {
	keys := []string{"media.port", "media.tcp_port", "http.addr", "http.acme_domains", "limits.gone_after"}
	for _, tt := range []struct{ in, want string }{
		{"media.prot", "media.port"},
		{"meida.port", "media.port"},
		{"http.port", "media.port"},
		{"http.acme_domian", "http.acme_domains"},
		{"limits.gone_afer", "limits.gone_after"},
		{"media.whatever", ""},
		{"zzz", ""},
	} {
		if got := closest(tt.in, keys); got != tt.want {
			t.Errorf("closest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
