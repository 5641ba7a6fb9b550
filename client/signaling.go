package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/node/signal"
)

// awaitJoined reads until the node accepts or refuses the join.
func (c *Client) awaitJoined(ctx context.Context) (signal.Message, error) {
	for {
		m, err := c.read()
		if err != nil {
			if ctx.Err() != nil {
				return m, fmt.Errorf("client: waiting for joined: %w", ctx.Err())
			}
			return m, fmt.Errorf("client: waiting for joined: %w", err)
		}
		switch m.Type {
		case signal.TypeJoined:
			return m, nil
		case signal.TypeError:
			return m, fmt.Errorf("client: join refused: %s: %s", m.Code, m.Reason)
		case signal.TypeRedirect:
			return m, &redirectError{url: m.URL, reason: m.Reason}
		default:
			c.log.Debug("message before joined ignored", "type", m.Type)
		}
	}
}

func (c *Client) read() (signal.Message, error) {
	var m signal.Message
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		return m, fmt.Errorf("read signaling: %w", err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("decode signaling %q: %w", truncate(string(data), 80), err)
	}
	return m, nil
}

func (c *Client) send(m signal.Message) error {
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("client: encode %s: %w", m.Type, err)
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.ws == nil {
		return errors.New("client: not connected")
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := c.ws.WriteMessage(websocket.TextMessage, data); err != nil {
		return fmt.Errorf("client: send %s: %w", m.Type, err)
	}
	return nil
}

func (c *Client) readLoop() {
	for {
		m, err := c.read()
		if err != nil {
			c.shutdown(false, fmt.Errorf("client: signaling closed: %w", err))
			return
		}
		if err := c.handle(m); err != nil {
			c.log.Warn("signaling message failed", "type", m.Type, "err", err)
		}
	}
}

func (c *Client) handle(m signal.Message) error {
	switch m.Type {
	case signal.TypeAnswer:
		if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
			return fmt.Errorf("set remote answer: %w", err)
		}
		c.mu.Lock()
		c.remoteSDP = m.SDP
		c.mu.Unlock()
		c.remoteSet()
		select {
		case <-c.answered:
		default:
			close(c.answered)
		}
	case signal.TypeOffer:
		return c.answer(m.SDP)
	case signal.TypeCandidate:
		return c.onRemoteCandidate(m.Candidate)
	case signal.TypeParticipantJoined:
		if m.Participant != nil {
			c.mu.Lock()
			c.participants[m.Participant.ID] = *m.Participant
			c.mu.Unlock()
			c.sendConstraints()
		}
	case signal.TypeServerRecording:
		c.mu.Lock()
		c.recorded = m.On
		c.mu.Unlock()
	case signal.TypeNodeStopping:
		c.mu.Lock()
		c.stopping = m.Reason
		c.mu.Unlock()
	case signal.TypeParticipantUpdated:
		if m.Participant != nil {
			c.mu.Lock()
			if _, ok := c.participants[m.Participant.ID]; ok || m.Participant.ID == c.id {
				c.participants[m.Participant.ID] = *m.Participant
			}
			c.mu.Unlock()
		}
	case signal.TypeParticipantLeft:
		c.mu.Lock()
		delete(c.participants, m.ID)
		delete(c.constraints, m.ID)
		c.mu.Unlock()
	case signal.TypeDominantSpeaker:
		c.mu.Lock()
		c.dominant = m.ID
		c.dominantLog = append(c.dominantLog, m.ID)
		who := m.ID
		if who == c.id {
			who = "" // nobody watches themselves
		}
		if !c.closed {
			c.stage.Change(who, time.Now().UnixNano())
		}
		c.mu.Unlock()
	case signal.TypeMessage:
		c.onEndpointMessage(m)
	case signal.TypeError:
		c.mu.Lock()
		c.lastErr = &m
		c.mu.Unlock()
		c.log.Warn("node reported an error", "code", m.Code, "reason", m.Reason, "fatal", m.Fatal)
		if m.Fatal {
			c.shutdown(false, fmt.Errorf("client: node closed the session: %s: %s", m.Code, m.Reason))
		}
	case signal.TypeRedirect:
		c.log.Info("node asks to move", "url", m.URL, "reason", m.Reason)
		c.mu.Lock()
		c.movedTo = m.URL
		c.mu.Unlock()
	default:
		c.log.Debug("unknown message type", "type", m.Type)
	}
	return nil
}

// answer accepts a renegotiation offer from the node.
func (c *Client) answer(offerSDP string) error {
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offerSDP}); err != nil {
		return fmt.Errorf("set remote offer: %w", err)
	}
	c.remoteSet()
	c.log.Debug("node offer", "sdp", offerSDP)
	ans, err := c.pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("create answer: %w", err)
	}
	if err := c.pc.SetLocalDescription(ans); err != nil {
		return fmt.Errorf("set local answer: %w", err)
	}
	c.mu.Lock()
	c.offers++
	c.remoteSDP = offerSDP
	c.mu.Unlock()
	return c.send(signal.Message{Type: signal.TypeAnswer, SDP: ans.SDP})
}

// remoteSet adds the candidates that came before the first remote description.
func (c *Client) remoteSet() {
	c.mu.Lock()
	pending := c.pending
	c.pending = nil
	c.haveRemote = true
	c.mu.Unlock()
	for _, cand := range pending {
		if err := c.pc.AddICECandidate(cand); err != nil {
			c.log.Debug("add queued candidate", "err", err)
		}
	}
}

func (c *Client) onRemoteCandidate(sc *signal.Candidate) error {
	if sc == nil || sc.Candidate == "" {
		return nil // end of candidates
	}
	if !loopbackCandidate(sc.Candidate) {
		c.log.Debug("ignoring a non-loopback candidate", "candidate", sc.Candidate)
		return nil
	}
	init := webrtc.ICECandidateInit{
		Candidate:        sc.Candidate,
		SDPMid:           sc.SDPMid,
		SDPMLineIndex:    sc.SDPMLineIndex,
		UsernameFragment: sc.UsernameFragment,
	}
	c.mu.Lock()
	if !c.haveRemote {
		c.pending = append(c.pending, init)
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	if err := c.pc.AddICECandidate(init); err != nil {
		return fmt.Errorf("add candidate: %w", err)
	}
	return nil
}

// loopbackCandidate keeps test traffic on loopback whatever the node announces.
func loopbackCandidate(s string) bool {
	cand, err := ice.UnmarshalCandidate(strings.TrimPrefix(s, "a="))
	if err != nil {
		return false
	}
	addr, err := netip.ParseAddr(cand.Address())
	return err == nil && addr.IsLoopback()
}

func (c *Client) onLocalCandidate(cand *webrtc.ICECandidate) {
	msg := signal.Message{Type: signal.TypeCandidate}
	if cand != nil {
		init := cand.ToJSON()
		msg.Candidate = &signal.Candidate{
			Candidate:        init.Candidate,
			SDPMid:           init.SDPMid,
			SDPMLineIndex:    init.SDPMLineIndex,
			UsernameFragment: init.UsernameFragment,
		}
	}
	c.mu.Lock()
	if !c.offerSent {
		// The node must see the offer before candidates for it.
		c.localCands = append(c.localCands, msg)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	if err := c.send(msg); err != nil {
		c.log.Debug("send candidate", "err", err)
	}
}

func (c *Client) onConnectionState(s webrtc.PeerConnectionState) {
	c.log.Debug("peer connection", "state", s.String())
	switch s {
	case webrtc.PeerConnectionStateConnected:
		c.mu.Lock()
		start := !c.started
		c.started = true
		c.mu.Unlock()
		if start {
			c.pub.start(c.runCtx)
		}
	case webrtc.PeerConnectionStateFailed:
		c.shutdown(true, errors.New("client: peer connection failed"))
	case webrtc.PeerConnectionStateClosed:
		// Nothing flows on a closed PeerConnection, whoever closed it, so the
		// participant is over as after a failure. When shutdown closed it,
		// this is a no-op and Err keeps the first cause.
		c.shutdown(true, errors.New("client: peer connection closed"))
	}
}
