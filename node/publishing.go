package node

// What a participant publishes and says about it: its sources (mic, camera,
// screen), turning the microphone or camera off, sharing the screen,
// recording locally.

import (
	"maps"
	"slices"

	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/media"
	"github.com/switchyard/switchyard/node/signal"
)

// noteSources records the client's names for its publishing m-lines, from
// its first offer; called with negMu held, before the offer is applied.
func (p *Participant) noteSources(sources map[string]string) {
	named := make(map[string]media.Source, len(sources)+2)
	for mid, name := range sources {
		if src, err := media.ParseSource(name); err == nil {
			named[mid] = src
		}
	}
	p.mu.Lock()
	p.sources = named
	p.mu.Unlock()
}

// sourceOf says which source a track arriving on receiver carries: the
// name the client gave its m-line, or, when it named none, the default of
// the track's kind. ok is false for an m-line named for another kind, or
// a second m-line of a source already published.
func (p *Participant) sourceOf(receiver *webrtc.RTPReceiver, kind media.Kind) (media.Source, bool) {
	mid := ""
	for _, t := range p.pc.GetTransceivers() {
		if t.Receiver() == receiver {
			mid = t.Mid()
			break
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	src, named := p.sources[mid]
	if !named {
		return 0, false // the client named its m-lines (or we did), but not this one
	}
	if src.Kind() != kind {
		return 0, false
	}
	if up := p.ups[src]; up != nil {
		// One more simulcast layer of a track already known is fine; a
		// second m-line of the same source is not.
		return src, p.midOf(up) == mid || mid == ""
	}
	return src, true
}

// midOf is the m-line an UpTrack of this participant arrives on ("" when
// not known); called with mu held.
func (p *Participant) midOf(up *media.UpTrack) string {
	for mid, src := range p.sources {
		if src == up.Source() {
			return mid
		}
	}
	return ""
}

// declares reports whether the participant publishes, or said it will
// publish, a track of src.
func (p *Participant) declares(src media.Source) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ups[src] != nil {
		return true
	}
	for _, s := range p.sources {
		if s == src {
			return true
		}
	}
	return false
}

// defaultSources names the publishing m-lines of a client that did not:
// its first audio m-line is its microphone, its first video m-line its
// camera. Called with negMu held, once its offer is applied.
func (p *Participant) defaultSources() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.sources) > 0 {
		return
	}
	for _, t := range p.pc.GetTransceivers() {
		if t.Direction() != webrtc.RTPTransceiverDirectionRecvonly || t.Mid() == "" {
			continue
		}
		src := media.SourceOf(media.KindOf(t.Kind()))
		if !slices.Contains(slices.Collect(maps.Values(p.sources)), src) {
			p.sources[t.Mid()] = src
		}
	}
}

// heldBack reports, for the cascade, whether a track of src must not be
// relayed now: muted by a moderator or an operator, or turned off by its
// publisher.
func (p *Participant) heldBack(src media.Source) func() bool {
	switch src {
	case media.SourceMic:
		return func() bool { return p.audioMuted.Load() || p.micOff.Load() }
	case media.SourceCamera:
		return p.cameraOff.Load
	}
	return func() bool { return !p.sharing.Load() }
}

// setPublishState applies the client's publish-state message.
func (p *Participant) setPublishState(m signal.Message) error {
	if m.MicOff != p.micOff.Load() && !p.declares(media.SourceMic) {
		return &errJoin{signal.CodeBadMessage, "publish-state: you publish no microphone"}
	}
	if m.CameraOff != p.cameraOff.Load() && !p.declares(media.SourceCamera) {
		return &errJoin{signal.CodeBadMessage, "publish-state: you publish no camera"}
	}
	changed := p.micOff.Swap(m.MicOff) != m.MicOff
	changed = p.cameraOff.Swap(m.CameraOff) != m.CameraOff || changed
	if changed {
		p.log.Info("publish state", "mic_off", m.MicOff, "camera_off", m.CameraOff)
		p.conf.updated(p)
	}
	return nil
}

// setSharing starts or stops the participant's screen share.
func (p *Participant) setSharing(on bool) error {
	if !on {
		if p.sharing.Swap(false) {
			p.log.Info("screen share ended")
			p.conf.updated(p)
		}
		return nil
	}
	switch {
	case !p.grants.Publish:
		return &errJoin{signal.CodeForbidden, "share: your token does not let you publish"}
	case !p.declares(media.SourceScreen):
		return &errJoin{signal.CodeProtocol, `share: your first offer named no "screen" m-line`}
	case p.sharing.Load():
		return nil
	}
	if err := p.conf.startShare(p); err != nil {
		return err
	}
	p.log.Info("screen share started")
	p.conf.updated(p)
	return nil
}

// setRecording notes that the participant records the meeting locally; the
// others are told.
func (p *Participant) setRecording(on bool) error {
	if p.recording.Swap(on) != on {
		p.log.Info("local recording", "on", on)
		p.conf.updated(p)
	}
	return nil
}

// offerTracks says whose track, of which source, each m-line the node sends
// on carries; called with negMu held after the offer is set.
func (p *Participant) offerTracks() map[string]signal.TrackInfo {
	out := map[string]signal.TrackInfo{}
	for _, t := range p.pc.GetTransceivers() {
		s := t.Sender()
		if s == nil || t.Mid() == "" {
			continue
		}
		if d, ok := s.Track().(*media.DownTrack); ok {
			out[t.Mid()] = signal.TrackInfo{Publisher: d.StreamID(), Source: d.ID()}
		}
	}
	return out
}

// publisherState is what allocation needs to know of a publisher.
type publisherState struct {
	audioMuted, micOff, cameraOff, sharing bool
}

// startShare admits a share, one at a time by default (limits.max_shares),
// counting shares on every node of the conference.
func (c *Conference) startShare(p *Participant) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	sharing := 0
	for _, m := range c.order {
		if publisherStateOf(m).sharing {
			sharing++
		}
	}
	if sharing >= c.node.cfg.MaxShares {
		return &errJoin{signal.CodeShareBusy, "someone else is sharing their screen"}
	}
	p.sharing.Store(true)
	return nil
}

// updated tells everyone that m's state changed, and acts on it: the
// forwarding of what it turned off stops at the next allocation, which
// runs now.
func (c *Conference) updated(m member) {
	c.broadcast(nil, signal.Message{Type: signal.TypeParticipantUpdated, Participant: ptr(m.info())})
	// A share's m-line comes and goes with the share, so that receivers
	// drop its frozen last frame instead of showing it.
	sharing := publisherStateOf(m).sharing
	for _, up := range m.upTracks() {
		if up.Source() != media.SourceScreen {
			continue
		}
		for _, q := range c.locals() {
			switch {
			case member(q) == m:
			case sharing && q.isReady():
				q.subscribe(up)
			case !sharing:
				q.unsubscribe([]*media.UpTrack{up})
			}
		}
	}
	for _, q := range c.locals() {
		q.allocate()
	}
	if c.node.peers != nil {
		c.node.peers.Changed()
	}
}

// showing reports whether a track is worth an m-line now: a screen track
// only while its publisher shares.
func (c *Conference) showing(up *media.UpTrack) bool {
	if up.Source() != media.SourceScreen {
		return true
	}
	m, ok := c.get(up.Publisher())
	return ok && publisherStateOf(m).sharing
}

// publisherStates maps every member that holds something back to its state.
func (c *Conference) publisherStates() map[string]publisherState {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]publisherState, len(c.order))
	for _, m := range c.order {
		if st := publisherStateOf(m); st != (publisherState{}) {
			out[m.memberID()] = st
		}
	}
	return out
}

func publisherStateOf(m member) publisherState {
	switch q := m.(type) {
	case *Participant:
		return publisherState{audioMuted: q.audioMuted.Load(), micOff: q.micOff.Load(),
			cameraOff: q.cameraOff.Load(), sharing: q.sharing.Load()}
	case *remoteMember:
		st := q.State()
		return publisherState{audioMuted: q.AudioMuted(), micOff: st.MicOff, cameraOff: st.CameraOff, sharing: st.Sharing}
	}
	return publisherState{}
}
