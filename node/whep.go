package node

// WHEP playback: a viewer POSTs a receive-only offer and gets, on its own
// audio and video m-lines, the dominant speaker's media (POST
// /whep/{room}), or one participant's (POST /whep/{room}/{id}). The node
// cannot renegotiate with it, so when the speaker changes the same two
// tracks follow (follow.go).

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/media"
	"github.com/switchyard/switchyard/node/signal"
)

// postWHEP starts a WHEP session.
func (n *Node) postWHEP(w http.ResponseWriter, r *http.Request) {
	offer, ok := n.readOffer(w, r)
	if !ok {
		return
	}
	info, err := inspectOffer(offer)
	if err == nil && len(info.receives) == 0 {
		err = errors.New("the offer receives neither audio nor video (a WHEP offer has recvonly m-lines)")
	}
	if err != nil {
		n.metrics.badMessages.Inc()
		httpError(w, http.StatusBadRequest, "bad-sdp: "+err.Error())
		return
	}
	room, target := r.PathValue("room"), r.PathValue("id")
	m, _, identity, err := n.authorizeHTTP(r, room, kindWHEP, func(g signal.Grants) bool { return g.Subscribe }, "subscribe")
	if err != nil {
		refuse(w, err)
		return
	}
	if target != "" {
		c, ok := n.conference(room)
		if ok {
			_, ok = c.get(target)
		}
		if !ok {
			httpError(w, http.StatusNotFound, fmt.Sprintf("no participant %.96q in room %s", target, room))
			return
		}
	}
	e := &httpEndpoint{kind: kindWHEP, ufrag: info.ufrag, pwd: info.pwd,
		follow: &follower{target: target, wake: make(chan struct{}, 1)}}
	// No grants: the participant is sent nothing the usual way (that needs
	// m-lines of its own); its follower feeds the client's m-lines.
	p, err := n.newEndpoint(e, m, signal.Grants{}, identity, remoteAddr(r))
	if err != nil {
		refuse(w, err)
		return
	}
	e.follow.p = p
	if err := p.answerWHEP(offer, info); err != nil {
		p.remove("offer refused")
		n.metrics.badMessages.Inc()
		refuse(w, err)
		return
	}
	n.answerEndpoint(w, p, room)
}

// answerWHEP applies a viewer's offer: a follow track of each kind it
// receives goes on its m-line of that kind, then the answer is set.
func (p *Participant) answerWHEP(offer string, info offerInfo) error {
	f := p.http.follow
	p.negMu.Lock()
	defer p.negMu.Unlock()
	var lanes []*lane
	for _, kind := range []media.Kind{media.KindAudio, media.KindVideo} {
		if !info.receives[kind] {
			continue
		}
		src := media.SourceOf(kind)
		down := media.NewFollowTrack(kind, src.String(), p.id)
		down.SetRetransmitBudget(p.rtx)
		// Added before the offer is applied, pion pairs it with the
		// client's first m-line of its kind.
		t, err := p.pc.AddTransceiverFromTrack(down, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return fmt.Errorf("whep: add %s track: %w", kind, err)
		}
		lanes = append(lanes, &lane{kind: kind, src: src, down: down, t: t, refused: map[*media.UpTrack]bool{}})
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return &errJoin{signal.CodeBadSDP, "offer rejected: " + err.Error()}
	}
	paired := lanes[:0]
	for _, l := range lanes {
		if l.t.Mid() != "" {
			paired = append(paired, l)
		}
	}
	if len(paired) == 0 {
		return &errJoin{signal.CodeBadSDP, "no m-line of the offer can receive audio or video"}
	}
	answer, err := p.pc.CreateAnswer(nil)
	if err == nil {
		err = p.pc.SetLocalDescription(answer)
	}
	if err != nil {
		return &errJoin{signal.CodeBadSDP, "cannot answer the offer: " + err.Error()}
	}
	p.offered = true
	for _, l := range paired {
		p.node.metrics.countDown(l.down)
		go p.readSenderRTCP(l.t.Sender(), l.down)
	}
	f.lanes = paired // before supervise starts the follower
	return nil
}

// readSenderRTCP hands the viewer's feedback on a track to it.
func (p *Participant) readSenderRTCP(s *webrtc.RTPSender, down *media.DownTrack) {
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		down.HandleRTCP(pkts)
		p.noteREMB(pkts)
	}
}
