package node

import (
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"sort"
	"time"

	"github.com/switchyard/switchyard/cascade/peering"
	"github.com/switchyard/switchyard/media"
	"github.com/switchyard/switchyard/media/layer"
	"github.com/switchyard/switchyard/node/signal"
	"github.com/switchyard/switchyard/node/snapshot"
)

// Snapshot takes the node's state as one value for the API and the console.
func (n *Node) Snapshot() snapshot.Snapshot {
	now := time.Now()
	confs := n.conferenceList()
	n.mu.Lock()
	draining, count := n.draining, n.count
	n.mu.Unlock()
	s := snapshot.Snapshot{Taken: now, Conferences: make([]snapshot.Conference, 0, len(confs))}
	s.Node = snapshot.Node{
		ID: n.cfg.ID, Region: n.cfg.Region, Started: n.started,
		UptimeSec:    now.Sub(n.started).Seconds(),
		Draining:     draining,
		CPUPercent:   math.Float64frombits(n.cpuPercent.Load()),
		Conferences:  len(confs),
		Participants: count,
		Peers:        []snapshot.Peer{},
	}
	if n.httpLn != nil {
		s.Node.HTTPAddr = n.httpLn.Addr().String()
		s.Node.SignalURL = peering.WebSocketURL(n.signalURL())
	}
	if n.peers != nil {
		s.Node.Cascade, s.Node.Peers = n.peers.Snapshot()
	}
	if n.udpConn != nil {
		s.Node.MediaUDPPort = n.udpConn.LocalAddr().(*net.UDPAddr).Port
	}
	for _, conf := range confs {
		c := conf.snapshot()
		s.Node.BitrateIn += c.BitrateIn
		s.Node.BitrateOut += c.BitrateOut
		s.Conferences = append(s.Conferences, c)
	}
	s.Node.PacketsIn, s.Node.PacketsOut, s.Node.NACKsIn, s.Node.Retransmits = n.metrics.totals()
	return s
}

func (c *Conference) snapshot() snapshot.Conference {
	members := c.all()
	sc := snapshot.Conference{
		Name: c.name, Created: c.created, Nodes: []string{c.node.cfg.ID},
		DominantSpeaker: c.dominantSpeaker(),
		Participants:    make([]snapshot.Participant, 0, len(members)),
	}
	sc.Recording, sc.RecordingError = c.recordingSnapshot()
	for _, m := range members {
		ps := m.snapshot(members)
		if ps.Remote {
			if !slices.Contains(sc.Nodes, ps.Node) {
				sc.Nodes = append(sc.Nodes, ps.Node)
			}
		} else {
			sc.BitrateIn += ps.BitrateUp
			sc.BitrateOut += ps.BitrateDown
			sc.WorstLossPct = max(sc.WorstLossPct, ps.LossUpPct, ps.LossDownPct)
		}
		sc.Participants = append(sc.Participants, ps)
	}
	return sc
}

func (p *Participant) snapshot(members []member) snapshot.Participant {
	ps := snapshot.Participant{
		ID: p.id, Name: p.name, Region: p.region, Node: p.node.cfg.ID,
		Kind:        p.endpointKind(),
		Joined:      p.joined,
		MicOff:      p.micOff.Load(),
		CameraOff:   p.cameraOff.Load(),
		Sharing:     p.sharing.Load(),
		Recording:   p.recording.Load(),
		E2EE:        p.e2ee,
		State:       p.pc.ConnectionState().String(),
		Speaking:    p.speaker.Speaking(),
		AudioLevel:  p.speaker.AudioLevel(),
		AudioMuted:  p.audioMuted.Load(),
		EstimateBps: p.estimate(),
		Layers:      []snapshot.Layer{},
		Subs:        []snapshot.Subscription{},
		E2E:         []snapshot.E2E{},
	}
	p.rateMu.Lock()
	ps.BitrateUp, ps.BitrateDown, ps.LossUpPct = p.bitrateUp, p.bitrateDown, 100*p.lossUp
	p.rateMu.Unlock()
	ps.RTTMs, ps.LossDownPct, ps.JitterMs = p.linkStats()

	ps.Layers, ps.Audio, _ = published(p.upTracks())
	states := p.conf.publisherStates()
	p.mu.Lock()
	if p.layerCap >= 0 {
		ps.LayerCap = media.RIDs[p.layerCap]
	}
	nc := p.nacksLocked()
	ps.NACKsIn, ps.Retransmits, ps.RetransmitsRefused = nc.nacked, nc.resent, nc.refused
	names := make(map[string]string, len(members))
	remotes := make(map[string]*remoteMember)
	for _, q := range members {
		names[q.memberID()] = q.info().Name
		if rm, ok := q.(*remoteMember); ok {
			remotes[q.memberID()] = rm
		}
	}
	for _, s := range p.downs {
		sub := snapshot.Subscription{
			Publisher: s.up.Publisher(), PublisherName: names[s.up.Publisher()],
			Kind: s.up.Kind().String(), Source: s.up.Source().String(), Bitrate: s.down.Bitrate(),
			REDAdded: s.down.Protecting(), Codec: s.down.Codec(),
		}
		cur, target, waiting := s.down.Layers()
		key := sub.Publisher
		if s.up.Source() == media.SourceScreen {
			key += "/screen"
		}
		if h, ok := p.constraints[key]; ok {
			sub.MaxHeight = h
		}
		switch {
		case s.off && s.up.Kind() == media.KindAudio && states[sub.Publisher].audioMuted:
			sub.Reason = snapshot.ReasonMuted
		case s.off:
			sub.Reason = snapshot.ReasonOff
		case s.up.Kind() == media.KindAudio:
			sub.Reason = snapshot.ReasonAudio
			sub.Forwarded, sub.Target = "audio", "audio"
		default:
			sub.Forwarded, sub.Target = ridOf(cur), ridOf(target)
			sub.Reason = s.reason.String()
			if rm := remotes[sub.Publisher]; rm != nil && s.reason == layer.ReasonNotPublished &&
				heldAbove(rm.LinkHeld(s.up.Source()), target) {
				// Published, but its node keeps it off the relay link.
				sub.Reason = snapshot.ReasonRelayLink
			}
			if waiting {
				sub.Reason = snapshot.ReasonKeyframe
			}
			f := s.down.Frames()
			sub.FPS, sub.Freezes = f.FPS, f.Freezes
			sub.FreezeMs = float64(f.FreezeTime.Microseconds()) / 1000
			sub.SinceFrameMs = float64(f.SinceFrame.Microseconds()) / 1000
			for _, l := range s.up.Layers() {
				if l.Index == cur {
					sub.LayerFPS = l.FPS
				}
			}
		}
		ps.Subs = append(ps.Subs, sub)
	}
	measured := make(map[string]float64, len(p.measured))
	for k, v := range p.measured {
		measured[k] = v
	}
	p.mu.Unlock()
	sort.Slice(ps.Subs, func(i, j int) bool {
		a, b := ps.Subs[i], ps.Subs[j]
		if a.PublisherName != b.PublisherName {
			return a.PublisherName < b.PublisherName
		}
		return a.Kind < b.Kind
	})
	for _, m := range members {
		var e snapshot.E2E
		switch q := m.(type) {
		case *Participant:
			if q == p {
				continue
			}
			qrtt, _, _ := q.linkStats()
			e = snapshot.E2E{Peer: q.id, PeerName: q.name, PeerMs: qrtt, Path: p.node.cfg.ID}
		case *remoteMember:
			e = snapshot.E2E{Peer: q.ID(), PeerName: q.Name(), RelayMs: q.RelayRTTMs(), PeerMs: q.RTTMs(),
				Path: p.node.cfg.ID + "→" + q.Origin()}
		}
		e.MeasuredMs, e.ClientMs = measured[e.Peer], ps.RTTMs
		e.ComputedMs = e.ClientMs + e.RelayMs + e.PeerMs
		ps.E2E = append(ps.E2E, e)
	}
	return ps
}

// published describes a participant's tracks: its video layers, whether it
// sends audio, and the video layers' total bitrate.
func published(ups []*media.UpTrack) (layers []snapshot.Layer, audio bool, bitrate int64) {
	layers = []snapshot.Layer{}
	for _, up := range ups {
		if up.Kind() == media.KindAudio {
			audio = true
			continue
		}
		for _, l := range up.Layers() {
			layers = append(layers, snapshot.Layer{RID: l.RID, Active: l.Active, Bitrate: l.Bitrate, Width: l.Width, Height: l.Height})
			bitrate += l.Bitrate
		}
	}
	return layers, audio, bitrate
}

func ridOf(layer int) string {
	if layer < 0 || layer >= media.MaxLayers {
		return ""
	}
	return media.RIDs[layer]
}

// linkStats reads the RTCP-derived RTT, downstream loss and upstream jitter.
func (p *Participant) linkStats() (rttMs, lossDownPct, jitterMs float64) {
	rttMs = math.Float64frombits(p.rttMs.Load())
	g := p.api.stats()
	if g == nil {
		return rttMs, 0, 0
	}
	p.mu.Lock()
	var ssrcs []uint32
	for _, s := range p.downs {
		if ssrc := s.down.SSRC(); ssrc != 0 {
			ssrcs = append(ssrcs, ssrc)
		}
	}
	p.mu.Unlock()
	var lossN int
	for _, ssrc := range ssrcs {
		st := g.Get(ssrc)
		if st == nil {
			continue
		}
		ri := st.RemoteInboundRTPStreamStats
		if ri.PacketsReceived+uint64(max(ri.PacketsLost, 0)) > 0 {
			lossDownPct += ri.FractionLost * 100
			lossN++
		}
	}
	if lossN > 0 {
		lossDownPct /= float64(lossN)
	}
	for _, u := range p.upTracks() {
		for _, l := range u.Layers() {
			if st := g.Get(l.SSRC); st != nil && st.InboundRTPStreamStats.Jitter > 0 {
				jitterMs = max(jitterMs, st.InboundRTPStreamStats.Jitter*1000) // pion keeps it in seconds
			}
		}
	}
	return rttMs, lossDownPct, jitterMs
}

// rttSamples returns the latest RTCP round trip of each track the node
// sends this participant, in ms (see rttFilter).
func (p *Participant) rttSamples(dst []float64) []float64 {
	g := p.api.stats()
	if g == nil {
		return dst
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.downs {
		ssrc := s.down.SSRC()
		if ssrc == 0 {
			continue
		}
		if st := g.Get(ssrc); st != nil {
			ri := st.RemoteInboundRTPStreamStats
			if ri.RoundTripTimeMeasurements > 0 && ri.RoundTripTime > 0 && ri.RoundTripTime < time.Minute {
				dst = append(dst, ri.RoundTripTime.Seconds()*1000)
			}
		}
	}
	return dst
}

// The operator's actions, used by the console.

func (n *Node) participant(room, id string) (*Participant, error) {
	c, ok := n.conference(room)
	if !ok {
		return nil, fmt.Errorf("no conference %q", room)
	}
	p, ok := c.local(id)
	if !ok {
		return nil, fmt.Errorf("no participant %q in room %q", id, room)
	}
	return p, nil
}

// Kick removes a participant, telling it why.
func (n *Node) Kick(room, id string) error {
	p, err := n.participant(room, id)
	if err != nil {
		return err
	}
	p.send(signal.Message{Type: signal.TypeError, Code: signal.CodeRemoved, Reason: "removed by an operator", Fatal: true})
	p.remove("removed by operator")
	return nil
}

// CapLayer limits the simulcast layer a participant receives; rid "" lifts the cap.
func (n *Node) CapLayer(room, id, rid string) error {
	p, err := n.participant(room, id)
	if err != nil {
		return err
	}
	idx := -1
	if rid != "" {
		if idx = media.LayerIndex(rid); idx < 0 {
			return errors.New("unknown layer " + rid)
		}
	}
	p.mu.Lock()
	p.layerCap = idx
	p.mu.Unlock()
	p.allocate()
	return nil
}

// MuteAudio stops (or resumes) forwarding a participant's audio to everyone.
func (n *Node) MuteAudio(room, id string, muted bool) error {
	p, err := n.participant(room, id)
	if err != nil {
		return err
	}
	p.audioMuted.Store(muted)
	for _, q := range p.conf.locals() {
		q.allocate()
	}
	return nil
}

// SetDraining stops (or resumes) admitting new participants; those present
// stay. In a cascade the other nodes hear of it and stop choosing this one.
func (n *Node) SetDraining(on bool) error {
	n.mu.Lock()
	n.draining = on
	n.mu.Unlock()
	if n.peers != nil {
		n.peers.SetDraining(on)
	}
	n.log.Info("drain", "on", on)
	return nil
}

// heldAbove says whether held has a layer better than target.
func heldAbove(held media.LayerSet, target int) bool {
	for l := max(target+1, 0); l < media.MaxLayers; l++ {
		if held.Has(l) {
			return true
		}
	}
	return false
}
