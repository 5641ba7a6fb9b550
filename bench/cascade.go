package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/loadgen"
	"github.com/switchyard/switchyard/node/snapshot"
)

// CascadeFigures are a cascade scenario's figures per node, per relay link
// and per pair of nodes. Result.Node then holds the nodes' sums.
type CascadeFigures struct {
	Nodes []CascadeNodeFigures `json:"nodes"`
	// Links are directed: what From relayed to To over the window.
	Links []RelayLinkFigures `json:"links"`
	// Pairs are undirected: the delay one relay hop adds between
	// participants on the two nodes (the nodes form a full mesh, so every
	// cross-node pair is one hop).
	Pairs []NodePairFigures `json:"pairs"`
	// Redirected is how many participants the node they dialled (the
	// first) sent to a node of their region.
	Redirected int `json:"participants_redirected"`
}

// CascadeNodeFigures are one node's figures over the window. Its packets
// are those forwarded to its own subscribers (the node's
// switchyard_packets_sent_total); relay traffic is in Links.
type CascadeNodeFigures struct {
	ID     string `json:"id"`
	Region string `json:"region"`
	NodeFigures
}

// RelayLinkFigures is one direction of a relay link, from the sender's
// snapshot (GET /api/v1/node, the snapshot's node part) at both ends of the
// window. Bytes are sealed datagram bytes.
type RelayLinkFigures struct {
	From string `json:"from"`
	To   string `json:"to"`
	// BytesPerSec by what the datagrams carried: "q", "h", "f", "audio"
	// (and "rtcp", "message" for control).
	BytesPerSec map[string]float64 `json:"bytes_per_sec"`
	// SkippedBytesPerSec is video From did not send because nobody on To
	// needed that layer (Octo would have sent it); SavingsPct is that share
	// of all the video Octo would have sent.
	SkippedBytesPerSec float64 `json:"skipped_bytes_per_sec"`
	SavingsPct         float64 `json:"savings_pct"`
	// NACKsByReceiver are packets To asked From to resend; NACKsAnswered
	// those From resent from its cache; Repaired the gaps on To they filled.
	NACKsByReceiver uint64 `json:"nacks_sent_by_receiver"`
	NACKsAnswered   uint64 `json:"nacks_answered_by_sender"`
	Repaired        uint64 `json:"repaired_by_receiver"`
	// RelayRTTMs is From's smoothed relay ping round trip to To at the end
	// of the window; EmulatedDelayMs the one-way delay From adds to To.
	RelayRTTMs      float64 `json:"relay_rtt_ms"`
	EmulatedDelayMs float64 `json:"emulated_delay_ms"`
}

// NodePairFigures compare the round trip between participants on two nodes
// with that between participants on one node.
type NodePairFigures struct {
	A string `json:"a"`
	B string `json:"b"`
	// EmulatedRTTMs is twice the configured one-way delay; RelayRTTMs the
	// relay's own ping, averaged over both ends.
	EmulatedRTTMs float64 `json:"emulated_rtt_ms"`
	RelayRTTMs    float64 `json:"relay_rtt_ms"`
	// PingRTTP50Ms is the load generator's participant-to-participant ping
	// (an endpoint message and its answer through the nodes' signaling and
	// the relay) between a participant on A and one on B, median of
	// PingSamples; SameNodePingRTTP50Ms the same for pairs on one node.
	PingRTTP50Ms         float64 `json:"ping_rtt_p50_ms"`
	PingSamples          int     `json:"ping_samples"`
	SameNodePingRTTP50Ms float64 `json:"same_node_ping_rtt_p50_ms"`
	// AddedRTTMs is the round trip the hop adds: with pings on both sides,
	// PingRTTP50Ms - SameNodePingRTTP50Ms; without, the relay ping.
	// AddedRTTSource says which ("load generator pings" or "relay ping"),
	// and AddedOverEmulationMs is what the nodes add beyond the emulated
	// delay (AddedRTTMs - EmulatedRTTMs).
	AddedRTTMs           float64 `json:"added_rtt_ms"`
	AddedRTTSource       string  `json:"added_rtt_source"`
	AddedOverEmulationMs float64 `json:"added_over_emulation_ms"`
}

const (
	sourcePings     = "load generator pings"
	sourceRelayPing = "relay ping"
)

// newSecret is a fresh cluster secret for one run.
func newSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("bench: cluster secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// cascadeTOML is a node's configuration file for a cascade scenario: relay
// and gossip on loopback ports the kernel picks, the others' gossip
// addresses to join, and an emulated link to every other node. The links
// are tables, which environment variables cannot express.
func cascadeTOML(self string, peers []string, cs *CascadeSpec, secret string, join []string) string {
	var b strings.Builder
	b.WriteString("[cascade]\nenabled = true\n")
	fmt.Fprintf(&b, "secret = %s\n", strconv.Quote(secret))
	b.WriteString("relay_addr = \"127.0.0.1:0\"\ngossip_addr = \"127.0.0.1:0\"\n")
	quoted := make([]string, len(join))
	for i, j := range join {
		quoted[i] = strconv.Quote(j)
	}
	fmt.Fprintf(&b, "join = [%s]\n", strings.Join(quoted, ", "))
	// The bench stops nodes once the load has left; nobody is left to move.
	b.WriteString("drain_timeout = \"2s\"\n")
	for _, p := range peers {
		if p == self {
			continue
		}
		if d := cs.delayMs(self, p); d > 0 {
			fmt.Fprintf(&b, "\n[cascade.links.%s]\ndelay = %q\n", strings.ToLower(p),
				time.Duration(d*float64(time.Millisecond)).String())
		}
	}
	return b.String()
}

// clusterReady says whether every node sees every other one as alive on the
// relay, with a measured round trip; if not, what is missing.
func clusterReady(states []nodeAPI) (bool, string) {
	var missing []string
	for _, s := range states {
		for _, o := range states {
			if o.ID == s.ID {
				continue
			}
			i := slices.IndexFunc(s.Peers, func(p snapshot.Peer) bool { return p.ID == o.ID })
			switch {
			case i < 0:
				missing = append(missing, s.ID+" does not know "+o.ID)
			case !s.Peers[i].Alive || !(s.Peers[i].RTTMs > 0):
				missing = append(missing, s.ID+" has no live relay link to "+o.ID)
			}
		}
	}
	return len(missing) == 0, strings.Join(missing, "; ")
}

// awaitCluster polls the nodes until each sees the others (at most limit).
func awaitCluster(ctx context.Context, nodes []*nodeProc, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	why := "no answer yet"
	for {
		states := make([]nodeAPI, 0, len(nodes))
		for _, np := range nodes {
			s, err := getNode(ctx, np.base)
			if err != nil {
				why = err.Error()
				break
			}
			states = append(states, s)
		}
		if len(states) == len(nodes) {
			var ok bool
			if ok, why = clusterReady(states); ok {
				return nil
			}
		}
		for _, np := range nodes {
			if np.exited() {
				return fmt.Errorf("bench: node exited while the cluster formed: %s", lastLines(np.tail(), 3))
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("bench: cascade did not form in %s: %s", limit, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// linkFigures compares each node's peers between two samples: one entry per
// direction, in the order of the nodes and of their peers.
func linkFigures(s0, s1 []sample, cs *CascadeSpec) []RelayLinkFigures {
	var out []RelayLinkFigures
	for i := range s1 {
		win := s1[i].at.Sub(s0[i].at).Seconds()
		if win <= 0 {
			continue
		}
		from := s1[i].api.ID
		for _, p := range s1[i].api.Peers {
			before := peerNamed(s0[i].api.Peers, p.ID)
			l := RelayLinkFigures{
				From: from, To: p.ID, BytesPerSec: map[string]float64{},
				NACKsAnswered: sub(before.NACKsAnswer, p.NACKsAnswer),
				RelayRTTMs:    round(p.RTTMs, 2), EmulatedDelayMs: cs.delayMs(from, p.ID),
			}
			var video float64
			for layer, n := range p.BytesOut {
				d := float64(sub(before.BytesOut[layer], n))
				l.BytesPerSec[layer] = round(d/win, 0)
				if layer == "q" || layer == "h" || layer == "f" {
					video += d
				}
			}
			skipped := float64(sub(before.SkippedBytes, p.SkippedBytes))
			l.SkippedBytesPerSec = round(skipped/win, 0)
			if skipped+video > 0 {
				l.SavingsPct = round(100*skipped/(skipped+video), 1)
			}
			// The receiver's side of the repair is in its own snapshot.
			for j := range s1 {
				if s1[j].api.ID != p.ID {
					continue
				}
				back0, back1 := peerNamed(s0[j].api.Peers, from), peerNamed(s1[j].api.Peers, from)
				l.NACKsByReceiver = sub(back0.NACKsSent, back1.NACKsSent)
				l.Repaired = sub(back0.Repaired, back1.Repaired)
			}
			out = append(out, l)
		}
	}
	return out
}

func peerNamed(peers []snapshot.Peer, id string) snapshot.Peer {
	for _, p := range peers {
		if p.ID == id {
			return p
		}
	}
	return snapshot.Peer{}
}

// sub is a counter's growth; a counter that went back (a peer forgotten and
// met again) restarted from zero.
func sub(before, after uint64) uint64 {
	if after < before {
		return after
	}
	return after - before
}

// pairFigures sets the load generator's pings per pair of nodes against the
// emulated and the relay's round trips, for every pair of ids in order.
func pairFigures(ids []string, links []RelayLinkFigures, rep *loadgen.Report, cs *CascadeSpec) []NodePairFigures {
	var out []NodePairFigures
	for i, a := range ids {
		for _, b := range ids[i+1:] {
			p := NodePairFigures{A: a, B: b, EmulatedRTTMs: 2 * cs.delayMs(a, b)}
			var rtt, n float64
			for _, l := range links {
				if ((l.From == a && l.To == b) || (l.From == b && l.To == a)) && l.RelayRTTMs > 0 {
					rtt += l.RelayRTTMs
					n++
				}
			}
			if n > 0 {
				p.RelayRTTMs = round(rtt/n, 2)
				p.AddedRTTMs, p.AddedRTTSource = p.RelayRTTMs, sourceRelayPing
			}
			if rep != nil {
				x, y := min(a, b), max(a, b)
				k := slices.IndexFunc(rep.RTTByNodes, func(r loadgen.PairRTT) bool { return r.A == x && r.B == y })
				if k >= 0 {
					p.PingRTTP50Ms, p.PingSamples = rep.RTTByNodes[k].RTT.P50, rep.RTTByNodes[k].RTT.N
				}
				same := rep.RTTSameNodeMs
				if same != nil {
					p.SameNodePingRTTP50Ms = same.P50
				}
				if p.PingSamples > 0 && same != nil && same.N > 0 {
					p.AddedRTTMs, p.AddedRTTSource = round(p.PingRTTP50Ms-same.P50, 2), sourcePings
				}
			}
			if p.AddedRTTSource != "" {
				p.AddedOverEmulationMs = round(p.AddedRTTMs-p.EmulatedRTTMs, 2)
			}
			out = append(out, p)
		}
	}
	return out
}

// sumSamples adds the nodes' samples up, so that a cluster's CPU per
// forwarded packet reads like a single node's. The instant is the first
// node's: all are read one after the other within milliseconds.
func sumSamples(ss []sample) sample {
	out := sample{metrics: scrape{values: map[string]float64{}}}
	if len(ss) == 0 {
		return out
	}
	out.at = ss[0].at
	counts := map[float64]float64{}
	for _, s := range ss {
		out.cpu += s.cpu
		for k, v := range s.metrics.values {
			out.metrics.values[k] += v
		}
		for _, b := range s.metrics.buckets {
			counts[b.le] += b.count
		}
		out.api.Participants += s.api.Participants
		out.api.BitrateIn += s.api.BitrateIn
		out.api.BitrateOut += s.api.BitrateOut
	}
	for le, n := range counts {
		out.metrics.buckets = append(out.metrics.buckets, bucket{le: le, count: n})
	}
	slices.SortFunc(out.metrics.buckets, func(x, y bucket) int {
		switch {
		case x.le < y.le:
			return -1
		case x.le > y.le:
			return 1
		}
		return 0
	})
	return out
}
