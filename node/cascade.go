package node

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/switchyard/switchyard/cascade/control"
	"github.com/switchyard/switchyard/cascade/membership"
	"github.com/switchyard/switchyard/cascade/peering"
	"github.com/switchyard/switchyard/cascade/selection"
	"github.com/switchyard/switchyard/media"
	"github.com/switchyard/switchyard/media/speaker"
	"github.com/switchyard/switchyard/node/signal"
	"github.com/switchyard/switchyard/node/snapshot"
)

// The node's side of the cascade: package peering runs it and reaches the
// node's conferences through cascadeHost.

// startPeering joins the node to the cascade.
func (n *Node) startPeering() (*peering.Peering, error) {
	cc := n.cfg.Cascade
	cfg := peering.Config{
		Self: n.cfg.ID, Region: n.cfg.Region, Overload: cc.Overload,
		MaxParticipants: n.cfg.MaxParticipants, Links: cc.Links,
		Observe: n.metrics.observeForward,
		Logger:  n.log.With("component", "cascade"),
	}
	if n.batch != nil {
		cfg.Batch = n.batch
	}
	return peering.Start(cfg, peering.NetConfig{
		Secret: cc.Secret, RelayAddr: cc.RelayAddr, GossipAddr: cc.GossipAddr, AdvertiseIP: cc.AdvertiseIP,
		Join: cc.Join, SignalURL: n.signalURL(), ProbeInterval: cc.ProbeInterval, ProbeTimeout: cc.ProbeTimeout,
	}, cascadeHost{n})
}

// choose runs bridge selection for a participant from region joining conf:
// the signaling base URL of another node, or "" to stay here.
func (n *Node) choose(region, conf string, leaving bool) (string, selection.Reason) {
	self := peering.Self{Stress: n.stress(), Draining: leaving || n.isDraining()}
	if c, ok := n.conference(conf); ok {
		self.Hosts = c.hasLocals()
	}
	base, why, _ := n.peers.Choose(region, conf, self)
	return base, why
}

// stress is how busy this node is, 0..1, as bridge selection compares it.
func (n *Node) stress() float64 {
	n.mu.Lock()
	count := n.count
	n.mu.Unlock()
	return peering.Stress(membership.Load{Participants: count, CPU: n.cpuFraction()}, n.cfg.MaxParticipants)
}

// cascadeHost is the node as package peering sees it.
type cascadeHost struct{ n *Node }

func (h cascadeHost) Conferences() []string {
	var out []string
	for _, c := range h.n.conferenceList() {
		if c.hasLocals() {
			out = append(out, c.name)
		}
	}
	return out
}

func (h cascadeHost) LocalState(conf string) ([]control.Participant, string, bool) {
	c, ok := h.n.conference(conf)
	if !ok {
		return nil, "", false
	}
	locals := c.locals()
	if len(locals) == 0 {
		return nil, "", false
	}
	out := make([]control.Participant, 0, len(locals))
	for _, p := range locals {
		out = append(out, p.controlState())
	}
	return out, c.dominantSpeaker(), true
}

func (h cascadeHost) Recording(conf string) bool {
	c, ok := h.n.conference(conf)
	return ok && c.recording()
}

func (h cascadeHost) Join(conf string, r *peering.Remote) error {
	c, ok := h.n.conference(conf)
	if !ok {
		return peering.ErrNotHosted
	}
	rm := &remoteMember{Remote: r, conf: c, speaker: c.speaker.Add(r.ID())}
	r.OnAudioLevel(rm.speaker.Level)
	if !c.add(rm, nil) {
		c.speaker.Remove(r.ID())
		return peering.ErrIDTaken
	}
	return nil
}

// memberOf is the member r is in conf, nil if none.
func (h cascadeHost) memberOf(conf string, r *peering.Remote) (*Conference, *remoteMember) {
	c, ok := h.n.conference(conf)
	if !ok {
		return nil, nil
	}
	m, _ := c.get(r.ID())
	if rm, ok := m.(*remoteMember); ok && rm.Remote == r {
		return c, rm
	}
	return nil, nil
}

func (h cascadeHost) Leave(conf string, r *peering.Remote) {
	if c, rm := h.memberOf(conf, r); rm != nil {
		c.remove(rm)
	}
}

func (h cascadeHost) Published(conf string, r *peering.Remote, up *media.UpTrack) {
	if c, rm := h.memberOf(conf, r); rm != nil {
		c.published(rm, up)
	}
}

func (h cascadeHost) Unpublished(conf string, r *peering.Remote, up *media.UpTrack) {
	if c, ok := h.n.conference(conf); ok {
		c.unpublished(up)
	}
}

func (h cascadeHost) Updated(conf string, r *peering.Remote) {
	if c, rm := h.memberOf(conf, r); rm != nil {
		c.updated(rm)
	}
}

func (h cascadeHost) Deliver(conf string, r *peering.Remote, to string, payload json.RawMessage) {
	if c, rm := h.memberOf(conf, r); rm != nil {
		_ = c.message(rm, to, payload)
	}
}

func (h cascadeHost) Load() membership.Load {
	n := h.n
	n.mu.Lock()
	l := membership.Load{Participants: n.count, Conferences: len(n.confs), Draining: n.draining}
	n.mu.Unlock()
	l.CPU = n.cpuFraction()
	for _, c := range n.conferenceList() {
		for _, p := range c.locals() {
			p.rateMu.Lock()
			l.BitrateBps += p.bitrateUp + p.bitrateDown
			p.rateMu.Unlock()
		}
	}
	return l
}

// controlState describes a local participant to the other nodes.
func (p *Participant) controlState() control.Participant {
	rtt, _, _ := p.linkStats()
	if !(rtt >= 0 && rtt < 60_000) {
		rtt = 0 // a browser's stats can be nonsense for a moment
	}
	cp := control.Participant{ID: p.id, Name: p.name, Region: p.region, RTTMs: rtt,
		MicOff: p.micOff.Load(), CameraOff: p.cameraOff.Load(), Sharing: p.sharing.Load(),
		Recording: p.recording.Load(), Moderator: p.grants.Moderator, E2EE: p.e2ee}
	p.mu.Lock()
	for k, v := range p.measured {
		if cp.Measured == nil {
			cp.Measured = make(map[string]float64, len(p.measured))
		}
		cp.Measured[k] = v
	}
	p.mu.Unlock()
	for _, up := range p.upTracks() {
		codec := up.Codec()
		t := control.Track{Kind: up.Kind(), Source: up.Source(), MimeType: codec.MimeType, ClockRate: codec.ClockRate,
			Channels: codec.Channels, Fmtp: codec.SDPFmtpLine, PayloadType: uint8(codec.PayloadType)}
		if up.Kind() == media.KindAudio {
			t.AudioLevel = up.AudioLevelExt()
			t.AudioMuted = p.audioMuted.Load()
		} else {
			for _, l := range up.Layers() {
				t.Layers = append(t.Layers, control.Layer{Index: l.Index, Active: l.Active, Bitrate: l.Bitrate, Width: l.Width, Height: l.Height})
			}
		}
		cp.Tracks = append(cp.Tracks, t)
	}
	return cp
}

// remoteMember is a participant of another node as a member of a
// conference here.
type remoteMember struct {
	*peering.Remote
	conf    *Conference
	speaker *speaker.Speaker
}

func (rm *remoteMember) memberID() string { return rm.ID() }

func (rm *remoteMember) info() signal.Participant {
	st := rm.State()
	return signal.Participant{ID: rm.ID(), Name: rm.Name(), Region: rm.Region(), Node: rm.Origin(),
		MicOff: st.MicOff, CameraOff: st.CameraOff, Sharing: st.Sharing, Recording: st.Recording, Moderator: st.Moderator, E2EE: st.E2EE}
}

func (rm *remoteMember) upTracks() []*media.UpTrack { return rm.UpTracks() }

// snapshot describes a remote participant as far as this node knows it:
// what its node says, and the hops from here.
func (rm *remoteMember) snapshot(members []member) snapshot.Participant {
	ps := snapshot.Participant{
		ID: rm.ID(), Name: rm.Name(), Region: rm.Region(), Node: rm.Origin(), Remote: true, Joined: rm.Joined(),
		State:      "relayed",
		Speaking:   rm.speaker.Speaking(),
		AudioLevel: rm.speaker.AudioLevel(),
		RTTMs:      rm.RTTMs(),
		AudioMuted: rm.AudioMuted(),
		MicOff:     rm.State().MicOff,
		CameraOff:  rm.State().CameraOff,
		Sharing:    rm.State().Sharing,
		Recording:  rm.State().Recording,
		E2EE:       rm.State().E2EE,
		Subs:       []snapshot.Subscription{},
		E2E:        []snapshot.E2E{},
	}
	ps.Layers, ps.Audio, ps.BitrateUp = published(rm.UpTracks())
	rm.markLinkHeld(ps.Layers)
	measured := rm.Measured()
	relayMs := rm.RelayRTTMs()
	self := rm.conf.node.cfg.ID
	for _, m := range members {
		var e snapshot.E2E
		switch q := m.(type) {
		case *Participant:
			qrtt, _, _ := q.linkStats()
			e = snapshot.E2E{Peer: q.id, PeerName: q.name, RelayMs: relayMs, PeerMs: qrtt,
				Path: rm.Origin() + "→" + self}
		case *remoteMember:
			if q == rm {
				continue
			}
			e = snapshot.E2E{Peer: q.ID(), PeerName: q.Name(), PeerMs: q.RTTMs(), Path: rm.Origin() + "→" + q.Origin()}
			if !q.SameOrigin(rm.Remote) {
				// The link between two other nodes, as they report it; if
				// neither has yet, the two links through this node stand
				// in, an upper bound.
				if ms, ok := rm.conf.node.peers.LinkRTTMs(rm.Origin(), q.Origin()); ok {
					e.RelayMs = ms
				} else {
					e.RelayMs = relayMs + q.RelayRTTMs()
					e.Path = rm.Origin() + "→" + self + "→" + q.Origin()
				}
			}
		}
		e.MeasuredMs, e.ClientMs = measured[e.Peer], ps.RTTMs
		e.ComputedMs = e.ClientMs + e.RelayMs + e.PeerMs
		ps.E2E = append(ps.E2E, e)
	}
	return ps
}

// markLinkHeld gives the layers its node holds back from this one, as the
// relay link does not carry them, their reason; layers are as published()
// listed them, one track's after another's.
func (rm *remoteMember) markLinkHeld(layers []snapshot.Layer) {
	i := 0
	for _, up := range rm.UpTracks() {
		if up.Kind() == media.KindAudio {
			continue
		}
		held := rm.LinkHeld(up.Source())
		for _, l := range up.Layers() {
			// Matched by rid: a layer may have come or gone since.
			if i < len(layers) && layers[i].RID == l.RID {
				if held.Has(l.Index) {
					layers[i].Reason = snapshot.ReasonRelayLink
				}
				i++
			}
		}
	}
}

// Drain stops admitting participants and asks those present to move to
// another node (chosen as for a new participant); it returns when none is
// left or ctx ends. With no node to move anyone to (no cascade, or no live
// peer), participants are told the node is stopping (node-stopping) and it
// returns within about 2 s.
func (n *Node) Drain(ctx context.Context) error {
	if err := n.SetDraining(true); err != nil {
		return err
	}
	moved := 0
	for _, c := range n.conferenceList() {
		for _, p := range c.locals() {
			msg := signal.Message{Type: signal.TypeNodeStopping, Reason: "this node is shutting down"}
			if n.peers != nil {
				if target, _ := n.choose(p.region, c.name, true); target != "" {
					msg = signal.Message{Type: signal.TypeRedirect, URL: peering.WebSocketURL(target) + "?redirected=1", Reason: "node draining"}
					moved++
				}
			}
			p.send(msg)
		}
	}
	if moved == 0 {
		// Nowhere to send anyone: they were told; give the messages a
		// moment to leave, then stop instead of waiting for the timeout.
		grace, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		ctx = grace
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		n.mu.Lock()
		left := n.count + n.pending
		n.mu.Unlock()
		if left == 0 {
			n.log.Info("drained")
			return nil
		}
		select {
		case <-ctx.Done():
			if moved == 0 {
				n.log.Info("stopping: no other node to move participants to", "participants", left)
				return nil
			}
			n.log.Warn("drain timed out", "participants", left)
			return fmt.Errorf("node: drain: %d participants still here: %w", left, ctx.Err())
		case <-t.C:
		}
	}
}
