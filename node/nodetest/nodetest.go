// Package nodetest starts a node on loopback with ephemeral ports for tests.
package nodetest

import (
	"context"
	"log/slog"
	"os"
	"testing"

	"github.com/switchyard/switchyard/node"
)

// Start runs a node on 127.0.0.1 with ephemeral HTTP and media ports, closed
// when the test ends. mutate, if not nil, adjusts the configuration first.
func Start(t testing.TB, mutate func(*node.Config)) *node.Node {
	t.Helper()
	cfg := node.DefaultConfig()
	cfg.ID = "test-node"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.MediaPort = 0
	if mutate != nil {
		mutate(&cfg)
	}
	level := slog.LevelWarn
	if os.Getenv("SWITCHYARD_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("node", cfg.ID)
	n, err := node.New(cfg, logger)
	if err != nil {
		t.Fatalf("nodetest: new node: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := n.Start(ctx); err != nil {
		cancel()
		t.Fatalf("nodetest: start node: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := n.Close(); err != nil {
			t.Logf("nodetest: close node: %v", err)
		}
	})
	return n
}
