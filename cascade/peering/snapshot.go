package peering

import (
	"fmt"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/cascade/relay"
	"github.com/switchyard/switchyard/node/snapshot"
)

// Snapshot describes the relay and every peer for the API and the console.
func (p *Peering) Snapshot() (*snapshot.Cascade, []snapshot.Peer) {
	st := p.tr.Stats()
	cs := &snapshot.Cascade{
		RelayAddr:  p.tr.LocalAddr().String(),
		GossipAddr: p.ml.Addr().String(),
		Drops:      map[string]uint64{},
		Redirects:  p.redirects.Load(),
	}
	for i, n := range st.Drops {
		if n > 0 {
			cs.Drops[relay.DropReason(i).String()] = n
		}
	}
	for i := range p.drops {
		if n := p.drops[i].Load(); n > 0 {
			cs.Drops[dropNames[i]] = n
		}
	}
	links := map[relay.NodeID]relay.LinkStats{}
	for _, l := range st.Links {
		links[l.Peer] = l
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	peers := make([]snapshot.Peer, 0, len(p.peers))
	for _, pr := range p.peers {
		l := links[pr.id]
		sp := snapshot.Peer{
			ID: pr.name, Region: pr.region, Addr: pr.relayAddr.String(), SignalURL: pr.signalURL,
			Alive: l.Up, Draining: pr.load.Draining, Participants: pr.load.Participants,
			Stress: Stress(pr.load, p.cfg.MaxParticipants),
			RTTMs:  float64(l.SmoothedRTT) / 1e6, LossPct: 100 * l.RxLoss,
			BitrateIn: pr.bitrateIn.Load(), BitrateOut: pr.bitrateOut.Load(),
			BytesOut: map[string]uint64{}, BytesIn: map[string]uint64{},
			SkippedBytes: pr.skipped.Load(), NACKsSent: pr.nacksSent.Load(),
			NACKsAnswer: pr.nacksAnswered.Load(), Repaired: pr.repaired.Load(),
			Conferences: []string{},
			CapacityBps: pr.estimate.Bps, CapacityState: pr.estimate.State.String(), TxLossPct: 100 * l.TxLoss,
			Held: heldList(pr.fits), HeldBytes: pr.heldBytes.Load(),
		}
		for tag := relay.Layer(1); tag <= tagAudio; tag++ {
			if b := l.OutLayerBytes[tag]; b > 0 {
				sp.BytesOut[tagName(tag)] = b
			}
			if b := l.InLayerBytes[tag]; b > 0 {
				sp.BytesIn[tagName(tag)] = b
			}
		}
		// Type slots 1 and 2 are RTCP and messages; RTP is counted by layer above.
		for i, name := range map[int]string{1: "rtcp", 2: "message"} {
			if b := l.Out[i].Bytes; b > 0 {
				sp.BytesOut[name] = b
			}
			if b := l.In[i].Bytes; b > 0 {
				sp.BytesIn[name] = b
			}
		}
		for conf := range pr.confs {
			sp.Conferences = append(sp.Conferences, conf)
		}
		slices.Sort(sp.Conferences)
		if !l.Impairment.IsZero() {
			sp.Emulated = fmt.Sprintf("delay %v ±%v, loss %.1f%%", l.Impairment.Delay, l.Impairment.Jitter, 100*l.Impairment.Loss)
			if r := l.Impairment.RateBitsPerSec; r > 0 {
				sp.Emulated += fmt.Sprintf(", rate %d kbit/s", r/1000)
			}
		}
		peers = append(peers, sp)
	}
	slices.SortFunc(peers, func(a, b snapshot.Peer) int { return strings.Compare(a.ID, b.ID) })
	return cs, peers
}
