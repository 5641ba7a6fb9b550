package peering

import (
	"sync"
	"sync/atomic"

	"github.com/pion/rtcp"

	"github.com/switchyard/switchyard/cascade/control"
	"github.com/switchyard/switchyard/cascade/relay"
	"github.com/switchyard/switchyard/media"
)

// Outbound relays one local publisher's track to the nodes that need it:
// each layer only to the peers whose participants want that layer. The next
// hop's NACKs are answered from the track's own packet cache. It is a
// media.Sink of the track.
type Outbound struct {
	tr       Transport
	up       *media.UpTrack
	conf     string
	endpoint string
	source   media.Source
	muted    func() bool // the track is held back: an operator muted it, or its publisher turned it off
	targets  atomic.Pointer[[]target]
	layers   [media.MaxLayers]outLayer
}

type target struct {
	peer  *peer
	want  media.LayerSet // what goes: what the peer asked for, fitted into its link
	asked media.LayerSet // what the peer asked for
}

type outLayer struct {
	mu   sync.Mutex // WriteRTP (the layer's goroutine) against resend (relay goroutine)
	buf  [1500]byte
	nack [1500]byte
	pkt  relay.Packet
}

// Publish starts relaying a local participant's track of conf to the nodes
// that want it; muted, if not nil, holds the track back while it says so
// (an operator's mute, or the publisher turned its microphone or camera off).
func (p *Peering) Publish(conf, endpoint string, up *media.UpTrack, muted func() bool) {
	if muted == nil {
		muted = func() bool { return false }
	}
	o := &Outbound{tr: p.tr, up: up, conf: conf, endpoint: endpoint, source: up.Source(), muted: muted}
	empty := []target{}
	o.targets.Store(&empty)
	p.mu.Lock()
	if p.outs[conf] == nil {
		p.outs[conf] = make(map[string]map[media.Source]*Outbound)
	}
	if p.outs[conf][endpoint] == nil {
		p.outs[conf][endpoint] = make(map[media.Source]*Outbound)
	}
	old := p.outs[conf][endpoint][o.source]
	p.outs[conf][endpoint][o.source] = o
	p.mu.Unlock()
	if old != nil {
		old.up.RemoveSink(old)
	}
	up.AddSink(o)
	p.refreshTargets()
	p.Changed()
}

// Unpublish stops relaying every track of a local participant who left.
func (p *Peering) Unpublish(conf, endpoint string) {
	p.mu.Lock()
	bySource := p.outs[conf][endpoint]
	delete(p.outs[conf], endpoint)
	p.mu.Unlock()
	for _, o := range bySource {
		o.up.RemoveSink(o)
	}
	p.Changed()
}

func (p *Peering) outbound(conf, endpoint string, src media.Source) *Outbound {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.outs[conf][endpoint][src]
}

// refreshTargets points every local track at the peers hosting its
// conference, each with the layers it asked for that its link carries (see
// retarget: the link is shared by every conference, so all are refitted).
func (p *Peering) refreshTargets() {
	if p.retarget() {
		p.Changed()
	}
}

// WriteRTP relays one packet of the publisher's track. It does not allocate.
func (o *Outbound) WriteRTP(p *media.Packet) {
	ts := *o.targets.Load()
	if len(ts) == 0 || p.Layer < 0 || p.Layer >= media.MaxLayers {
		return
	}
	audio := o.source == media.SourceMic
	if o.muted() {
		return
	}
	wanted := false
	for _, t := range ts {
		wanted = wanted || t.want.Has(p.Layer)
	}
	if !wanted {
		if !audio {
			size := uint64(p.Header.MarshalSize() + len(p.Payload))
			for _, t := range ts {
				t.notSent(p.Layer, size)
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
	l.pkt = relay.Packet{Type: relay.TypeRTP, Layer: tagOf(o.source, p.Layer), Conference: o.conf, Endpoint: o.endpoint, Payload: l.buf[:size]}
	for _, t := range ts {
		if !t.want.Has(p.Layer) {
			if !audio {
				t.notSent(p.Layer, uint64(size))
			}
			continue
		}
		_ = o.tr.Send(t.peer.id, &l.pkt)
	}
}

// notSent counts a video packet not relayed to the peer: held back because
// the link does not carry it, or not needed (what Octo would have sent).
func (t target) notSent(layer int, size uint64) {
	if t.asked.Has(layer) {
		t.peer.heldBytes.Add(size)
		return
	}
	t.peer.skipped.Add(size)
}

// resend answers one NACKed sequence number from the publisher's packet
// cache, the one that also serves this node's receivers. The header comes
// back without extensions: the next node needs none to forward or repair.
func (o *Outbound) resend(to *peer, layer int, seq uint16) bool {
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
	l.pkt = relay.Packet{Type: relay.TypeRTP, Layer: tagOf(o.source, layer), Conference: o.conf, Endpoint: o.endpoint, Payload: l.buf[:size]}
	return o.tr.Send(to.id, &l.pkt) == nil
}

// onRTCP answers a peer's NACK for one of this node's publishers from the
// track's cache. Relay goroutine.
func (p *Peering) onRTCP(from relay.NodeID, pkt *relay.Packet) {
	src, layer, ok := trackOf(pkt.Layer)
	if !ok {
		p.dropped(dropEndpoint, from, pkt.Endpoint)
		return
	}
	o := p.outbound(pkt.Conference, pkt.Endpoint, src)
	if o == nil {
		p.dropped(dropEndpoint, from, pkt.Endpoint)
		return
	}
	pkts, err := rtcp.Unmarshal(pkt.Payload)
	if err != nil {
		p.dropped(dropRTP, from, err.Error())
		return
	}
	p.mu.RLock()
	pr := p.peers[from]
	p.mu.RUnlock()
	if pr == nil {
		return
	}
	for _, c := range pkts {
		nack, ok := c.(*rtcp.TransportLayerNack)
		if !ok {
			continue
		}
		for _, pair := range nack.Nacks {
			pair.Range(func(seq uint16) bool {
				if o.resend(pr, layer, seq) {
					pr.nacksAnswered.Add(1)
				}
				return true
			})
		}
	}
}

// onKeyframe passes a peer's keyframe request to a local publisher. A
// request for a layer is also a sign the peer needs that layer now, ahead
// of its next state.
func (p *Peering) onKeyframe(pr *peer, conf string, m *control.Message) {
	src := m.KeyframeSource()
	o := p.outbound(conf, m.Publisher, src)
	if o == nil {
		p.dropped(dropEndpoint, pr.id, m.Publisher)
		return
	}
	p.mu.Lock()
	if pc := pr.confs[conf]; pc != nil {
		k := wantKey{m.Publisher, src}
		pc.wants[k] = pc.wants[k].With(m.Layer)
	}
	p.mu.Unlock()
	p.refreshTargets()
	o.up.RequestKeyframe(m.Layer)
}
