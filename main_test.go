package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A node asked for the SSH console that cannot serve it stops with a clear
// message instead of running on without it.
func TestSSHFailureStopsTheNode(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	toml := "[console.ssh]\nhost_key = \"" + filepath.Join(dir, "hk") + "\"\nauthorized_keys = \"" + filepath.Join(dir, "missing") + "\"\n"
	if err := os.WriteFile(cfg, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"--headless", "--config", cfg, "--ssh",
			"--http", "127.0.0.1:0", "--media-port", "0", "--ssh-addr", "127.0.0.1:0"}, &stderr, &stderr)
	}()
	select {
	case code := <-done:
		if code == 0 {
			t.Fatalf("exit status 0; output:\n%s", stderr.String())
		}
		if !strings.Contains(stderr.String(), "ssh console") {
			t.Fatalf("the error does not name the SSH console:\n%s", stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the node runs on without the SSH console it was asked for:\n%s", stderr.String())
	}
}
