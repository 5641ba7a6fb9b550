package node

// Bandwidth towards a participant: the estimate, and the layer of every
// video it receives.

import (
	"math"
	"time"

	"github.com/pion/rtcp"

	"github.com/switchyard/switchyard/media"
	"github.com/switchyard/switchyard/media/layer"
)

func (p *Participant) noteREMB(pkts []rtcp.Packet) {
	for _, pkt := range pkts {
		if r, ok := pkt.(*rtcp.ReceiverEstimatedMaximumBitrate); ok {
			p.remb.Store(int64(r.Bitrate))
			p.rembAt.Store(time.Now().UnixNano())
		}
	}
}

// estimate is the bandwidth the node may send to this participant, bits/s.
func (p *Participant) estimate() int64 {
	est := p.api.bw.Target()
	if at := p.rembAt.Load(); at != 0 && time.Since(time.Unix(0, at)) < 3*time.Second {
		if r := p.remb.Load(); r > 0 && r < est {
			est = r
		}
	}
	return est
}

// defaultLayerBitrate stands in for a layer's rate until it is measured.
var defaultLayerBitrate = [media.MaxLayers]int64{150_000, 500_000, 1_500_000}

// allocate chooses the layer of every video subscription from the bandwidth
// estimate and the receiver's constraints, and applies operator mutes.
func (p *Participant) allocate() {
	dominant := p.conf.dominantSpeaker()
	// Read before taking p.mu: the conference's lock is never taken under a
	// participant's (Room.ready takes them in the other order).
	states := p.conf.publisherStates()
	recency := p.conf.speakerRecency()
	rttMs, lossDown, _ := p.linkStats()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	rtt := time.Duration(rttMs * float64(time.Millisecond))
	for _, s := range p.downs {
		// NACKs repeated within a round trip are answered once.
		s.down.SetRTT(rtt)
	}
	p.api.bw.setRTT(rtt)
	budget := p.estimate()
	audio := int64(0)
	var pad padder
	protect := p.node.cfg.RED == REDProtectSpeakers && p.protectAgainst(lossDown)
	var subs []*subscription
	var reqs []layer.Request
	for _, s := range p.downs {
		st := states[s.up.Publisher()]
		src := s.up.Source()
		// A track its publisher turned off (or a moderator muted) is
		// neither forwarded nor given bandwidth.
		s.off = src == media.SourceMic && (st.audioMuted || st.micOff) ||
			src == media.SourceCamera && st.cameraOff ||
			src == media.SourceScreen && !st.sharing
		if s.off {
			s.down.SetTarget(-1)
			continue
		}
		if src == media.SourceMic {
			s.down.SetTarget(0)
			// The dominant speaker's voice to a lossy receiver carries
			// the node's own redundancy, and costs about twice as much.
			on := protect && s.up.Publisher() == dominant && s.down.CanProtect()
			s.down.SetProtect(on)
			audio += 40_000
			if on {
				audio += 40_000
			}
			continue
		}
		key := s.up.Publisher()
		if src == media.SourceScreen {
			key += "/screen"
		}
		maxH, ok := p.constraints[key]
		if !ok {
			maxH = -1
		}
		var ls []layer.Layer
		for _, li := range s.up.Layers() {
			for len(ls) < li.Index {
				ls = append(ls, layer.Layer{RID: media.RIDs[len(ls)]})
			}
			br := li.Bitrate
			if br == 0 {
				br = defaultLayerBitrate[li.Index]
			}
			ls = append(ls, layer.Layer{RID: li.RID, Bitrate: br, Height: li.Height, Active: li.Active})
		}
		cur, _, _ := s.down.Layers()
		if pad == nil && s.down.CanPad() {
			pad = s.down
		}
		subs = append(subs, s)
		prio := layer.PriorityNormal
		switch {
		case src == media.SourceScreen:
			prio = layer.PriorityScreen
		case s.up.Publisher() == dominant:
			prio = layer.PrioritySpeaker
		}
		rank, ok := recency[s.up.Publisher()]
		if !ok {
			rank = maxRecentSpeakers
		}
		reqs = append(reqs, layer.Request{Layers: ls, MaxHeight: maxH, Cap: p.layerCap, Current: cur, Priority: prio, Recency: rank})
	}
	if len(reqs) == 0 {
		return
	}
	choices := make([]layer.Choice, len(reqs))
	layer.Allocate(budget-audio, reqs, choices)
	limited := false
	for i, s := range subs {
		s.down.SetTarget(choices[i].Target)
		s.reason = choices[i].Reason
		if r := choices[i].Reason; r == layer.ReasonBandwidth || r == layer.ReasonLastN {
			limited = true
		}
	}
	if limited {
		// What the receiver would take unhindered: the probe's goal.
		layer.Allocate(math.MaxInt64/4, reqs, choices)
		want := audio
		for i, c := range choices {
			if c.Target >= 0 {
				want += reqs[i].Layers[c.Target].Bitrate
			}
		}
		p.api.bw.maybeProbe(want, p.sendingBitrate(), pad)
	}
}

// sendingBitrate is what the node sends the participant lately, bits/s.
func (p *Participant) sendingBitrate() int64 {
	p.rateMu.Lock()
	defer p.rateMu.Unlock()
	return p.bitrateDown
}

// tickRates updates this participant's bitrates and loss.
func (p *Participant) tickRates(secs float64) {
	var up, down int64
	var recv, exp uint64
	for _, u := range p.upTracks() {
		u.Tick(secs)
		up += u.Bitrate()
		for _, l := range u.Layers() {
			recv += l.Received
			exp += l.Expected
		}
	}
	p.mu.Lock()
	for _, s := range p.downs {
		s.down.Tick(secs)
		down += s.down.Bitrate()
		if n := s.down.WriteErrors.Load(); n > 0 && !s.errLogged {
			s.errLogged = true
			p.log.Warn("cannot send to participant", "publisher", s.up.Publisher(), "kind", s.up.Kind().String(),
				"errors", n, "first", s.down.FirstWriteError())
		}
	}
	p.mu.Unlock()
	p.rttMs.Store(math.Float64bits(p.rtt.update(p.rttSamples(nil))))
	p.rateMu.Lock()
	defer p.rateMu.Unlock()
	p.bitrateUp, p.bitrateDown = up, down
	dr, de := recv-p.lastRecv, exp-p.lastExp
	if de > 0 && de >= dr {
		p.lossUp = float64(de-dr) / float64(de)
	} else {
		p.lossUp = 0
	}
	p.lastRecv, p.lastExp = recv, exp
}

// Loss towards a receiver, in percent, at which the node starts adding its
// own RED to the dominant speaker's audio (media.red = protect-speakers),
// and below which it stops: apart, so that loss hovering near one
// threshold does not switch it on and off every half second.
const (
	protectOnLossPct  = 2
	protectOffLossPct = 1
)

// protectAgainst reports whether the receiver's downstream loss calls for
// the node's own redundancy; called with mu held.
// Receiver reports cover a second or so, a few dozen audio packets: the
// loss is smoothed (over about 5 s at two allocations a second) so that a
// report that happened to see no loss does not turn protection off.
func (p *Participant) protectAgainst(lossDownPct float64) bool {
	p.protectLoss += 0.1 * (lossDownPct - p.protectLoss)
	switch {
	case p.protectLoss >= protectOnLossPct:
		p.protecting = true
	case p.protectLoss < protectOffLossPct:
		p.protecting = false
	}
	return p.protecting
}
