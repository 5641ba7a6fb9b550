package peering

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/switchyard/switchyard/cascade/control"
	"github.com/switchyard/switchyard/cascade/relay"
	"github.com/switchyard/switchyard/media"
)

// SetWants records which layers of the other nodes' tracks this node's
// receivers of conf need (what WantsOf computes). On a change the peers
// hear of it at once, and each relayed video track restarts gap tracking
// on the layers that changed; nothing happens when the wants are the same.
func (p *Peering) SetWants(conf string, wants []control.Want) {
	wants = canonical(wants)
	p.mu.Lock()
	if slices.Equal(p.wants[conf], wants) {
		p.mu.Unlock()
		return
	}
	p.wants[conf] = wants
	var remotes []*Remote
	for _, r := range p.remotes[conf] {
		remotes = append(remotes, r)
	}
	p.mu.Unlock()
	for _, r := range remotes {
		for _, src := range []media.Source{media.SourceCamera, media.SourceScreen} {
			var set media.LayerSet
			for i := range wants {
				if wants[i].Publisher == r.id && wants[i].WantSource() == src {
					set = wants[i].Layers
				}
			}
			r.setWanted(src, set)
		}
	}
	p.Changed()
}

// canonical sorts wants and drops empty ones, so that equal wants compare equal.
func canonical(ws []control.Want) []control.Want {
	out := make([]control.Want, 0, len(ws))
	for _, w := range ws {
		if w.Layers != 0 {
			out = append(out, w)
		}
	}
	slices.SortFunc(out, func(a, b control.Want) int {
		return cmp.Or(cmp.Compare(a.Publisher, b.Publisher), cmp.Compare(a.WantSource(), b.WantSource()))
	})
	return out
}

// stateLoop sends every conference's state to every peer once a second and
// soon after a change, expires peers' conferences that went quiet, and
// refreshes the links' figures and this node's gossiped load.
func (p *Peering) stateLoop() {
	defer p.wg.Done()
	t := time.NewTicker(statePeriod)
	defer t.Stop()
	announced := map[string]bool{}
	for {
		select {
		case <-p.done:
			return
		case now := <-t.C:
			p.expire(now)
			p.refreshLinks(now)
			p.updateLoad()
		case <-p.kick:
			// Coalesce the changes of one moment into one message.
			time.Sleep(20 * time.Millisecond)
		}
		all := p.allPeers()
		current := map[string]bool{}
		for _, conf := range p.host.Conferences() {
			current[conf] = true
			p.sendState(conf, all)
		}
		for conf := range announced {
			if !current[conf] {
				// The conference emptied here: say so once.
				p.sendEmpty(conf, all)
			}
		}
		announced = current
	}
}

func (p *Peering) allPeers() []*peer {
	p.mu.RLock()
	defer p.mu.RUnlock()
	all := make([]*peer, 0, len(p.peers))
	for _, pr := range p.peers {
		all = append(all, pr)
	}
	return all
}

// stateOf is this node's side of conf for the peers: the host's
// participants and tracks, and the layers of remote tracks wanted here.
func (p *Peering) stateOf(conf string) (*control.Message, bool) {
	parts, dominant, ok := p.host.LocalState(conf)
	if !ok {
		return nil, false
	}
	p.mu.RLock()
	wants := slices.Clone(p.wants[conf])
	p.mu.RUnlock()
	return &control.Message{Type: control.TypeState, Participants: parts, Dominant: dominant, Wants: wants,
		Links: p.linkTable(), Recording: p.host.Recording(conf)}, true
}

// sendState sends this node's side of conf to peers. A peer whose link
// holds back some layers gets its own copy, in which they are not active.
func (p *Peering) sendState(conf string, to []*peer) {
	m, ok := p.stateOf(conf)
	if !ok {
		return
	}
	var shared []byte
	for _, pr := range to {
		held := p.heldFor(pr, conf)
		if held == nil {
			if shared == nil {
				if shared = p.encodeState(conf, m); shared == nil {
					return
				}
			}
			p.sendControl(pr.id, conf, shared)
			continue
		}
		mine := *m
		mine.Participants = withHeld(m.Participants, held)
		if b := p.encodeState(conf, &mine); b != nil {
			p.sendControl(pr.id, conf, b)
		}
	}
}

// encodeState encodes a state, without the participants' own measurements
// if it does not fit otherwise; nil if it still does not.
func (p *Peering) encodeState(conf string, m *control.Message) []byte {
	b, err := control.Encode(m)
	if err == nil {
		return b
	}
	trimmed := *m
	trimmed.Participants = slices.Clone(m.Participants)
	for i := range trimmed.Participants {
		trimmed.Participants[i].Measured = nil
	}
	if b, err = control.Encode(&trimmed); err != nil {
		p.log.Warn("cascade: conference state too large to relay", "conference", conf, "err", err)
		return nil
	}
	return b
}

func (p *Peering) sendEmpty(conf string, to []*peer) {
	b, err := control.Encode(&control.Message{Type: control.TypeState})
	if err != nil {
		return
	}
	for _, pr := range to {
		p.sendControl(pr.id, conf, b)
	}
}

// expire forgets the conferences of peers that stopped talking about them.
func (p *Peering) expire(now time.Time) {
	type gone struct {
		id   relay.NodeID
		conf string
	}
	var expired []gone
	p.mu.Lock()
	for _, pr := range p.peers {
		for conf, pc := range pr.confs {
			if now.Sub(pc.heard) > stateStale {
				delete(pr.confs, conf)
				expired = append(expired, gone{pr.id, conf})
			}
		}
	}
	p.mu.Unlock()
	for _, g := range expired {
		p.dropPeerConference(g.id, g.conf)
	}
}

// refreshLinks copies the relay's figures per link: the RTT the NACK retry
// interval uses, and the bitrates for the API.
func (p *Peering) refreshLinks(now time.Time) {
	for _, l := range p.tr.Stats().Links {
		p.mu.RLock()
		pr := p.peers[l.Peer]
		p.mu.RUnlock()
		if pr == nil {
			continue
		}
		pr.rttNs.Store(int64(l.SmoothedRTT))
		var in, out uint64
		for i := range l.In {
			in += l.In[i].Bytes
			out += l.Out[i].Bytes
		}
		if secs := now.Sub(pr.prevAt).Seconds(); !pr.prevAt.IsZero() && secs > 0 {
			pr.bitrateIn.Store(int64(float64(in-pr.prevIn) * 8 / secs))
			pr.bitrateOut.Store(int64(float64(out-pr.prevOut) * 8 / secs))
		}
		pr.prevIn, pr.prevOut, pr.prevAt = in, out, now
	}
}

// updateLoad gossips this node's load, in coarse steps, so that gossip
// carries changes that matter, not noise.
func (p *Peering) updateLoad() {
	l := p.host.Load()
	l.BitrateBps = l.BitrateBps / 100_000 * 100_000
	l.CPU = math.Round(l.CPU*100) / 100
	p.ml.SetLoad(l)
}

// linkTable is this node's relay round trip to each peer that has one, ms
// by node id.
func (p *Peering) linkTable() map[string]float64 {
	var t map[string]float64
	for _, pr := range p.allPeers() {
		if ms := pr.rttMs(); ms > 0 {
			if t == nil {
				t = make(map[string]float64)
			}
			t[pr.name] = ms
		}
	}
	return t
}

// LinkRTTMs is the relay round trip between nodes a and b, either of which
// may be this node: measured here when one is, else as a or b reported it
// in its state (their mean when both did). ok is false when nobody knows.
func (p *Peering) LinkRTTMs(a, b string) (ms float64, ok bool) {
	direct := map[string]float64{}
	reported := map[string]map[string]float64{}
	for _, pr := range p.allPeers() {
		if v := pr.rttMs(); v > 0 {
			direct[pr.name] = v
		}
		if l := pr.links.Load(); l != nil {
			reported[pr.name] = *l
		}
	}
	return linkRTT(p.cfg.Self, direct, reported, a, b)
}

// linkRTT is LinkRTTMs as a pure function: self is this node, direct its
// own round trips by peer, reported each peer's table.
func linkRTT(self string, direct map[string]float64, reported map[string]map[string]float64, a, b string) (float64, bool) {
	switch {
	case a == b:
		return 0, true
	case a == self:
		v, ok := direct[b]
		return v, ok
	case b == self:
		v, ok := direct[a]
		return v, ok
	}
	ab, okA := reported[a][b]
	ba, okB := reported[b][a]
	switch {
	case okA && okB:
		return (ab + ba) / 2, true
	case okA:
		return ab, true
	case okB:
		return ba, true
	}
	return 0, false
}

// RecordedElsewhere reports whether a peer that hosts conf records it.
func (p *Peering) RecordedElsewhere(conf string) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, pr := range p.peers {
		if pc := pr.confs[conf]; pc != nil && pc.recording {
			return true
		}
	}
	return false
}
