package node

// Offer and answer with a participant: the client offers first, with what
// it publishes; every later offer comes from the node.

import (
	"errors"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/node/signal"
)

// handleOffer answers the client's first offer, which carries what it publishes.
func (p *Participant) handleOffer(sdpText string, sources map[string]string) error {
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
	p.noteSources(sources) // before any track can arrive
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdpText}); err != nil {
		p.rollbackLocked()
		p.negMu.Unlock()
		return &errJoin{signal.CodeBadSDP, "offer rejected: " + err.Error()}
	}
	p.defaultSources()
	if err := preferRED(p.pc); err != nil {
		// The answer keeps the offer's order: the client may send plain Opus.
		p.log.Warn("cannot prefer audio redundancy", "err", err)
	}
	if !p.grants.Publish {
		// A participant without the publish grant gets no sending m-line:
		// stopped transceivers are rejected in the answer.
		for _, t := range p.pc.GetTransceivers() {
			if t.Direction() == webrtc.RTPTransceiverDirectionRecvonly {
				if err := t.Stop(); err != nil {
					p.log.Debug("stop a refused publishing m-line", "err", err)
				}
			}
		}
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
	p.send(signal.Message{Type: signal.TypeOffer, SDP: p.pc.LocalDescription().SDP, Tracks: p.offerTracks()})
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
