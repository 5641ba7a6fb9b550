package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/auth"
)

const tokenTestSecret = "0123456789abcdef0123456789abcdef"

// writeConfig writes a config file and returns its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTokenCommand(t *testing.T) {
	empty := writeConfig(t, "[log]\nlevel = \"info\"\n")
	fileSecret := strings.Repeat("f", 32)
	withSecret := writeConfig(t, "[auth]\nsecret = \""+fileSecret+"\"\n")
	tests := []struct {
		name    string
		args    []string
		env     string // SWITCHYARD_AUTH_SECRET
		secret  string // verifies with this
		room    string // verified for this room
		grants  auth.Grants
		ident   string
		display string
		ttl     time.Duration
	}{
		{name: "defaults", args: []string{"--room", "demo", "--name", "Ada", "--ttl", "2h", "--config", empty},
			env: tokenTestSecret, secret: tokenTestSecret, room: "demo", display: "Ada",
			grants: auth.Grants{Publish: true, Subscribe: true}, ttl: 2 * time.Hour},
		{name: "subscribe only", args: []string{"--room", "demo", "--subscribe-only", "--config", empty},
			env: tokenTestSecret, secret: tokenTestSecret, room: "demo",
			grants: auth.Grants{Subscribe: true}, ttl: time.Hour},
		{name: "moderator", args: []string{"--room", "team-*", "--moderator", "--identity", "u-7", "--ttl", "10m", "--config", empty},
			env: tokenTestSecret, secret: tokenTestSecret, room: "team-red", ident: "u-7",
			grants: auth.Grants{Publish: true, Subscribe: true, Moderator: true}, ttl: 10 * time.Minute},
		{name: "subscribe-only moderator", args: []string{"--room", "demo", "--subscribe-only", "--moderator", "--config", empty},
			env: tokenTestSecret, secret: tokenTestSecret, room: "demo",
			grants: auth.Grants{Subscribe: true, Moderator: true}, ttl: time.Hour},
		{name: "secret from config file", args: []string{"--room", "demo", "--config", withSecret},
			secret: fileSecret, room: "demo", grants: auth.Grants{Publish: true, Subscribe: true}, ttl: time.Hour},
		{name: "environment over file", args: []string{"--room", "demo", "--config", withSecret},
			env: tokenTestSecret, secret: tokenTestSecret, room: "demo", grants: auth.Grants{Publish: true, Subscribe: true}, ttl: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SWITCHYARD_AUTH_SECRET", tt.env)
			var stdout, stderr bytes.Buffer
			before := time.Now().Truncate(time.Second)
			if code := run(append([]string{"token"}, tt.args...), &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			out := stdout.String()
			if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
				t.Fatalf("output is not one line: %q", out)
			}
			tok := strings.TrimSpace(out)
			v := auth.Verifier{Secret: []byte(tt.secret)}
			c, err := v.Verify(tok, tt.room)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if c.Grants != tt.grants || c.Identity != tt.ident || c.Name != tt.display {
				t.Errorf("claims %+v, want grants %+v identity %q name %q", c, tt.grants, tt.ident, tt.display)
			}
			if got := c.ExpiresAt.Sub(c.IssuedAt.Time); got != tt.ttl {
				t.Errorf("ttl %v, want %v", got, tt.ttl)
			}
			if c.IssuedAt.Before(before) || c.IssuedAt.After(time.Now()) {
				t.Errorf("issued at %v, not now", c.IssuedAt)
			}
			if tt.secret != tokenTestSecret {
				if _, err := (auth.Verifier{Secret: []byte(tokenTestSecret)}).Verify(tok, tt.room); err == nil {
					t.Error("verifies with another secret")
				}
			}
		})
	}
}

func TestTokenCommandRefuses(t *testing.T) {
	empty := writeConfig(t, "")
	short := writeConfig(t, "[auth]\nsecret = \"short\"\n")
	tests := []struct {
		name, env, want string
		args            []string
	}{
		{"no secret", "", "auth.secret is not set", []string{"--room", "demo", "--config", empty}},
		{"short secret in environment", tokenTestSecret[:31], "at least 32", []string{"--room", "demo", "--config", empty}},
		{"short secret in file", "", "at least 32", []string{"--room", "demo", "--config", short}},
		{"missing explicit config", tokenTestSecret, "config", []string{"--room", "demo", "--config", filepath.Join(t.TempDir(), "nope.toml")}},
		{"no room", tokenTestSecret, "--room is required", []string{"--config", empty}},
		{"bad room", tokenTestSecret, "room", []string{"--room", "a b", "--config", empty}},
		{"bad ttl", tokenTestSecret, "ttl", []string{"--room", "demo", "--ttl", "-1h", "--config", empty}},
		{"unknown flag", tokenTestSecret, "unknown flag", []string{"--room", "demo", "--publish-only", "--config", empty}},
		{"stray argument", tokenTestSecret, "unexpected argument", []string{"--room", "demo", "--config", empty, "extra"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SWITCHYARD_AUTH_SECRET", tt.env)
			var stdout, stderr bytes.Buffer
			if code := tokenMain(context.Background(), tt.args, &stdout, &stderr); code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if stdout.Len() != 0 {
				t.Errorf("printed %q", stdout.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q does not mention %q", stderr.String(), tt.want)
			}
		})
	}
}

// The secret is never echoed, even when it is refused.
func TestTokenCommandHidesSecret(t *testing.T) {
	secret := "not-long-enough-but-private"
	t.Setenv("SWITCHYARD_AUTH_SECRET", secret)
	var stdout, stderr bytes.Buffer
	tokenMain(context.Background(), []string{"--room", "demo", "--config", writeConfig(t, "")}, &stdout, &stderr)
	if strings.Contains(stderr.String()+stdout.String(), secret) {
		t.Errorf("secret in output: %q", stderr.String())
	}
}
