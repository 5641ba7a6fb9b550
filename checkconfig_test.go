package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckConfig(t *testing.T) {
	secret := strings.Repeat("s", 32)
	tests := []struct {
		name   string
		config string // "" = no --config flag, in an empty directory
		args   []string
		code   int
		want   string // in stdout (code 0) or stderr
	}{
		{name: "defaults without a file", code: 0, want: "defaults: valid"},
		{name: "loopback node", config: "[media]\nport = 10500\n", code: 0, want: "no token needed (loopback)"},
		{name: "public node with a secret", config: "[http]\naddr = \":8443\"\n[auth]\nsecret = \"" + secret + "\"\n",
			code: 0, want: "joins    token required"},
		{name: "flags override the file", config: "[media]\nport = 10500\n", args: []string{"--media-port", "10600"},
			code: 0, want: "udp 10600"},
		{name: "auth.required and link tables are known",
			config: "[auth]\nrequired = true\nsecret = \"" + secret + "\"\n[cascade.links.eu]\ndelay = \"40ms\"\n", code: 0, want: "token required"},
		{name: "misspelt key", config: "[http]\nacme_domian = [\"meet.example.org\"]\n", code: 2, want: "http.acme_domian: unknown key; did you mean http.acme_domains?"},
		{name: "public node without a secret", config: "[http]\naddr = \":8443\"\n", code: 2, want: "auth.secret"},
		{name: "redirect without https", config: "[http]\nredirect_addr = \":80\"\n", code: 2, want: "redirect_addr needs HTTPS"},
		{name: "ACME domain that is an address", config: "[http]\nacme_domains = [\"203.0.113.10\"]\n", code: 2, want: "an IP address"},
		{name: "missing certificate file", config: "[http]\ntls_cert = \"/nonexistent/c.pem\"\ntls_key = \"/nonexistent/k.pem\"\nacme_directory = \"\"\nacme_cache = \"\"\n",
			code: 2, want: "/nonexistent/c.pem"},
		{name: "bad log level", config: "[log]\nlevel = \"loud\"\n", code: 2, want: "log.level"},
		{name: "bad RED policy", config: "[media]\nred = \"always\"\n", code: 2, want: "media.red"},
		{name: "bad link key", config: "[cascade.links.eu]\nlatency = \"40ms\"\n", code: 2, want: "cascade.links.eu.latency: unknown link parameter"},
		{name: "not toml", config: "[http\n", code: 2, want: "config"},
		{name: "help", args: []string{"--help"}, code: 0, want: "--config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SWITCHYARD_AUTH_SECRET", "")
			t.Chdir(t.TempDir())
			args := []string{"check-config"}
			if tt.config != "" {
				args = append(args, "--config", writeConfig(t, tt.config))
			}
			args = append(args, tt.args...)
			var stdout, stderr bytes.Buffer
			code := run(args, &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout.String(), stderr.String())
			}
			got := stdout.String()
			if code != 0 || tt.name == "help" {
				got = stderr.String()
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, got)
			}
		})
	}
	t.Run("missing explicit file", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"check-config", "--config", filepath.Join(t.TempDir(), "none.toml")}, &stdout, &stderr); code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
	})
}
