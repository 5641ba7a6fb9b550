package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/linkemu"
	"github.com/switchyard/switchyard/node"
	"github.com/switchyard/switchyard/node/snapshot"
)

// demoNode is one running node and what the demo has seen of its health.
type demoNode struct {
	*node.Node
	region string

	mu       sync.Mutex
	failed   string // why the node stopped answering; "" while healthy
	misses   int    // consecutive failed probes; guarded by mu
	lastSnap snapshot.Snapshot
}

// Failed says why the node stopped answering, "" while it is healthy.
func (d *demoNode) Failed() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.failed
}

// wsURL is the node's signaling endpoint.
func (d *demoNode) wsURL() string {
	return "ws" + strings.TrimPrefix(d.URL(), "http") + "/ws"
}

// Err reports the node as down once it stopped answering, for the console
// (console.Health).
func (d *demoNode) Err() error {
	if f := d.Failed(); f != "" {
		return fmt.Errorf("node %s stopped answering: %s", d.ID(), f)
	}
	return nil
}

// nodeConfig is the configuration of the node for region i of the demo.
func nodeConfig(o options, i int, httpPort int, secret string, join []string) node.Config {
	region := regions[i]
	cfg := node.DefaultConfig()
	cfg.ID = nodeID(region)
	cfg.Region = region
	cfg.HTTPAddr = "127.0.0.1:" + strconv.Itoa(httpPort)
	cfg.MediaIP = "127.0.0.1"
	cfg.MediaPort = 0
	if o.nodes > 1 {
		links := make(map[string]linkemu.Params, o.nodes-1)
		for j := range o.nodes {
			if j != i {
				links[nodeID(regions[j])] = relayLink(region, regions[j])
			}
		}
		cfg.Cascade.Enabled = true
		cfg.Cascade.Secret = secret
		cfg.Cascade.RelayAddr = "127.0.0.1:0"
		cfg.Cascade.GossipAddr = "127.0.0.1:0"
		cfg.Cascade.Join = join
		cfg.Cascade.Links = links
		// A demo should show a failed node within a couple of seconds.
		cfg.Cascade.ProbeInterval = 500 * time.Millisecond
		cfg.Cascade.ProbeTimeout = 250 * time.Millisecond
		cfg.Cascade.DrainTimeout = 5 * time.Second
	}
	return cfg
}

// startNodes starts o.nodes nodes, the first one first so that the others can
// join its gossip address. A taken port is reported on notice and replaced by
// a free one. On error every node already started is closed.
func startNodes(ctx context.Context, o options, logger *slog.Logger, notice io.Writer) ([]*demoNode, error) {
	secret, err := newSecret()
	if err != nil {
		return nil, err
	}
	var nodes []*demoNode
	var join []string
	for i := range o.nodes {
		port := 0
		if o.port != 0 {
			port = o.port + i
		}
		n, err := startNode(ctx, nodeConfig(o, i, port, secret, join), logger)
		if err != nil && port != 0 && errors.Is(err, syscall.EADDRINUSE) {
			fmt.Fprintf(notice, "demo: port %d for %s is taken; using a free port instead\n", port, regions[i])
			n, err = startNode(ctx, nodeConfig(o, i, 0, secret, join), logger)
		}
		if err != nil {
			closeNodes(nodes, time.Second)
			return nil, fmt.Errorf("start node %s: %w", regions[i], err)
		}
		nodes = append(nodes, &demoNode{Node: n, region: regions[i]})
		if g := n.GossipAddr(); i == 0 && g != "" {
			join = []string{g}
		}
	}
	return nodes, nil
}

func startNode(ctx context.Context, cfg node.Config, logger *slog.Logger) (*node.Node, error) {
	n, err := node.New(cfg, logger.With("node", cfg.ID))
	if err != nil {
		return nil, err
	}
	if err := n.Start(ctx); err != nil {
		_ = n.Close()
		return nil, err
	}
	return n, nil
}

func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("cascade secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// closeNodes closes every node at once and gives up waiting after d.
func closeNodes(nodes []*demoNode, d time.Duration) bool {
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = n.Close()
		}()
	}
	return waitTimeout(&wg, d)
}

// waitTimeout waits for wg up to d and reports whether it finished.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// probe asks the node's API whether it still answers, the way an operator
// would notice a dead node, and keeps its latest snapshot. Two misses in a
// row mark it failed; an answer clears that.
func (d *demoNode) probe(ctx context.Context, hc *http.Client, logger *slog.Logger) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.URL()+"/api/v1/node", nil)
	var resp *http.Response
	if err == nil {
		resp, err = hc.Do(req)
	}
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("API answered %s", resp.Status)
		}
	}
	if ctx.Err() != nil {
		return // the demo is stopping, not the node failing
	}
	snap := d.Snapshot()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lastSnap = snap
	if err == nil {
		if d.failed != "" {
			logger.Warn("node answers again", "node", d.ID())
		}
		d.failed, d.misses = "", 0
		return
	}
	d.misses++
	if d.misses >= 2 && d.failed == "" {
		d.failed = err.Error()
		logger.Error("node failed", "node", d.ID(), "err", err)
	}
}

// snapshot is the node's latest snapshot taken by probe.
func (d *demoNode) snapshot() snapshot.Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lastSnap
}
