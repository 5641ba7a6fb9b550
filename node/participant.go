package node

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/media"
	"github.com/switchyard/switchyard/media/layer"
	"github.com/switchyard/switchyard/media/rtxguard"
	"github.com/switchyard/switchyard/media/speaker"
	"github.com/switchyard/switchyard/node/signal"
)

// Participant is one endpoint on this node: its signaling session and its
// single PeerConnection, which both publishes and receives.
type Participant struct {
	id, name, region string
	node             *Node
	conf             *Conference
	sess             *session
	log              *slog.Logger
	joined           time.Time
	api              *peerAPI
	pc               *webrtc.PeerConnection // replaced only before the first answer (negMu and mu held)
	speaker          *speaker.Speaker
	// grants say what the participant may do (from its token); identity is
	// the token's stable user id. Set before it joins its conference.
	grants   signal.Grants
	identity string

	negMu          sync.Mutex // serialises offer/answer; guards the fields below it
	ready          bool       // the client's first offer has been answered and the conference knows
	offered        bool       // the client's first offer has been answered
	awaitingAnswer bool
	pending        bool // renegotiate once the current answer arrives
	negTimer       *time.Timer

	mu          sync.Mutex                      // guards the fields below
	ups         map[media.Source]*media.UpTrack // by source
	sources     map[string]media.Source         // the client's publishing m-lines, by mid (its first offer)
	downs       map[*media.UpTrack]*subscription
	sendLines   map[*webrtc.RTPTransceiver]bool // m-lines the node created to send on
	constraints map[string]int                  // publisher id -> largest height shown
	layerCap    int                             // highest layer index an operator allows, -1 none
	measured    map[string]float64
	closed      bool
	goneTimer   *time.Timer
	// connected is set once the media connection is first up: until then
	// down tracks wait (media.DownTrack.SetWaiting).
	connected  bool
	offerTimer *time.Timer // removes the participant if no offer comes in time
	// counted is set once the node counts the participant as present (its
	// first offer arrived); guarded by Node.mu.
	counted bool
	// protecting: the node adds its own RED towards this receiver (see
	// protectAgainst); guarded by mu.
	protecting  bool
	protectLoss float64 // smoothed downstream loss, percent
	// http is the WHIP or WHEP session of a participant without signaling
	// (whip.go); nil for a WebSocket client. Set before it joins.
	http *httpEndpoint

	// rtx bounds the retransmissions sent to this participant over all its
	// subscriptions; retired keeps the NACK counts of ended subscriptions.
	rtx     *rtxguard.Budget
	retired nackCounts // guarded by mu

	audioMuted atomic.Bool // by an operator or a moderator
	// What the participant turned off, shares or records, as it said.
	micOff, cameraOff, sharing, recording atomic.Bool
	// e2ee: the client said at join that it encrypts its media end to
	// end (fixed for the participant's life).
	e2ee   bool
	remb   atomic.Int64
	rembAt atomic.Int64

	// rtt is the participant's one RTT figure (see rttFilter), updated by
	// tickRates; rttMs holds its float64 bits for every reader.
	rtt   rttFilter
	rttMs atomic.Uint64

	// rates, written by tickRates (node ticker goroutine) and read by snapshots
	rateMu                 sync.Mutex
	bitrateUp, bitrateDown int64
	lossUp                 float64
	lastRecv, lastExp      uint64
}

type subscription struct {
	up     *media.UpTrack
	down   *media.DownTrack
	sender *webrtc.RTPSender
	reason layer.Reason
	off    bool // its publisher turned the track off, or it was muted; written by allocate under mu
	// errLogged is set once a write error was logged; touched by tickRates only.
	errLogged bool
}

func newParticipant(n *Node, r *Conference, s *session, m signal.Message) (*Participant, error) {
	api, err := n.newPeerAPI()
	if err != nil {
		return nil, fmt.Errorf("peer api: %w", err)
	}
	region := m.Region
	if region == "" {
		region = n.cfg.Region
	}
	id := n.newParticipantID()
	p := &Participant{
		id: id, name: m.Name, region: region, e2ee: m.E2EE,
		node: n, conf: r, sess: s, api: api,
		rtx:         rtxguard.NewBudget(rtxguard.BudgetConfig{}, time.Now()),
		joined:      time.Now(),
		log:         n.log.With("conference", r.name, "participant", id),
		ups:         make(map[media.Source]*media.UpTrack),
		downs:       make(map[*media.UpTrack]*subscription),
		sendLines:   make(map[*webrtc.RTPTransceiver]bool),
		constraints: make(map[string]int),
		measured:    make(map[string]float64),
		layerCap:    -1,
	}
	pc, err := p.newPeerConnection()
	if err != nil {
		return nil, err
	}
	p.pc = pc
	p.speaker = r.speaker.Add(id)
	return p, nil
}

// newPeerConnection makes the participant's PeerConnection. Its callbacks
// ignore it once it is no longer p.pc (a first offer that failed replaces it).
func (p *Participant) newPeerConnection() (*webrtc.PeerConnection, error) {
	pc, err := p.api.api.NewPeerConnection(webrtc.Configuration{SDPSemantics: webrtc.SDPSemanticsUnifiedPlan})
	if err != nil {
		return nil, fmt.Errorf("peer connection: %w", err)
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil || !p.isCurrent(pc) {
			return
		}
		init := c.ToJSON()
		p.send(signal.Message{Type: signal.TypeCandidate, Candidate: &signal.Candidate{
			Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex}})
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if p.isCurrent(pc) {
			p.onConnectionState(s)
		}
	})
	pc.OnTrack(p.onTrack)
	return pc, nil
}

func (p *Participant) isCurrent(pc *webrtc.PeerConnection) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pc == pc
}

func (p *Participant) memberID() string { return p.id }

func (p *Participant) info() signal.Participant {
	return signal.Participant{ID: p.id, Name: p.name, Region: p.region, Node: p.node.cfg.ID,
		MicOff: p.micOff.Load(), CameraOff: p.cameraOff.Load(), Sharing: p.sharing.Load(),
		Recording: p.recording.Load(), Moderator: p.grants.Moderator, E2EE: p.e2ee}
}

func (p *Participant) send(m signal.Message) { p.sess.send(m) }

// hasOffered reports whether the client's first offer was answered.
func (p *Participant) hasOffered() bool {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	return p.offered
}

func (p *Participant) isReady() bool {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	return p.ready
}

// markReady is called by the conference with its lock held.
func (p *Participant) markReady() {
	p.negMu.Lock()
	p.ready = true
	p.negMu.Unlock()
}

func (p *Participant) upTracks() []*media.UpTrack {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*media.UpTrack, 0, len(p.ups))
	for _, u := range p.ups {
		out = append(out, u)
	}
	return out
}

func (p *Participant) setConstraints(tiles map[string]int) {
	p.mu.Lock()
	clear(p.constraints)
	for id, h := range tiles {
		p.constraints[id] = h
	}
	p.mu.Unlock()
	p.allocate()
}

// onTrack starts receiving one published track (one call per simulcast RID).
func (p *Participant) onTrack(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	if !p.grants.Publish {
		// The answer refused its sending m-lines; nothing is read or forwarded.
		p.log.Warn("track from a participant without the publish grant ignored", "kind", track.Kind().String())
		return
	}
	kind := media.KindOf(track.Kind())
	src, ok := p.sourceOf(receiver, kind)
	if !ok {
		p.log.Warn("track on an m-line the client did not name, or a second one of its source; ignored",
			"kind", kind.String(), "rid", track.RID())
		return
	}
	p.mu.Lock()
	up, existed := p.ups[src]
	if !existed {
		cfg := media.UpTrackConfig{
			Publisher: p.id,
			Kind:      kind,
			Source:    src,
			Codec:     track.Codec(),
			SendPLI: func(_ int, ssrc uint32) error {
				return p.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
			},
			Observe: p.node.metrics.observeForward,
		}
		if p.http != nil {
			cfg.LayerOf = p.http.layerOf // a WHIP publisher's RIDs may be numbers
		}
		if b := p.node.batch; b != nil {
			cfg.Batch = b
		}
		if src == media.SourceMic {
			cfg.AudioLevelExt = p.extensionID(receiver, extAudioLevel)
			spk := p.speaker
			cfg.OnAudioLevel = func(level uint8, voice bool, at time.Time) { spk.Level(level, voice, at) }
		}
		up = media.NewUpTrack(cfg)
		p.ups[src] = up
		p.node.metrics.countUp(up)
	}
	p.mu.Unlock()
	p.log.Info("receiving track", "source", src.String(), "rid", track.RID(), "codec", track.Codec().MimeType, "ssrc", uint32(track.SSRC()))
	rid := track.RID()
	go func() {
		for {
			var err error
			if rid != "" {
				_, _, err = receiver.ReadSimulcastRTCP(rid)
			} else {
				_, _, err = receiver.ReadRTCP()
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		if err := up.Run(track); err != nil {
			p.log.Warn("track ended", "source", src.String(), "rid", rid, "err", err)
		}
	}()
	if !existed {
		p.conf.published(p, up)
		if peers := p.node.peers; peers != nil {
			peers.Publish(p.conf.name, p.id, up, p.heldBack(src))
		}
	}
}

func (p *Participant) extensionID(r *webrtc.RTPReceiver, uri string) uint8 {
	for _, e := range r.GetParameters().HeaderExtensions {
		if e.URI == uri {
			return uint8(e.ID)
		}
	}
	return 0
}

// subscribe starts sending up to this participant.
func (p *Participant) subscribe(up *media.UpTrack) {
	if !p.grants.Subscribe || !p.conf.showing(up) {
		return
	}
	p.mu.Lock()
	if p.closed || p.downs[up] != nil {
		p.mu.Unlock()
		return
	}
	down := media.NewDownTrack(up)
	down.SetRetransmitBudget(p.rtx)
	down.SetWaiting(!p.connected)
	sender, err := p.addSendTrack(down)
	if err != nil {
		p.mu.Unlock()
		p.log.Warn("cannot add track", "publisher", up.Publisher(), "kind", up.Kind().String(), "err", err)
		return
	}
	p.downs[up] = &subscription{up: up, down: down, sender: sender}
	p.node.metrics.countDown(down)
	p.mu.Unlock()
	up.AddSink(down)
	go func() {
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			down.HandleRTCP(pkts)
			p.noteREMB(pkts)
		}
	}()
	p.allocate()
	p.negotiate()
}

// addSendTrack sends track on an m-line of its own: an inactive one the node
// sent on before if there is one, else a new sendonly one. The client's own
// publishing m-lines are never used for sending. Called with mu held.
func (p *Participant) addSendTrack(track *media.DownTrack) (*webrtc.RTPSender, error) {
	for _, t := range p.pc.GetTransceivers() {
		if !p.sendLines[t] || t.Kind() != track.Kind() || t.Sender() != nil ||
			t.Direction() != webrtc.RTPTransceiverDirectionInactive {
			continue
		}
		sender, err := p.api.api.NewRTPSender(track, p.pc.SCTP().Transport())
		if err != nil {
			return nil, fmt.Errorf("sender: %w", err)
		}
		if err := t.SetSender(sender, track); err != nil {
			_ = sender.Stop()
			return nil, fmt.Errorf("reuse m-line %s: %w", t.Mid(), err)
		}
		return sender, nil
	}
	t, err := p.pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return nil, err
	}
	p.sendLines[t] = true
	return t.Sender(), nil
}

// unsubscribe stops sending the given tracks; their m-lines become inactive
// at the next negotiation and may be reused.
func (p *Participant) unsubscribe(ups []*media.UpTrack) {
	if p.http != nil {
		p.http.unsubscribed() // no m-line to give up: a WHEP session follows another track
		return
	}
	changed := false
	for _, up := range ups {
		p.mu.Lock()
		s := p.downs[up]
		delete(p.downs, up)
		p.mu.Unlock()
		if s == nil {
			continue
		}
		up.RemoveSink(s.down)
		p.node.metrics.retireDown(s.down)
		p.mu.Lock()
		p.retired.add(s.down)
		p.mu.Unlock()
		if err := p.pc.RemoveTrack(s.sender); err != nil && p.pc.ConnectionState() != webrtc.PeerConnectionStateClosed {
			p.log.Debug("remove track", "err", err)
		}
		changed = true
	}
	if changed {
		p.negotiate()
	}
}

func (p *Participant) onConnectionState(s webrtc.PeerConnectionState) {
	p.log.Info("connection state", "state", s.String())
	switch s {
	case webrtc.PeerConnectionStateFailed:
		go p.remove("media connection failed")
	case webrtc.PeerConnectionStateClosed:
		// Closed by the client, by a DTLS close, or by us in remove: either
		// way no media flows again on this connection.
		go p.remove("media connection closed")
	case webrtc.PeerConnectionStateDisconnected:
		p.mu.Lock()
		if p.goneTimer == nil && !p.closed {
			p.goneTimer = time.AfterFunc(p.node.cfg.GoneAfter, func() {
				if p.pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
					p.remove("media connection lost")
				}
			})
		}
		p.mu.Unlock()
	case webrtc.PeerConnectionStateConnected:
		p.mu.Lock()
		if p.goneTimer != nil {
			p.goneTimer.Stop()
			p.goneTimer = nil
		}
		if !p.connected {
			// The first video packets the receiver gets are a keyframe,
			// asked for now rather than at the next packet.
			p.connected = true
			for _, s := range p.downs {
				s.down.SetWaiting(false)
			}
		}
		p.mu.Unlock()
	}
}

// remove takes the participant out of its conference and releases everything it holds.
func (p *Participant) remove(reason string) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	if p.goneTimer != nil {
		p.goneTimer.Stop()
	}
	if p.offerTimer != nil {
		p.offerTimer.Stop()
	}
	downs := p.downs
	p.downs = map[*media.UpTrack]*subscription{}
	p.mu.Unlock()
	p.log.Info("participant removed", "reason", reason, "name", p.name)
	for _, s := range downs {
		s.up.RemoveSink(s.down)
		p.node.metrics.retireDown(s.down)
	}
	p.conf.remove(p)
	for _, up := range p.upTracks() {
		p.node.metrics.retireUp(up)
	}
	if peers := p.node.peers; peers != nil {
		peers.Unpublish(p.conf.name, p.id)
	}
	p.mu.Lock()
	pc := p.pc
	p.mu.Unlock()
	if err := pc.Close(); err != nil {
		p.log.Debug("close peer connection", "err", err)
	}
	p.sess.closeWith(reason)
	p.node.release(p.conf, &p.counted)
}

// notePingID records the end-to-end RTT a client reports in its pings
// (`{"kind":"ping","rtt":ms}`: its last measurement to that peer).
func (p *Participant) notePingID(to string, payload json.RawMessage) {
	if !strings.Contains(string(payload), `"rtt"`) {
		return
	}
	var ping struct {
		Kind string  `json:"kind"`
		RTT  float64 `json:"rtt"`
	}
	if json.Unmarshal(payload, &ping) != nil || ping.Kind != "ping" || ping.RTT <= 0 || ping.RTT > 60_000 {
		return
	}
	p.mu.Lock()
	p.measured[to] = ping.RTT
	p.mu.Unlock()
}

// nackCounts are a receiver's NACK and retransmission counters.
type nackCounts struct{ nacked, resent, refused uint64 }

func (c *nackCounts) add(d *media.DownTrack) {
	c.nacked += d.NACKed.Load()
	c.resent += d.Retransmits.Load()
	c.refused += d.RetransmitsRefusedTotal()
}

// nacks sums the participant's NACK counters over its subscriptions, ended
// ones included; called with mu held.
func (p *Participant) nacksLocked() nackCounts {
	c := p.retired
	for _, s := range p.downs {
		c.add(s.down)
	}
	return c
}
