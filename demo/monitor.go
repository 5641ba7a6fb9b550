package demo

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/switchyard/switchyard/node/snapshot"
)

// monitorPeriod is how often the demo probes the nodes and reads their state.
const monitorPeriod = time.Second

// monitor watches the nodes: whether they answer, and the peaks the final
// summary reports (a conference spanning nodes may have shrunk by the end).
type monitor struct {
	nodes []*demoNode
	log   *slog.Logger
	hc    *http.Client

	mu        sync.Mutex
	cascaded  bool             // some node reported a cascade; guarded by mu
	confNodes map[string]int   // most nodes one snapshot listed per conference; guarded by mu
	relayPeak map[string]int64 // peak relay bitrate per node; guarded by mu
	relayNow  map[string]int64 // latest relay bitrate per node; guarded by mu
	relayLast map[string]relaySample
}

// relaySample is a node's relay byte counters at one instant, to derive a
// bitrate from two of them.
type relaySample struct {
	at    time.Time
	bytes uint64
}

func newMonitor(nodes []*demoNode, logger *slog.Logger) *monitor {
	return &monitor{
		nodes: nodes, log: logger,
		hc:        &http.Client{Timeout: 900 * time.Millisecond},
		confNodes: map[string]int{},
		relayPeak: map[string]int64{},
		relayNow:  map[string]int64{},
		relayLast: map[string]relaySample{},
	}
}

// run probes every node each period until ctx ends.
func (m *monitor) run(ctx context.Context) {
	t := time.NewTicker(monitorPeriod)
	defer t.Stop()
	for {
		m.observe(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// observe probes the nodes concurrently, so a hung one delays no other.
func (m *monitor) observe(ctx context.Context) {
	var wg sync.WaitGroup
	for _, n := range m.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.probe(ctx, m.hc, m.log)
		}()
	}
	wg.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range m.nodes {
		s := n.snapshot()
		if s.Node.Cascade != nil || len(s.Node.Peers) > 0 {
			m.cascaded = true
		}
		rate := m.relayRate(n.ID(), s)
		m.relayNow[n.ID()] = rate
		m.relayPeak[n.ID()] = max(m.relayPeak[n.ID()], rate)
		for _, c := range s.Conferences {
			m.confNodes[c.Name] = max(m.confNodes[c.Name], len(c.Nodes))
		}
	}
}

// relayRate is everything a node sends to and receives from its peers, in
// bits/s: what the node reports or, when it reports none, what its byte
// counters grew by since the last observation. Called with mu held.
func (m *monitor) relayRate(id string, s snapshot.Snapshot) int64 {
	var reported int64
	var bytes uint64
	for _, p := range s.Node.Peers {
		reported += p.BitrateIn + p.BitrateOut
		for _, b := range p.BytesIn {
			bytes += b
		}
		for _, b := range p.BytesOut {
			bytes += b
		}
	}
	prev, ok := m.relayLast[id]
	m.relayLast[id] = relaySample{s.Taken, bytes}
	if reported > 0 || !ok || bytes < prev.bytes || !s.Taken.After(prev.at) {
		return reported
	}
	return int64(float64(bytes-prev.bytes) * 8 / s.Taken.Sub(prev.at).Seconds())
}

// relay is a node's latest relay bitrate.
func (m *monitor) relay(id string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.relayNow[id]
}

// peaks returns what the monitor has seen so far.
func (m *monitor) peaks() (cascaded bool, confNodes map[string]int, relayPeak map[string]int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	confNodes = make(map[string]int, len(m.confNodes))
	for k, v := range m.confNodes {
		confNodes[k] = v
	}
	relayPeak = make(map[string]int64, len(m.relayPeak))
	for k, v := range m.relayPeak {
		relayPeak[k] = v
	}
	return m.cascaded, confNodes, relayPeak
}
