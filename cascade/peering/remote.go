package peering

import (
	"errors"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/cascade/control"
	"github.com/switchyard/switchyard/cascade/relay"
	"github.com/switchyard/switchyard/cascade/repair"
	"github.com/switchyard/switchyard/media"
)

// Remote is a participant of another node, as this node's conference sees
// it: one more publisher, whose tracks arrive over the relay.
type Remote struct {
	id, name, region string
	origin           string // the hosting node's id
	conf             string
	from             relay.NodeID
	peer             *peer
	joined           time.Time

	tracks [len(media.Sources)]atomic.Pointer[media.UpTrack] // by Source.Index
	level  atomic.Pointer[func(level uint8, voice bool, at time.Time)]

	mu       sync.Mutex // guards the fields below
	rttMs    float64
	measured map[string]float64
	muted    bool
	state    State

	// linkHeld are, by Source.Index, the layers its node sends but holds
	// back from this one: the relay link does not carry them.
	linkHeld [len(media.Sources)]atomic.Uint32

	repMu    sync.Mutex // guards trackers, ssrcs and wanted
	trackers [numTags]repair.Tracker
	ssrcs    [numTags]uint32
	wanted   [len(media.Sources)]media.LayerSet // video layers this node asks for, as last set
}

// State is what a participant turned off, shares or records, as its node says.
type State struct {
	MicOff, CameraOff, Sharing, Recording, Moderator, E2EE bool
}

// State is the participant's state as its node last said.
func (r *Remote) State() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

// ID is the participant's id (its node's id comes first).
func (r *Remote) ID() string { return r.id }

// Name is the participant's display name.
func (r *Remote) Name() string { return r.name }

// Region is the participant's region.
func (r *Remote) Region() string { return r.region }

// Origin is the id of the node that hosts the participant.
func (r *Remote) Origin() string { return r.origin }

// Joined is when this node learnt of the participant.
func (r *Remote) Joined() time.Time { return r.joined }

// SameOrigin reports whether q is hosted by the same node as r.
func (r *Remote) SameOrigin(q *Remote) bool { return r.from == q.from }

// RelayRTTMs is the relay round trip to the participant's node.
func (r *Remote) RelayRTTMs() float64 { return r.peer.rttMs() }

// RTTMs is the participant's round trip to its own node, as that node says.
func (r *Remote) RTTMs() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rttMs
}

// Measured is the participant's own ping RTT to others, by id (a copy).
func (r *Remote) Measured() map[string]float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.measured)
}

// AudioMuted reports whether an operator of its node muted its audio.
func (r *Remote) AudioMuted() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.muted
}

// UpTracks are its tracks as this node receives them.
func (r *Remote) UpTracks() []*media.UpTrack {
	var out []*media.UpTrack
	for i := range r.tracks {
		if u := r.tracks[i].Load(); u != nil {
			out = append(out, u)
		}
	}
	return out
}

// LinkHeld is the layers of a track its node sends but holds back from this
// node, because the relay link between them does not carry them: why a
// receiver here gets a lower layer ("relay link").
func (r *Remote) LinkHeld(src media.Source) media.LayerSet {
	if !src.Valid() {
		return 0
	}
	return media.LayerSet(r.linkHeld[src.Index()].Load())
}

// OnAudioLevel sets where the audio levels of its relayed audio go (the
// conference's speaker detection); set it before the tracks arrive.
func (r *Remote) OnAudioLevel(f func(level uint8, voice bool, at time.Time)) { r.level.Store(&f) }

// setWanted restarts gap tracking on each video layer this node starts or
// stops asking for: the previous node skips a layer nobody here wants, and
// the sequence numbers it skipped are not loss to repair. It is called
// from one place, SetWants, and only when the wants changed.
func (r *Remote) setWanted(src media.Source, want media.LayerSet) {
	r.repMu.Lock()
	defer r.repMu.Unlock()
	changed := want ^ r.wanted[src.Index()]
	r.wanted[src.Index()] = want
	for layer := range media.MaxLayers {
		if changed.Has(layer) {
			r.trackers[tagOf(src, layer)].Reset()
		}
	}
}

// feed takes one relayed RTP packet: it notes gaps for hop-by-hop repair
// and hands the packet to the track. Relay goroutine only.
func (r *Remote) feed(tag relay.Layer, pkt *rtp.Packet, now time.Time) {
	src, layer, ok := trackOf(tag)
	if !ok {
		return
	}
	up := r.tracks[src.Index()].Load()
	if up == nil {
		return
	}
	r.repMu.Lock()
	repaired := r.trackers[tag].Push(pkt.SequenceNumber, now.UnixNano())
	r.ssrcs[tag] = pkt.SSRC
	r.repMu.Unlock()
	if repaired {
		r.peer.repaired.Add(1)
	}
	up.Feed(layer, pkt, now)
}

// onRTP feeds a relayed packet to the participant it belongs to.
func (p *Peering) onRTP(from relay.NodeID, pkt *relay.Packet) {
	r := p.remote(pkt.Conference, pkt.Endpoint)
	if r == nil || r.from != from {
		p.dropped(dropEndpoint, from, pkt.Endpoint)
		return
	}
	if _, _, ok := trackOf(pkt.Layer); !ok {
		p.dropped(dropRTP, from, "unknown layer tag")
		return
	}
	if err := p.rx.Unmarshal(pkt.Payload); err != nil {
		p.dropped(dropRTP, from, err.Error())
		return
	}
	r.feed(pkt.Layer, &p.rx, time.Now())
}

// nackLoop asks the previous hop for what went missing on the link.
func (p *Peering) nackLoop() {
	defer p.wg.Done()
	t := time.NewTicker(nackPeriod)
	defer t.Stop()
	var seqs []uint16
	for {
		select {
		case <-p.done:
			return
		case now := <-t.C:
			for _, r := range p.allRemotes() {
				retry := max(time.Duration(r.peer.rttNs.Load())*5/4, 30*time.Millisecond)
				for tag := relay.Layer(1); int(tag) < numTags; tag++ {
					r.repMu.Lock()
					seqs = r.trackers[tag].Due(seqs[:0], now.UnixNano(), retry)
					ssrc := r.ssrcs[tag]
					r.repMu.Unlock()
					if len(seqs) > 0 {
						p.sendNACK(r, tag, ssrc, seqs)
					}
				}
			}
		}
	}
}

func (p *Peering) allRemotes() []*Remote {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var all []*Remote
	for _, m := range p.remotes {
		for _, r := range m {
			all = append(all, r)
		}
	}
	return all
}

func (p *Peering) sendNACK(r *Remote, tag relay.Layer, ssrc uint32, seqs []uint16) {
	b, err := (&rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}).Marshal()
	if err != nil {
		return
	}
	if err := p.tr.Send(r.from, &relay.Packet{Type: relay.TypeRTCP, Layer: tag, Conference: r.conf, Endpoint: r.id, Payload: b}); err == nil {
		r.peer.nacksSent.Add(uint64(len(seqs)))
	}
}

// applyState makes this node's picture of one peer's side of conf match
// the state it sent: the conference it hosts and the layers it wants, its
// participants joining and leaving, their tracks starting and ending.
func (p *Peering) applyState(pr *peer, conf string, m *control.Message) {
	if m.Links != nil {
		links := maps.Clone(m.Links)
		pr.links.Store(&links)
	}
	p.mu.Lock()
	var newHost bool
	if len(m.Participants) == 0 {
		delete(pr.confs, conf)
	} else {
		pc := pr.confs[conf]
		newHost = pc == nil
		if newHost {
			pc = &peerConf{}
			pr.confs[conf] = pc
		}
		pc.heard = time.Now()
		pc.recording = m.Recording
		pc.wants = make(map[wantKey]media.LayerSet, len(m.Wants))
		for i := range m.Wants {
			pc.wants[wantKey{m.Wants[i].Publisher, m.Wants[i].WantSource()}] = m.Wants[i].Layers
		}
	}
	p.mu.Unlock()

	seen := make(map[string]bool, len(m.Participants))
	for i := range m.Participants {
		mp := &m.Participants[i]
		if !ownID(pr.name, mp.ID) {
			p.dropped(dropForeignID, pr.id, mp.ID)
			continue
		}
		r, err := p.admitRemote(pr, conf, mp)
		switch {
		case errors.Is(err, ErrIDTaken):
			p.dropped(dropForeignID, pr.id, mp.ID)
			continue
		case err != nil:
			continue // the conference is not hosted here
		}
		seen[mp.ID] = true
		r.mu.Lock()
		r.rttMs, r.measured = mp.RTTMs, mp.Measured
		next := State{MicOff: mp.MicOff, CameraOff: mp.CameraOff, Sharing: mp.Sharing, Recording: mp.Recording, Moderator: mp.Moderator, E2EE: mp.E2EE}
		changed := next != r.state
		r.state = next
		r.mu.Unlock()
		if changed {
			p.host.Updated(conf, r)
		}
		p.syncTracks(r, mp.Tracks)
	}
	p.mu.RLock()
	var gone []*Remote
	for id, r := range p.remotes[conf] {
		if r.from == pr.id && !seen[id] {
			gone = append(gone, r)
		}
	}
	p.mu.RUnlock()
	for _, r := range gone {
		p.removeRemote(r)
	}
	p.refreshTargets()
	if newHost {
		// A node that just started hosting the conference learns about
		// this side now rather than at the next period.
		p.sendState(conf, []*peer{pr})
	}
}

// ownID reports whether id is one node names its participants with:
// "<node>-p<number>" (so that node "eu" cannot claim node "eu-2"'s "eu-2-p1").
func ownID(node, id string) bool {
	rest, ok := strings.CutPrefix(id, node+"-p")
	if !ok || rest == "" {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] < '0' || rest[i] > '9' {
			return false
		}
	}
	return true
}

// admitRemote returns the known participant mp of pr, or makes it a
// member of conf here.
func (p *Peering) admitRemote(pr *peer, conf string, mp *control.Participant) (*Remote, error) {
	if r := p.remote(conf, mp.ID); r != nil {
		if r.from != pr.id {
			return nil, ErrIDTaken
		}
		return r, nil
	}
	r := &Remote{id: mp.ID, name: mp.Name, region: mp.Region, origin: pr.name, conf: conf,
		from: pr.id, peer: pr, joined: time.Now()}
	if err := p.host.Join(conf, r); err != nil {
		return nil, err
	}
	p.mu.Lock()
	if p.remotes[conf] == nil {
		p.remotes[conf] = make(map[string]*Remote)
	}
	p.remotes[conf][r.id] = r
	p.mu.Unlock()
	p.log.Info("remote participant joined", "conference", conf, "participant", r.id, "peer", pr.name)
	return r, nil
}

// syncTracks starts the tracks r now publishes and ends those it stopped.
func (p *Peering) syncTracks(r *Remote, tracks []control.Track) {
	var have [len(media.Sources)]bool
	for i := range tracks {
		t := &tracks[i]
		src := t.TrackSource()
		if src == media.SourceMic {
			r.mu.Lock()
			r.muted = t.AudioMuted
			r.mu.Unlock()
		}
		have[src.Index()] = true
		var held media.LayerSet
		for _, l := range t.Layers {
			if l.Held && l.Index >= 0 && l.Index < media.MaxLayers {
				held = held.With(l.Index)
			}
		}
		r.linkHeld[src.Index()].Store(uint32(held))
		slot := &r.tracks[src.Index()]
		up := slot.Load()
		if up == nil {
			up = p.newUpTrack(r, src, *t)
			slot.Store(up)
			advertise(up, *t)
			p.host.Published(r.conf, r, up)
			continue
		}
		advertise(up, *t)
	}
	for i := range r.tracks {
		if !have[i] {
			r.linkHeld[i].Store(0)
			if up := r.tracks[i].Swap(nil); up != nil {
				p.host.Unpublished(r.conf, r, up)
			}
		}
	}
}

// advertise tells the track which layers its publisher's node sees.
func advertise(up *media.UpTrack, t control.Track) {
	if up.Kind() == media.KindAudio {
		up.Advertise([]media.LayerInfo{{Index: 0, Active: true}})
		return
	}
	ls := make([]media.LayerInfo, 0, len(t.Layers))
	for _, l := range t.Layers {
		// A layer the link does not carry is not active here, whatever
		// its node's publisher sends.
		ls = append(ls, media.LayerInfo{Index: l.Index, Active: l.Active && !l.Held, Bitrate: l.Bitrate, Width: l.Width, Height: l.Height})
	}
	up.Advertise(ls)
}

// newUpTrack makes the track a relayed participant publishes here.
func (p *Peering) newUpTrack(r *Remote, src media.Source, t control.Track) *media.UpTrack {
	kind := t.Kind
	cfg := media.UpTrackConfig{
		Publisher: r.id,
		Kind:      kind,
		Source:    src,
		Codec: webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: t.MimeType, ClockRate: t.ClockRate,
				Channels: t.Channels, SDPFmtpLine: t.Fmtp},
			PayloadType: webrtc.PayloadType(t.PayloadType),
		},
		Remote: true,
		SendPLI: func(layer int, _ uint32) error {
			p.requestKeyframe(r, src, layer)
			return nil
		},
		Observe: p.cfg.Observe,
		Batch:   p.cfg.Batch,
	}
	if kind == media.KindAudio {
		cfg.AudioLevelExt = t.AudioLevel
		cfg.OnAudioLevel = func(level uint8, voice bool, at time.Time) {
			if f := r.level.Load(); f != nil {
				(*f)(level, voice, at)
			}
		}
	}
	return media.NewUpTrack(cfg)
}

// requestKeyframe asks r's node for a keyframe of one layer.
func (p *Peering) requestKeyframe(r *Remote, src media.Source, layer int) {
	b, err := control.Encode(&control.Message{Type: control.TypeKeyframe, Publisher: r.id, Kind: src.Kind(), Source: src, Layer: layer})
	if err != nil {
		return
	}
	p.sendControl(r.from, r.conf, b)
}

// removeRemote takes r out of its conference.
func (p *Peering) removeRemote(r *Remote) {
	p.mu.Lock()
	m := p.remotes[r.conf]
	if m[r.id] != r {
		p.mu.Unlock()
		return
	}
	delete(m, r.id)
	if len(m) == 0 {
		delete(p.remotes, r.conf)
	}
	p.mu.Unlock()
	p.host.Leave(r.conf, r)
	p.log.Info("remote participant left", "conference", r.conf, "participant", r.id, "peer", r.origin)
}

// dropPeerConference removes every participant one peer hosted in conf.
func (p *Peering) dropPeerConference(id relay.NodeID, conf string) {
	p.mu.RLock()
	var gone []*Remote
	for _, r := range p.remotes[conf] {
		if r.from == id {
			gone = append(gone, r)
		}
	}
	p.mu.RUnlock()
	for _, r := range gone {
		p.removeRemote(r)
	}
	p.refreshTargets()
}

// DropConference forgets conf on this node (its last local participant
// left): the relayed participants, the relayed tracks and the wants.
func (p *Peering) DropConference(conf string) {
	p.mu.Lock()
	delete(p.remotes, conf)
	delete(p.wants, conf)
	outs := p.outs[conf]
	delete(p.outs, conf)
	p.mu.Unlock()
	for _, bySource := range outs {
		for _, o := range bySource {
			o.up.RemoveSink(o)
		}
	}
}
