package demo

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// A taken port is named and replaced by a free one.
func TestStartNodesPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().(*net.TCPAddr).Port

	o := options{nodes: 1, port: taken}
	var notice bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	nodes, err := startNodes(ctx, o, quietLogger(), &notice)
	if err != nil {
		t.Fatalf("startNodes with port %d taken: %v", taken, err)
	}
	defer closeNodes(nodes, 2*time.Second)
	if !strings.Contains(notice.String(), "port "+strconv.Itoa(taken)+" for us-east is taken") {
		t.Errorf("notice does not name the taken port %d: %q", taken, notice.String())
	}
	if strings.HasSuffix(nodes[0].URL(), ":"+strconv.Itoa(taken)) {
		t.Errorf("node URL %s still on the taken port", nodes[0].URL())
	}
}

// A node that stops answering is marked failed, with the reason, and not
// before two probes missed.
func TestProbeMarksFailedNode(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	nodes, err := startNodes(ctx, options{nodes: 1}, quietLogger(), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	n := nodes[0]
	hc := &http.Client{Timeout: time.Second}
	n.probe(ctx, hc, quietLogger())
	if f := n.Failed(); f != "" {
		t.Fatalf("healthy node marked failed: %s", f)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n.probe(ctx, hc, quietLogger())
	if f := n.Failed(); f != "" {
		t.Errorf("one missed probe marks the node failed: %s", f)
	}
	n.probe(ctx, hc, quietLogger())
	if n.Failed() == "" {
		t.Error("a closed node is not marked failed after two probes")
	}
	line := statusLine(Summary{Nodes: []NodeSummary{{ID: n.ID(), Failed: n.Failed()}}})
	if !strings.Contains(line, "us-east FAILED") {
		t.Errorf("status line does not show the failure: %s", line)
	}
}
