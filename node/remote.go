package node

import (
	"encoding/json"
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
	"github.com/switchyard/switchyard/media/speaker"
	"github.com/switchyard/switchyard/node/signal"
)

// remoteParticipant is a participant of another node, as this node's
// participants see it: its tracks arrive over the relay.
type remoteParticipant struct {
	id, name, region string
	node             string // the hosting node's id
	conf             string
	from             relay.NodeID
	peer             *peerNode
	joined           time.Time
	speaker          *speaker.Speaker

	audio, video atomic.Pointer[media.UpTrack]

	mu       sync.Mutex // guards the fields below
	rttMs    float64
	measured map[string]float64
	muted    bool

	repMu    sync.Mutex // guards trackers, ssrcs and wanted
	trackers [tagAudio + 1]repair.Tracker
	ssrcs    [tagAudio + 1]uint32
	wanted   uint8 // video layers this node asks for, as of the last wants
}

// noteWanted restarts gap tracking on each video layer this node starts or
// stops asking for: the previous node skips a layer nobody here wants, and
// the sequence numbers it skipped are not loss to repair.
func (rp *remoteParticipant) noteWanted(mask uint8) {
	rp.repMu.Lock()
	defer rp.repMu.Unlock()
	changed := mask ^ rp.wanted
	rp.wanted = mask
	for layer := range media.MaxLayers {
		if changed&(1<<layer) != 0 {
			rp.trackers[videoTag(layer)].Reset()
		}
	}
}

func (rp *remoteParticipant) info() signal.Participant {
	return signal.Participant{ID: rp.id, Name: rp.name, Region: rp.region, Node: rp.node}
}

func (rp *remoteParticipant) upTracks() []*media.UpTrack {
	var out []*media.UpTrack
	for _, u := range []*media.UpTrack{rp.audio.Load(), rp.video.Load()} {
		if u != nil {
			out = append(out, u)
		}
	}
	return out
}

// feed takes one relayed RTP packet: it notes gaps for hop-by-hop repair
// and hands the packet to the track. Relay goroutine only.
func (rp *remoteParticipant) feed(tag relay.Layer, pkt *rtp.Packet, now time.Time) {
	var up *media.UpTrack
	layer := 0
	switch {
	case tag == tagAudio:
		up = rp.audio.Load()
	case tag >= 1 && tag <= media.MaxLayers:
		up, layer = rp.video.Load(), int(tag)-1
	}
	if up == nil {
		return
	}
	rp.repMu.Lock()
	repaired := rp.trackers[tag].Push(pkt.SequenceNumber, now.UnixNano())
	rp.ssrcs[tag] = pkt.SSRC
	rp.repMu.Unlock()
	if repaired {
		rp.peer.repaired.Add(1)
	}
	up.Feed(layer, pkt, now)
}

// nackLoop asks the previous hop for what went missing on the link.
func (c *cluster) nackLoop() {
	defer c.wg.Done()
	t := time.NewTicker(nackPeriod)
	defer t.Stop()
	var seqs []uint16
	for {
		select {
		case <-c.done:
			return
		case now := <-t.C:
			c.mu.RLock()
			var all []*remoteParticipant
			for _, m := range c.remotes {
				for _, rp := range m {
					all = append(all, rp)
				}
			}
			c.mu.RUnlock()
			for _, rp := range all {
				retry := max(time.Duration(rp.peer.rttNs.Load())*5/4, 30*time.Millisecond)
				for tag := relay.Layer(1); tag <= tagAudio; tag++ {
					rp.repMu.Lock()
					seqs = rp.trackers[tag].Due(seqs[:0], now.UnixNano(), retry)
					ssrc := rp.ssrcs[tag]
					rp.repMu.Unlock()
					if len(seqs) == 0 {
						continue
					}
					c.sendNACK(rp, tag, ssrc, seqs)
				}
			}
		}
	}
}

func (c *cluster) sendNACK(rp *remoteParticipant, tag relay.Layer, ssrc uint32, seqs []uint16) {
	b, err := (&rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}).Marshal()
	if err != nil {
		return
	}
	conf := rp.conf
	if err := c.tr.Send(rp.from, &relay.Packet{Type: relay.TypeRTCP, Layer: tag, Conference: conf, Endpoint: rp.id, Payload: b}); err == nil {
		rp.peer.nacksSent.Add(uint64(len(seqs)))
	}
}

// onRTCP answers a peer's NACK for one of this node's publishers from the
// relay cache. Relay goroutine.
func (c *cluster) onRTCP(from relay.NodeID, p *relay.Packet) {
	r, ok := c.n.room(p.Conference)
	if !ok {
		c.dropped(dropConference, from, p.Conference)
		return
	}
	pub, ok := r.get(p.Endpoint)
	if !ok {
		c.dropped(dropEndpoint, from, p.Endpoint)
		return
	}
	kind, layer := "video", int(p.Layer)-1
	if p.Layer == tagAudio {
		kind, layer = "audio", 0
	}
	out := pub.relayOut(kind)
	if out == nil || layer < 0 || layer >= media.MaxLayers {
		c.dropped(dropEndpoint, from, p.Endpoint)
		return
	}
	pkts, err := rtcp.Unmarshal(p.Payload)
	if err != nil {
		c.dropped(dropRTP, from, err.Error())
		return
	}
	c.mu.RLock()
	peer := c.peers[from]
	c.mu.RUnlock()
	if peer == nil {
		return
	}
	for _, pkt := range pkts {
		if nack, ok := pkt.(*rtcp.TransportLayerNack); ok {
			for _, pair := range nack.Nacks {
				pair.Range(func(seq uint16) bool {
					if out.resend(peer, layer, seq) {
						peer.nacksAnswered.Add(1)
					}
					return true
				})
			}
		}
	}
}

// relayOut sends one local publisher's track to the nodes that need it:
// each layer only to the peers whose participants want that layer. The
// next hop's NACKs are answered from the track's own packet cache.
type relayOut struct {
	c        *cluster
	pub      *Participant
	up       *media.UpTrack
	conf     string
	endpoint string
	audio    bool
	targets  atomic.Pointer[[]relayTarget]
	layers   [media.MaxLayers]relayOutLayer
}

type relayTarget struct {
	peer *peerNode
	want uint8
}

type relayOutLayer struct {
	mu   sync.Mutex // WriteRTP (the layer's goroutine) against resend (relay goroutine)
	buf  [1500]byte
	nack [1500]byte
	pkt  relay.Packet
}

func newRelayOut(c *cluster, p *Participant, up *media.UpTrack) *relayOut {
	o := &relayOut{c: c, pub: p, up: up, conf: p.room.name, endpoint: p.id, audio: up.Kind() == webrtc.RTPCodecTypeAudio}
	empty := []relayTarget{}
	o.targets.Store(&empty)
	return o
}

func (o *relayOut) tag(layer int) relay.Layer {
	if o.audio {
		return tagAudio
	}
	return videoTag(layer)
}

// WriteRTP relays one packet of the publisher's track. It does not allocate.
func (o *relayOut) WriteRTP(p *media.Packet) {
	ts := *o.targets.Load()
	if len(ts) == 0 || p.Layer < 0 || p.Layer >= media.MaxLayers {
		return
	}
	if o.audio && o.pub.audioMuted.Load() {
		return
	}
	bit := uint8(1) << p.Layer
	wanted := false
	for _, t := range ts {
		wanted = wanted || t.want&bit != 0
	}
	if !wanted {
		if !o.audio {
			size := uint64(p.Header.MarshalSize() + len(p.Payload))
			for _, t := range ts {
				t.peer.skipped.Add(size)
			}
		}
		return
	}
	l := &o.layers[p.Layer]
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := p.Header.MarshalTo(l.buf[:])
	if err != nil || n+len(p.Payload) > len(l.buf) {
		return
	}
	size := n + copy(l.buf[n:], p.Payload)
	l.pkt = relay.Packet{Type: relay.TypeRTP, Layer: o.tag(p.Layer), Conference: o.conf, Endpoint: o.endpoint, Payload: l.buf[:size]}
	for _, t := range ts {
		if t.want&bit == 0 {
			t.peer.skipped.Add(uint64(size))
			continue
		}
		_ = o.c.tr.Send(t.peer.id, &l.pkt)
	}
}

// resend answers one NACKed sequence number from the publisher's packet
// cache, the one that also serves this node's receivers. The header comes
// back without extensions: the next node needs none to forward or repair.
func (o *relayOut) resend(peer *peerNode, layer int, seq uint16) bool {
	l := &o.layers[layer]
	l.mu.Lock()
	defer l.mu.Unlock()
	hdr, payload, ok := o.up.Cached(layer, seq, l.nack[:])
	if !ok {
		return false
	}
	n, err := hdr.MarshalTo(l.buf[:])
	if err != nil || n+len(payload) > len(l.buf) {
		return false
	}
	size := n + copy(l.buf[n:], payload)
	l.pkt = relay.Packet{Type: relay.TypeRTP, Layer: o.tag(layer), Conference: o.conf, Endpoint: o.endpoint, Payload: l.buf[:size]}
	return o.c.tr.Send(peer.id, &l.pkt) == nil
}

// setTargets replaces the peers this track goes to.
func (o *relayOut) setTargets(ts []relayTarget) { o.targets.Store(&ts) }

// The room's side of the cascade.

// remoteList returns the room's remote participants.
func (r *Room) remoteList() []*remoteParticipant {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*remoteParticipant, 0, len(r.remotes))
	for _, rp := range r.remotes {
		out = append(out, rp)
	}
	return out
}

// syncRemote makes the room's picture of one peer's participants match the
// state it sent.
func (r *Room) syncRemote(c *cluster, p *peerNode, m *control.Message) {
	seen := make(map[string]bool, len(m.Participants))
	for i := range m.Participants {
		mp := &m.Participants[i]
		if !strings.HasPrefix(mp.ID, p.name+"-") {
			c.dropped(dropForeignID, p.id, mp.ID)
			continue
		}
		seen[mp.ID] = true
		r.mu.Lock()
		rp := r.remotes[mp.ID]
		if rp == nil {
			if _, local := r.participants[mp.ID]; local {
				r.mu.Unlock()
				c.dropped(dropForeignID, p.id, mp.ID)
				continue
			}
			rp = &remoteParticipant{id: mp.ID, name: mp.Name, region: mp.Region, node: p.name, from: p.id, peer: p,
				joined: time.Now(), conf: r.name, speaker: r.speaker.Add(mp.ID)}
			r.remotes[mp.ID] = rp
			r.mu.Unlock()
			c.mu.Lock()
			if c.remotes[r.name] == nil {
				c.remotes[r.name] = make(map[string]*remoteParticipant)
			}
			c.remotes[r.name][mp.ID] = rp
			c.mu.Unlock()
			r.node.log.Info("remote participant joined", "room", r.name, "participant", mp.ID, "node", p.name)
			r.broadcast(nil, signal.Message{Type: signal.TypeParticipantJoined, Participant: ptr(rp.info())})
		} else {
			r.mu.Unlock()
		}
		rp.mu.Lock()
		rp.rttMs, rp.measured = mp.RTTMs, mp.Measured
		rp.mu.Unlock()
		r.syncTracks(c, rp, mp.Tracks)
	}
	for _, rp := range r.remoteList() {
		if rp.from == p.id && !seen[rp.id] {
			r.removeRemote(c, rp)
		}
	}
	r.refreshRelayOuts(c)
}

func (r *Room) syncTracks(c *cluster, rp *remoteParticipant, tracks []control.Track) {
	var have [2]bool
	for _, t := range tracks {
		slot, kind := &rp.video, webrtc.RTPCodecTypeVideo
		if t.Kind == "audio" {
			slot, kind = &rp.audio, webrtc.RTPCodecTypeAudio
			have[0] = true
		} else {
			have[1] = true
		}
		up := slot.Load()
		if up == nil {
			up = r.remoteUpTrack(c, rp, kind, t)
			slot.Store(up)
			advertise(up, t)
			r.published(nil, up)
			continue
		}
		advertise(up, t)
	}
	for i, slot := range []*atomic.Pointer[media.UpTrack]{&rp.audio, &rp.video} {
		if !have[i] {
			if up := slot.Swap(nil); up != nil {
				for _, q := range r.members() {
					q.unsubscribe([]*media.UpTrack{up})
				}
			}
		}
	}
	for _, t := range tracks {
		if t.Kind == "audio" {
			rp.mu.Lock()
			rp.muted = t.AudioMuted
			rp.mu.Unlock()
		}
	}
}

func advertise(up *media.UpTrack, t control.Track) {
	if up.Kind() == webrtc.RTPCodecTypeAudio {
		up.Advertise([]media.LayerInfo{{Index: 0, Active: true}})
		return
	}
	ls := make([]media.LayerInfo, 0, len(t.Layers))
	for _, l := range t.Layers {
		ls = append(ls, media.LayerInfo{Index: l.Index, Active: l.Active, Bitrate: l.Bitrate, Width: l.Width, Height: l.Height})
	}
	up.Advertise(ls)
}

func (r *Room) remoteUpTrack(c *cluster, rp *remoteParticipant, kind webrtc.RTPCodecType, t control.Track) *media.UpTrack {
	cfg := media.UpTrackConfig{
		Publisher: rp.id,
		Kind:      kind,
		Codec: webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: t.MimeType, ClockRate: t.ClockRate,
				Channels: t.Channels, SDPFmtpLine: t.Fmtp},
			PayloadType: webrtc.PayloadType(t.PayloadType),
		},
		Remote: true,
		SendPLI: func(layer int, _ uint32) error {
			c.sendKeyframe(rp, kind.String(), layer)
			return nil
		},
		Observe: r.node.metrics.observeForward,
	}
	if kind == webrtc.RTPCodecTypeAudio {
		cfg.AudioLevelExt = t.AudioLevel
		spk := rp.speaker
		cfg.OnAudioLevel = func(level uint8, voice bool, at time.Time) { spk.Level(level, voice, at) }
	}
	if b := c.n.batch; b != nil {
		cfg.Batch = b
	}
	return media.NewUpTrack(cfg)
}

func (c *cluster) sendKeyframe(rp *remoteParticipant, kind string, layer int) {
	b, err := control.Encode(&control.Message{Type: control.TypeKeyframe, Publisher: rp.id, Kind: kind, Layer: layer})
	if err != nil {
		return
	}
	c.sendControl(rp.from, rp.conf, b)
}

// removeRemote takes a remote participant out of the room.
func (r *Room) removeRemote(c *cluster, rp *remoteParticipant) {
	r.mu.Lock()
	if r.remotes[rp.id] != rp {
		r.mu.Unlock()
		return
	}
	delete(r.remotes, rp.id)
	r.mu.Unlock()
	c.mu.Lock()
	if m := c.remotes[r.name]; m != nil && m[rp.id] == rp {
		delete(m, rp.id)
		if len(m) == 0 {
			delete(c.remotes, r.name)
		}
	}
	c.mu.Unlock()
	r.speaker.Remove(rp.id)
	ups := rp.upTracks()
	for _, q := range r.members() {
		q.unsubscribe(ups)
		q.send(signal.Message{Type: signal.TypeParticipantLeft, ID: rp.id})
	}
	r.node.log.Info("remote participant left", "room", r.name, "participant", rp.id, "node", rp.node)
}

// forgetNode drops every participant a peer hosted in this room.
func (r *Room) forgetNode(id relay.NodeID) {
	c := r.node.cluster
	if c == nil {
		return
	}
	for _, rp := range r.remoteList() {
		if rp.from == id {
			r.removeRemote(c, rp)
		}
	}
	r.refreshRelayOuts(c)
}

// dropRemotes forgets every remote participant, when the room closes here.
func (r *Room) dropRemotes() {
	c := r.node.cluster
	if c == nil {
		return
	}
	for _, rp := range r.remoteList() {
		r.removeRemote(c, rp)
	}
}

// refreshRelayOuts points every local track's relay at the peers hosting
// the conference, each with the layers it asked for.
func (r *Room) refreshRelayOuts(c *cluster) {
	hosts := c.hosts(r.name)
	for _, p := range r.members() {
		for _, kind := range []string{"audio", "video"} {
			out := p.relayOut(kind)
			if out == nil {
				continue
			}
			ts := make([]relayTarget, 0, len(hosts))
			for _, h := range hosts {
				ts = append(ts, relayTarget{peer: h, want: c.wants(h, r.name, p.id, kind)})
			}
			out.setTargets(ts)
		}
	}
}

// remoteKeyframe passes a peer's keyframe request to a local publisher. A
// request for a layer is also a sign the peer needs that layer now, ahead
// of its next state.
func (r *Room) remoteKeyframe(p *peerNode, m *control.Message) {
	c := r.node.cluster
	pub, ok := r.get(m.Publisher)
	if !ok {
		c.dropped(dropEndpoint, p.id, m.Publisher)
		return
	}
	c.mu.Lock()
	if pc := p.confs[r.name]; pc != nil {
		pc.wants[wantKey{m.Publisher, m.Kind}] |= 1 << m.Layer
	}
	c.mu.Unlock()
	r.refreshRelayOuts(c)
	for _, up := range pub.upTracks() {
		if up.Kind().String() == m.Kind {
			up.RequestKeyframe(m.Layer)
		}
	}
}

// remoteMessage delivers an endpoint message from a participant of a peer.
func (r *Room) remoteMessage(c *cluster, from relay.NodeID, m *control.Message) {
	r.mu.Lock()
	rp := r.remotes[m.From]
	r.mu.Unlock()
	if rp == nil || rp.from != from {
		c.dropped(dropEndpoint, from, m.From)
		return
	}
	out := signal.Message{Type: signal.TypeMessage, From: m.From, Payload: m.Payload}
	if m.To == "" {
		r.broadcast(nil, out)
		return
	}
	if q, ok := r.get(m.To); ok {
		q.send(out)
	}
}

// relayMessage sends a local participant's endpoint message to the nodes
// hosting the conference: to the one hosting `to`, or to all when to is "".
func (r *Room) relayMessage(from *Participant, to string, payload json.RawMessage) bool {
	c := r.node.cluster
	if c == nil {
		return false
	}
	var dest []relay.NodeID
	if to == "" {
		for _, h := range c.hosts(r.name) {
			dest = append(dest, h.id)
		}
	} else {
		r.mu.Lock()
		rp := r.remotes[to]
		r.mu.Unlock()
		if rp == nil {
			return false
		}
		from.notePingID(to, payload)
		dest = append(dest, rp.from)
	}
	b, err := control.Encode(&control.Message{Type: control.TypeEndpoint, From: from.id, To: to, Payload: payload})
	if err != nil {
		from.log.Debug("endpoint message not relayed", "err", err)
		return true
	}
	for _, id := range dest {
		c.sendControl(id, r.name, b)
	}
	return true
}

// controlState describes this node's side of the room for the peers: its
// participants and tracks, and which layers of the peers' tracks it needs.
func (r *Room) controlState(c *cluster) *control.Message {
	m := &control.Message{Type: control.TypeState, Dominant: r.dominantSpeaker()}
	for _, p := range r.members() {
		rtt, _, _ := p.linkStats()
		if !(rtt >= 0 && rtt < 60_000) {
			rtt = 0 // a browser's stats can be nonsense for a moment
		}
		cp := control.Participant{ID: p.id, Name: p.name, Region: p.region, RTTMs: rtt}
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
			t := control.Track{Kind: up.Kind().String(), MimeType: codec.MimeType, ClockRate: codec.ClockRate,
				Channels: codec.Channels, Fmtp: codec.SDPFmtpLine, PayloadType: uint8(codec.PayloadType)}
			if up.Kind() == webrtc.RTPCodecTypeAudio {
				t.AudioLevel = up.AudioLevelExt()
				t.AudioMuted = p.audioMuted.Load()
			} else {
				for _, l := range up.Layers() {
					t.Layers = append(t.Layers, control.Layer{Index: l.Index, Active: l.Active, Bitrate: l.Bitrate, Width: l.Width, Height: l.Height})
				}
			}
			cp.Tracks = append(cp.Tracks, t)
		}
		m.Participants = append(m.Participants, cp)
	}
	m.Wants = r.wants()
	return m
}

// wants is which layers of each remote track this node's participants are
// being sent or about to be.
func (r *Room) wants() []control.Want {
	need := map[*media.UpTrack]uint8{}
	for _, p := range r.members() {
		p.mu.Lock()
		for up, s := range p.downs {
			if !up.Remote() {
				continue
			}
			cur, target, _ := s.down.Layers()
			var mask uint8
			if cur >= 0 {
				mask |= 1 << cur
			}
			if target >= 0 {
				mask |= 1 << target
			}
			need[up] |= mask
		}
		p.mu.Unlock()
	}
	r.mu.Lock()
	for _, rp := range r.remotes {
		if v := rp.video.Load(); v != nil {
			rp.noteWanted(need[v])
		}
	}
	r.mu.Unlock()
	var out []control.Want
	for up, mask := range need {
		if mask != 0 {
			out = append(out, control.Want{Publisher: up.Publisher(), Kind: up.Kind().String(), Layers: mask})
		}
	}
	return out
}
