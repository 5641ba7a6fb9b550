package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
)

// TestConsoleInTmux runs the built binary in a real terminal (tmux) with the
// console, has a Go participant join, and drives the console with keys.
func TestConsoleInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("real-terminal test skipped in -short mode")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("SWITCHYARD_REQUIRE_TMUX") != "" {
			t.Fatal("tmux is required (SWITCHYARD_REQUIRE_TMUX is set) but not installed")
		}
		t.Skip("tmux not installed: apt-get install tmux to run the real-terminal console test")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "switchyard")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	port := freePort(t)
	session := "switchyard-test-" + strconv.Itoa(os.Getpid())
	cmd := strings.Join([]string{bin, "--config", filepath.Join(dir, "none.toml"),
		"--http", "127.0.0.1:" + strconv.Itoa(port), "--media-port", "0", "--region", "tmux-land", "--id", "tmux-node"}, " ")
	if err := os.WriteFile(filepath.Join(dir, "none.toml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tmux := func(args ...string) string {
		out, err := exec.Command("tmux", args...).CombinedOutput()
		if err != nil {
			t.Logf("tmux %v: %v: %s", args, err, out)
		}
		return string(out)
	}
	tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", "env", "TERM=xterm-256color", "sh", "-c", cmd+"; echo EXITED $?; sleep 30")
	t.Cleanup(func() { tmux("kill-session", "-t", session) })
	screen := func() string { return tmux("capture-pane", "-p", "-t", session) }
	waitFor := func(what string, cond func(string) bool) string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		var s string
		for time.Now().Before(deadline) {
			if s = screen(); cond(s) {
				return s
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("gave up waiting for %s; screen:\n%s", what, s)
		return ""
	}
	waitFor("the console header", func(s string) bool { return strings.Contains(s, "tmux-node") })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Join(ctx, client.Options{URL: "ws://127.0.0.1:" + strconv.Itoa(port) + "/ws",
		Room: "tmuxroom", Name: "alice", Region: "eu-test", PublishAudio: true, PublishVideo: true})
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	defer c.Close()

	waitFor("the room in the conferences view", func(s string) bool { return strings.Contains(s, "tmuxroom") })
	tmux("send-keys", "-t", session, "Enter")
	s := waitFor("alice with her region and an RTT in the room view", func(s string) bool {
		return strings.Contains(s, "alice") && strings.Contains(s, "eu-test")
	})
	t.Logf("room view:\n%s", s)
	tmux("send-keys", "-t", session, "Enter")
	s = waitFor("the participant detail", func(s string) bool {
		return strings.Contains(s, "alice") && (strings.Contains(s, "Subscriptions") || strings.Contains(s, "subscriptions") || strings.Contains(s, "Published") || strings.Contains(s, "published"))
	})
	t.Logf("participant view:\n%s", s)
	tmux("send-keys", "-t", session, "q")
	waitFor("the quit confirmation", func(s string) bool { return strings.Contains(strings.ToLower(s), "quit") })
	tmux("send-keys", "-t", session, "y")
	s = waitFor("the node to exit", func(s string) bool { return strings.Contains(s, "EXITED") })
	if !strings.Contains(s, "EXITED 0") {
		t.Fatalf("node exited with an error; screen:\n%s", s)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
