package node

import (
	"encoding/json"
	"errors"
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

	negMu          sync.Mutex // serialises offer/answer; guards the fields below it
	ready          bool       // the client's first offer has been answered and the conference knows
	offered        bool       // the client's first offer has been answered
	awaitingAnswer bool
	pending        bool // renegotiate once the current answer arrives
	negTimer       *time.Timer

	mu          sync.Mutex                    // guards the fields below
	ups         map[media.Kind]*media.UpTrack // by kind
	downs       map[*media.UpTrack]*subscription
	sendLines   map[*webrtc.RTPTransceiver]bool // m-lines the node created to send on
	constraints map[string]int                  // publisher id -> largest height shown
	layerCap    int                             // highest layer index an operator allows, -1 none
	measured    map[string]float64
	closed      bool
	goneTimer   *time.Timer
	offerTimer  *time.Timer // removes the participant if no offer comes in time
	// counted is set once the node counts the participant as present (its
	// first offer arrived); guarded by Node.mu.
	counted bool
	trial   upgradeTrial

	// rtx bounds the retransmissions sent to this participant over all its
	// subscriptions; retired keeps the NACK counts of ended subscriptions.
	rtx     *rtxguard.Budget
	retired nackCounts // guarded by mu

	audioMuted atomic.Bool
	remb       atomic.Int64
	rembAt     atomic.Int64

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
		id: id, name: m.Name, region: region,
		node: n, conf: r, sess: s, api: api,
		rtx:         rtxguard.NewBudget(rtxguard.BudgetConfig{}, time.Now()),
		joined:      time.Now(),
		log:         n.log.With("conference", r.name, "participant", id),
		ups:         make(map[media.Kind]*media.UpTrack),
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
	return signal.Participant{ID: p.id, Name: p.name, Region: p.region, Node: p.node.cfg.ID}
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

// handleOffer answers the client's first offer, which carries what it publishes.
func (p *Participant) handleOffer(sdpText string) error {
	p.negMu.Lock()
	if p.ready || p.pc.SignalingState() != webrtc.SignalingStateStable || p.pc.RemoteDescription() != nil {
		p.negMu.Unlock()
		return &errJoin{signal.CodeProtocol, "only the first offer comes from the client; answer the node's offers instead"}
	}
	if err := signal.CheckSDP(sdpText); err != nil {
		p.negMu.Unlock()
		return &errJoin{signal.CodeBadSDP, err.Error()}
	}
	if err := p.node.promote(p.conf, &p.counted); err != nil {
		p.negMu.Unlock()
		var ej *errJoin
		if errors.As(err, &ej) {
			p.sess.sendError(ej.code, ej.reason, true)
		}
		go p.remove(err.Error())
		return nil
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdpText}); err != nil {
		p.rollbackLocked()
		p.negMu.Unlock()
		return &errJoin{signal.CodeBadSDP, "offer rejected: " + err.Error()}
	}
	answer, err := p.pc.CreateAnswer(nil)
	if err == nil {
		err = p.pc.SetLocalDescription(answer)
	}
	if err != nil {
		p.rollbackLocked()
		p.negMu.Unlock()
		return &errJoin{signal.CodeBadSDP, "cannot answer the offer: " + err.Error()}
	}
	p.offered = true
	p.send(signal.Message{Type: signal.TypeAnswer, SDP: p.pc.LocalDescription().SDP})
	p.negMu.Unlock()
	p.conf.ready(p)
	return nil
}

// rollbackLocked undoes a first offer that could not be answered, so that
// the client may send a corrected one. pion cannot roll a remote offer back
// (it stays in have-remote-offer), so the PeerConnection is replaced: before
// the first answer it carries nothing. Called with negMu held.
func (p *Participant) rollbackLocked() {
	pc, err := p.newPeerConnection()
	if err != nil {
		p.log.Warn("replace the peer connection after a rejected offer", "err", err)
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = pc.Close()
		return
	}
	old := p.pc
	p.pc = pc
	p.mu.Unlock()
	if err := old.Close(); err != nil {
		p.log.Debug("close the rejected peer connection", "err", err)
	}
}

// handleAnswer applies the client's answer to the node's latest offer.
func (p *Participant) handleAnswer(sdpText string) error {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if !p.awaitingAnswer {
		return &errJoin{signal.CodeProtocol, "unexpected answer: the node has no offer outstanding"}
	}
	if err := signal.CheckSDP(sdpText); err != nil {
		return &errJoin{signal.CodeBadSDP, err.Error()}
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdpText}); err != nil {
		return &errJoin{signal.CodeBadSDP, "answer rejected: " + err.Error()}
	}
	p.awaitingAnswer = false
	if p.pending {
		p.pending = false
		p.offerLocked()
	}
	return nil
}

// negotiate asks for a node-initiated offer soon; requests close together
// become one offer.
func (p *Participant) negotiate() {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if p.negTimer != nil {
		return
	}
	p.negTimer = time.AfterFunc(15*time.Millisecond, func() {
		p.negMu.Lock()
		defer p.negMu.Unlock()
		p.negTimer = nil
		if !p.ready || p.awaitingAnswer {
			p.pending = true
			return
		}
		p.offerLocked()
	})
}

// offerLocked sends a new offer; called with negMu held.
func (p *Participant) offerLocked() {
	if p.pc.ConnectionState() == webrtc.PeerConnectionStateClosed {
		return
	}
	offer, err := p.pc.CreateOffer(nil)
	if err == nil {
		err = p.pc.SetLocalDescription(offer)
	}
	if err != nil {
		p.log.Warn("cannot renegotiate", "err", err)
		return
	}
	p.awaitingAnswer = true
	p.send(signal.Message{Type: signal.TypeOffer, SDP: p.pc.LocalDescription().SDP})
}

func (p *Participant) handleCandidate(c *signal.Candidate) error {
	if c == nil || c.Candidate == "" {
		return nil // end of candidates
	}
	if p.pc.RemoteDescription() == nil {
		return &errJoin{signal.CodeProtocol, "candidate before any description"}
	}
	err := p.pc.AddICECandidate(webrtc.ICECandidateInit{
		Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment})
	if err != nil {
		return &errJoin{signal.CodeBadMessage, "candidate rejected: " + err.Error()}
	}
	return nil
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
	kind := media.KindOf(track.Kind())
	p.mu.Lock()
	up, existed := p.ups[kind]
	if !existed {
		cfg := media.UpTrackConfig{
			Publisher: p.id,
			Kind:      kind,
			Codec:     track.Codec(),
			SendPLI: func(_ int, ssrc uint32) error {
				return p.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
			},
			Observe: p.node.metrics.observeForward,
		}
		if b := p.node.batch; b != nil {
			cfg.Batch = b
		}
		if kind == media.KindAudio {
			cfg.AudioLevelExt = p.extensionID(receiver, extAudioLevel)
			spk := p.speaker
			cfg.OnAudioLevel = func(level uint8, voice bool, at time.Time) { spk.Level(level, voice, at) }
		}
		up = media.NewUpTrack(cfg)
		p.ups[kind] = up
		p.node.metrics.countUp(up)
	}
	p.mu.Unlock()
	p.log.Info("receiving track", "kind", kind, "rid", track.RID(), "codec", track.Codec().MimeType, "ssrc", uint32(track.SSRC()))
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
			p.log.Warn("track ended", "kind", kind, "rid", rid, "err", err)
		}
	}()
	if !existed {
		p.conf.published(p, up)
		if peers := p.node.peers; peers != nil {
			peers.Publish(p.conf.name, p.id, up, p.audioMuted.Load)
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
	p.mu.Lock()
	if p.closed || p.downs[up] != nil {
		p.mu.Unlock()
		return
	}
	down := media.NewDownTrack(up)
	down.SetRetransmitBudget(p.rtx)
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
	est := int64(p.node.cfg.InitialBitrate)
	if e := p.api.estimator(); e != nil {
		est = int64(e.GetTargetBitrate())
	}
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
	muted := p.conf.mutedPublishers()
	rttMs, lossDown, _ := p.linkStats()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	for _, s := range p.downs {
		// NACKs repeated within a round trip are answered once.
		s.down.SetRTT(time.Duration(rttMs * float64(time.Millisecond)))
	}
	budget := p.trial.budget(p.estimate(), lossDown, time.Now())
	var subs []*subscription
	var reqs []layer.Request
	for _, s := range p.downs {
		if s.up.Kind() == media.KindAudio {
			if muted[s.up.Publisher()] {
				s.down.SetTarget(-1)
			} else {
				s.down.SetTarget(0)
			}
			budget -= 40_000
			continue
		}
		maxH, ok := p.constraints[s.up.Publisher()]
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
		subs = append(subs, s)
		reqs = append(reqs, layer.Request{Layers: ls, MaxHeight: maxH, Cap: p.layerCap, Current: cur,
			Priority: s.up.Publisher() == dominant})
	}
	if len(reqs) == 0 {
		return
	}
	choices := make([]layer.Choice, len(reqs))
	layer.Allocate(budget, reqs, choices)
	p.trial.limited = false
	for i, s := range subs {
		s.down.SetTarget(choices[i].Target)
		s.reason = choices[i].Reason
		if choices[i].Reason == layer.ReasonBandwidth {
			p.trial.limited = true
		}
	}
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

// upgradeTrial lets a receiver whose layers are held back by the bandwidth
// estimate try the next layers for a moment. The estimator (pion's GCC) never
// grows past 1.5 times the rate that actually arrives, so without more traffic
// a receiver that dropped to a low layer would stay there after its link
// recovers. A trial doubles the budget for trialLength while downstream loss is
// low; if the path cannot carry it the estimate falls and the layers go back
// down, and the next trial waits twice as long.
type upgradeTrial struct {
	limited     bool // the last allocation was held back by bandwidth
	lastEst     int64
	stableSince time.Time
	until       time.Time
	last        time.Time
	every       time.Duration
}

const (
	trialLength   = 2 * time.Second
	trialFirst    = 4 * time.Second
	trialMaxEvery = 32 * time.Second
)

// budget returns the bandwidth to allocate, given the estimate and the
// receiver's downstream loss in percent.
func (t *upgradeTrial) budget(est int64, lossPct float64, now time.Time) int64 {
	if t.every == 0 {
		t.every, t.stableSince = trialFirst, now
	}
	switch {
	case est < t.lastEst*95/100:
		t.stableSince = now
		if now.Before(t.until.Add(trialLength)) {
			t.every = min(2*t.every, trialMaxEvery) // the trial failed: back off
			t.until = time.Time{}
		}
	case est > t.lastEst*110/100 && !t.last.IsZero():
		t.every = trialFirst // the path carries more: trials may come soon again
	}
	t.lastEst = est
	if now.Before(t.until) {
		return 2 * est
	}
	if t.limited && lossPct < 1 && now.Sub(t.stableSince) >= t.every && now.Sub(t.last) >= t.every {
		t.last, t.until = now, now.Add(trialLength)
		return 2 * est
	}
	return est
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
