package node

// A WHEP session's follower: one follow track per kind, on the viewer's
// own m-lines, fed from the publisher it watches (the dominant speaker, or
// one named participant). When that changes, each track switches to the
// new publisher's track (media.DownTrack.Switch): same SSRC, continuous
// numbering, from a keyframe. A subscription per track stays in the
// participant's downs, keyed by the track it forwards now, so that layer
// allocation, the API and the cascade's wants treat it like any other.

import (
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/media"
)

// follower is driven by the session's supervise goroutine; poke may be
// called from anywhere.
type follower struct {
	p      *Participant
	target string // the participant followed; "" for the dominant speaker
	lanes  []*lane
	wake   chan struct{} // buffered 1: step soon
}

// lane is one of the viewer's m-lines.
type lane struct {
	kind media.Kind
	src  media.Source // followed: mic or camera
	down *media.DownTrack
	t    *webrtc.RTPTransceiver
	up   *media.UpTrack // forwarded now, nil when none
	// refused are tracks the viewer cannot take (a codec it did not
	// negotiate); they are not tried again.
	refused map[*media.UpTrack]bool
}

// poke asks for a step soon: a followed track may have gone.
func (f *follower) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// publication is one member's track of a source.
type publication struct {
	member string
	up     *media.UpTrack
	off    bool // its publisher turned it off, or it is muted
}

// step moves every lane to the track it should forward now.
func (f *follower) step() {
	c := f.p.conf
	members := c.all()
	preferred := f.target
	if preferred == "" {
		preferred = c.dominantSpeaker()
	} else if !hasMember(members, preferred) {
		f.p.remove("the participant it followed left")
		return
	}
	for _, l := range f.lanes {
		pubs := publicationsOf(members, l.src)
		for up := range l.refused {
			if !isPublished(pubs, up) {
				delete(l.refused, up) // gone: forget it
			}
		}
		up := pickSource(pubs, preferred, f.target != "", l.up, l.refused)
		if up != l.up {
			f.rebind(l, up)
		}
	}
}

func hasMember(members []member, id string) bool {
	for _, m := range members {
		if m.memberID() == id {
			return true
		}
	}
	return false
}

// publicationsOf lists the members' tracks of src, in join order.
func publicationsOf(members []member, src media.Source) []publication {
	var out []publication
	for _, m := range members {
		st := publisherStateOf(m)
		for _, up := range m.upTracks() {
			if up.Source() != src {
				continue
			}
			off := src == media.SourceMic && (st.micOff || st.audioMuted) || src == media.SourceCamera && st.cameraOff
			out = append(out, publication{member: m.memberID(), up: up, off: off})
		}
	}
	return out
}

func isPublished(pubs []publication, up *media.UpTrack) bool {
	for _, p := range pubs {
		if p.up == up {
			return true
		}
	}
	return false
}

// pickSource chooses the track a lane forwards among pubs (in join order):
// the preferred member's if it is on. When following one participant
// (only), that one's even if off (allocation pauses it until it is on
// again), or none. When following the dominant speaker: the current track
// while it is on, else the first one on, else the speaker's or the current
// one though off. Refused tracks are never chosen.
func pickSource(pubs []publication, preferred string, only bool, current *media.UpTrack, refused map[*media.UpTrack]bool) *media.UpTrack {
	var prefOff, curOn, curOff, firstOn *media.UpTrack
	for _, p := range pubs {
		switch {
		case refused[p.up]:
		case p.member == preferred && !p.off:
			return p.up
		case p.member == preferred:
			if prefOff == nil {
				prefOff = p.up
			}
		case only:
		case p.up == current && !p.off:
			curOn = p.up
		case p.up == current:
			curOff = p.up
		case !p.off && firstOn == nil:
			firstOn = p.up
		}
	}
	if only {
		return prefOff
	}
	for _, up := range []*media.UpTrack{curOn, firstOn, prefOff, curOff} {
		if up != nil {
			return up
		}
	}
	return nil
}

// rebind makes a lane forward up (nil: nothing).
func (f *follower) rebind(l *lane, up *media.UpTrack) {
	p := f.p
	if up != nil {
		if err := l.down.Switch(up); err != nil {
			l.refused[up] = true
			p.log.Info("cannot follow a track", "publisher", up.Publisher(), "kind", l.kind.String(), "err", err)
			return
		}
	}
	old := l.up
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	if old != nil && p.downs[old] != nil && p.downs[old].down == l.down {
		delete(p.downs, old)
	}
	if up != nil {
		p.downs[up] = &subscription{up: up, down: l.down, sender: l.t.Sender()}
		// Under mu: a removal that already took the downs would miss it.
		up.AddSink(l.down)
	}
	p.mu.Unlock()
	if old != nil {
		old.RemoveSink(l.down)
	}
	l.up = up
	who := ""
	if up != nil {
		who = up.Publisher()
	}
	p.log.Info("following", "kind", l.kind.String(), "publisher", who)
	p.allocate()
}

// stop detaches the lanes once the session ended.
func (f *follower) stop() {
	for _, l := range f.lanes {
		if l.up != nil {
			l.up.RemoveSink(l.down)
		}
		f.p.node.metrics.retireDown(l.down)
	}
}
