package peering

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/switchyard/switchyard/cascade/control"
	"github.com/switchyard/switchyard/cascade/linkrate"
	"github.com/switchyard/switchyard/cascade/relay"
	"github.com/switchyard/switchyard/media"
)

// What each relay link carries: its capacity estimate, and the layers of
// this node's tracks that go to each peer within it.
//
// The sending node decides, because it sees its own direction of the link
// whole: the configured rate of an emulated link, the bytes it sends, and,
// from the peer's pongs, what arrived, how fast and how late. When what a
// peer wants costs more than the estimate, the most expensive wants step
// down (fitLink) at once, and the peer is told, in the state this node
// sends it, that the layers the link does not carry are not active (and
// held), so that its receivers choose a layer that arrives and say why.

// linkPeriod is how often the estimates are updated: the relay's ping
// interval, so that each tick sees about one new pong.
const linkPeriod = relay.DefaultPingInterval

// overhead scales a layer's RTP bitrate to what it costs on the link:
// the relay's header, ids and tag on every packet (about 60 bytes on a
// 1,000-byte packet), the link's RTCP, and some room for keyframes.
const overhead = 1.1

// defaultRate stands in for an active layer's bitrate until it is measured.
var defaultRate = [media.MaxLayers]int64{150_000, 500_000, 1_500_000}

// maxReportGap is the longest gap between two of a peer's reports that
// still measures the link.
const maxReportGap = 2 * time.Second

// linkCounters are a link's cumulative figures at one tick.
type linkCounters struct {
	sent, sentPkts uint64
	far            relay.Report
	farAt          time.Time
	nacked         uint64
}

func (p *Peering) linkLoop() {
	defer p.wg.Done()
	t := time.NewTicker(linkPeriod)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case now := <-t.C:
			p.updateLinks(now)
		}
	}
}

// updateLinks feeds every link's estimator one sample and fits what goes to
// each peer into its estimate; a peer whose held layers changed hears of it
// in a state soon.
func (p *Peering) updateLinks(now time.Time) {
	for _, l := range p.tr.Stats().Links {
		p.mu.RLock()
		pr := p.peers[l.Peer]
		var demand int64
		if pr != nil {
			demand = pr.demand
		}
		p.mu.RUnlock()
		if pr == nil {
			continue
		}
		if pr.rate == nil {
			pr.rate = linkrate.New(linkrate.Config{})
		}
		s, cur := linkSample(l, pr.prevLink, pr.nacksAnswered.Load(), now)
		s.Demand = demand
		pr.prevLink = cur
		est := pr.rate.Update(s)
		p.mu.Lock()
		old := pr.estimate
		pr.estimate = est
		p.mu.Unlock()
		// A limit found or gone, a cut, a probe: not every step of growth.
		if (old.Bps == 0) != (est.Bps == 0) || est.Bps < old.Bps*9/10 || (est.State == linkrate.Probing && old.State != linkrate.Probing) {
			p.log.Info("cascade: relay link estimate", "peer", pr.name, "kbps", est.Bps/1000, "was", old.Bps/1000,
				"why", est.State.String(), "loss", fmt.Sprintf("%.1f%%", 100*est.Loss), "queue", est.Queue.Round(time.Millisecond))
		}
	}
	if p.retarget() {
		p.Changed()
	}
}

// linkSample turns a link's cumulative figures into one tick's sample, given
// those of the previous tick.
func linkSample(l relay.LinkStats, prev linkCounters, nacked uint64, now time.Time) (linkrate.Sample, linkCounters) {
	var cur linkCounters
	for i := range l.Out {
		cur.sent += l.Out[i].Bytes
		cur.sentPkts += l.Out[i].Packets
	}
	cur.far, cur.farAt, cur.nacked = l.Far, l.FarAt, nacked
	s := linkrate.Sample{At: now, Configured: l.Impairment.RateBitsPerSec, RTT: l.RTT}
	if cur.sent >= prev.sent && cur.sentPkts >= prev.sentPkts {
		s.Sent, s.SentPackets = cur.sent-prev.sent, cur.sentPkts-prev.sentPkts
	}
	if cur.nacked >= prev.nacked {
		s.NACKed = cur.nacked - prev.nacked
	}
	f, pf := l.Far, prev.far
	// A report counts against the previous one when both came, every
	// count moved forward (the peer did not restart its counting) and not
	// much time went by between them: what an outage lost is for liveness
	// to judge, not a measure of what the link carries.
	if !cur.farAt.IsZero() && cur.farAt != prev.farAt {
		s.OneWay, s.HasOneWay = l.OneWay, true
		if !prev.farAt.IsZero() && f.Top >= pf.Top && f.Count >= pf.Count && f.Bytes >= pf.Bytes && f.At > pf.At &&
			f.At-pf.At <= maxReportGap {
			s.Expected, s.Received = f.Top-pf.Top, f.Count-pf.Count
			s.Delivered, s.DeliveredFor = f.Bytes-pf.Bytes, f.At-pf.At
			if s.Received > s.Expected {
				s.Received = s.Expected // reordered across the report
			}
		}
	}
	return s, cur
}

// retarget fits what every peer wants of this node's tracks into its link
// and points each track at the peers hosting its conference, with what
// goes to each. It reports whether the layers held for some peer changed.
func (p *Peering) retarget() (changed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var (
		keys   []trackKey
		tracks []fitTrack
		outs   []*Outbound
	)
	for _, pr := range p.peers {
		keys, tracks, outs = keys[:0], tracks[:0], outs[:0]
		for conf, pc := range pr.confs {
			for endpoint, bySource := range p.outs[conf] {
				for src, o := range bySource {
					k := trackKey{conf, endpoint, src}
					keys = append(keys, k)
					outs = append(outs, o)
					tracks = append(tracks, fitTrackOf(o, pc.wants[wantKey{endpoint, src}], pr.fits[k].held))
				}
			}
		}
		res := make([]fitResult, len(tracks))
		_, demand := fitLink(pr.estimate.Bps, tracks, res)
		fits := make(map[trackKey]fitResult, len(keys))
		for i, k := range keys {
			fits[k] = res[i]
			changed = changed || res[i].held != pr.fits[k].held
		}
		for k, f := range pr.fits {
			if _, ok := fits[k]; !ok && f.held != 0 {
				changed = true
			}
		}
		pr.fits, pr.demand = fits, demand
	}
	for conf, byEndpoint := range p.outs {
		var hosts []*peer
		for _, pr := range p.peers {
			if pr.confs[conf] != nil {
				hosts = append(hosts, pr)
			}
		}
		for endpoint, bySource := range byEndpoint {
			for src, o := range bySource {
				ts := make([]target, 0, len(hosts))
				for _, h := range hosts {
					k := trackKey{conf, endpoint, src}
					ts = append(ts, target{peer: h, want: h.fits[k].send, asked: h.confs[conf].wants[wantKey{endpoint, src}]})
				}
				o.targets.Store(&ts)
			}
		}
	}
	return changed
}

// fitTrackOf describes a local track for the fit: what the peer wants,
// what the publisher sends and what each layer costs on the link.
func fitTrackOf(o *Outbound, want, held media.LayerSet) fitTrack {
	t := fitTrack{audio: o.source == media.SourceMic, want: want, held: held}
	for _, l := range o.up.Layers() {
		if l.Index < 0 || l.Index >= media.MaxLayers {
			continue
		}
		if t.audio {
			l.Active = true // the fit never drops audio; its cost counts all the same
		}
		if !l.Active {
			continue
		}
		t.active = t.active.With(l.Index)
		br := l.Bitrate
		if br <= 0 && !t.audio {
			br = defaultRate[l.Index]
		}
		t.rates[l.Index] = int64(float64(br) * overhead)
	}
	return t
}

// heldFor is the layers the link to pr holds back of each of this node's
// tracks in conf, by endpoint and source; nil when none.
func (p *Peering) heldFor(pr *peer, conf string) map[wantKey]media.LayerSet {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out map[wantKey]media.LayerSet
	for k, f := range pr.fits {
		if k.conf == conf && f.held != 0 {
			if out == nil {
				out = make(map[wantKey]media.LayerSet)
			}
			out[wantKey{k.endpoint, k.source}] = f.held
		}
	}
	return out
}

// withHeld is a copy of a state's participants in which the layers held
// for one peer are not active.
func withHeld(parts []control.Participant, held map[wantKey]media.LayerSet) []control.Participant {
	out := slices.Clone(parts)
	for i := range out {
		p := &out[i]
		p.Tracks = slices.Clone(p.Tracks)
		for j := range p.Tracks {
			t := &p.Tracks[j]
			h := held[wantKey{p.ID, t.TrackSource()}]
			if h == 0 {
				continue
			}
			t.Layers = slices.Clone(t.Layers)
			for k := range t.Layers {
				if l := &t.Layers[k]; h.Has(l.Index) && l.Active {
					l.Active, l.Held = false, true
				}
			}
		}
	}
	return out
}

// heldList names the layers held for a peer, for the snapshot: "us-p1
// camera f" (called with p.mu held).
func heldList(fits map[trackKey]fitResult) []string {
	var out []string
	for _, k := range slices.SortedFunc(maps.Keys(fits), func(a, b trackKey) int {
		return cmp.Or(strings.Compare(a.endpoint, b.endpoint), cmp.Compare(a.source.Index(), b.source.Index()),
			strings.Compare(a.conf, b.conf))
	}) {
		h := fits[k].held
		for l := range media.MaxLayers {
			if h.Has(l) {
				out = append(out, fmt.Sprintf("%s %s %s", k.endpoint, k.source, media.RIDs[l]))
			}
		}
	}
	return out
}
