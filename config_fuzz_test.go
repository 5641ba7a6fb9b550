package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/node"
)

// FuzzConfig feeds arbitrary files and a flag to the configuration loader
// and the node's validation: errors, never a panic.
func FuzzConfig(f *testing.F) {
	f.Add([]byte("[media]\nport = 10500\n"), "--media-port=10600")
	f.Add([]byte("[http]\naddr = \":8443\"\n[auth]\nsecret = \"ssssssssssssssssssssssssssssssss\"\n"), "")
	f.Add([]byte("[cascade.links.eu]\ndelay = \"40ms\"\nloss = 0.02\n"), "--join=127.0.0.1:7946")
	f.Add([]byte("[limits]\ngone_after = 4\n"), "--log-level=loud")
	f.Add([]byte("[media]\nport = \"ten thousand\"\nallowed_networks = [1, 2]\n"), "")
	f.Add([]byte("[[cascade]]\nx = 1\n[cascade.links]\neu = 3\n"), "--region=")
	f.Add([]byte("[http\n"), "--media-port=-1")
	dir := f.TempDir()
	path := filepath.Join(dir, "config.toml")
	f.Fuzz(func(t *testing.T, file []byte, flag string) {
		if err := os.WriteFile(path, file, 0o600); err != nil {
			t.Fatal(err)
		}
		args := []string{"--config", path}
		if strings.HasPrefix(flag, "--") && flag != "--config" && !strings.HasPrefix(flag, "--config=") {
			args = append(args, flag)
		}
		c, err := loadConfig(args, io.Discard)
		if err != nil {
			return
		}
		// nodeConfig reads every key through the types the loader
		// checked; node.New validates without opening anything.
		n, err := node.New(nodeConfig(c), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			return
		}
		if len(configSummary(n.Config(), n.ID(), false)) == 0 {
			t.Fatal("a valid configuration with an empty summary")
		}
	})
}
