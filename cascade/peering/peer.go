package peering

import (
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/cascade/linkrate"
	"github.com/switchyard/switchyard/cascade/membership"
	"github.com/switchyard/switchyard/cascade/relay"
	"github.com/switchyard/switchyard/media"
)

// peer is another node as this one knows it.
type peer struct {
	id        relay.NodeID
	name      string
	region    string
	signalURL string
	relayAddr netip.AddrPort
	load      membership.Load
	// confs are the conferences the peer hosts, with when it said so and
	// the layers it wants; guarded by Peering.mu.
	confs map[string]*peerConf

	rttNs         atomic.Int64
	bitrateIn     atomic.Int64
	bitrateOut    atomic.Int64
	prevIn        uint64 // stateLoop only
	prevOut       uint64
	prevAt        time.Time
	nacksSent     atomic.Uint64
	nacksAnswered atomic.Uint64
	repaired      atomic.Uint64
	skipped       atomic.Uint64
	// links is the peer's own relay round trips to the nodes it peers
	// with, ms by node id, as its last state said.
	links atomic.Pointer[map[string]float64]

	// The link's capacity: the estimator and what it last saw (linkLoop
	// only), its answer, what goes and what is held per local track, and
	// what would go if nothing were held (guarded by Peering.mu).
	rate      *linkrate.Estimator
	prevLink  linkCounters
	estimate  linkrate.Estimate
	fits      map[trackKey]fitResult
	demand    int64
	heldBytes atomic.Uint64 // video wanted behind the link but not sent: it does not fit
}

// trackKey names one local track across conferences.
type trackKey struct {
	conf, endpoint string
	source         media.Source
}

type peerConf struct {
	heard     time.Time
	recording bool // the peer records the conference
	wants     map[wantKey]media.LayerSet
}

type wantKey struct {
	publisher string
	source    media.Source
}

func (pr *peer) rttMs() float64 { return float64(pr.rttNs.Load()) / 1e6 }

// Stress is how busy a node is, 0..1, as bridge selection compares it: the
// larger of its participants over maxParticipants and its CPU.
func Stress(l membership.Load, maxParticipants int) float64 {
	s := l.CPU
	if maxParticipants > 0 {
		s = max(s, float64(l.Participants)/float64(maxParticipants))
	}
	return min(s, 1)
}
