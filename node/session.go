package node

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/cascade/peering"
	"github.com/switchyard/switchyard/node/signal"
)

const (
	sendQueue   = 256              // messages queued to one client before it counts as stalled
	writeWait   = 5 * time.Second  // a write that takes longer drops the client
	pongWait    = 30 * time.Second // the client must answer WebSocket pings within this
	maxStrikes  = 50               // bad or rate-limited messages before the node hangs up
	hardMsgSize = 4 * signal.MaxMessageSize
)

var upgrader = websocket.Upgrader{
	ReadBufferSize:  4096,
	WriteBufferSize: 4096,
	// Conference clients are served from any origin, as with other SFUs; the
	// node holds no ambient credentials a foreign page could abuse.
	CheckOrigin: func(*http.Request) bool { return true },
}

// errRedirected ends a session whose client was sent to another node.
var errRedirected = errors.New("redirected to another node")

// session is one client's signaling WebSocket.
type session struct {
	addr    netip.Addr // the client's IP address, for per-address limits
	conn    *websocket.Conn
	log     *slog.Logger
	out     chan []byte
	limiter *rate.Limiter

	// regionHint is the client's region as a geo-aware proxy named it;
	// redirected marks a client another node sent here, which is never
	// redirected again.
	regionHint string
	redirected bool

	mu        sync.Mutex
	closed    bool
	closeMsg  string
	done      chan struct{}
	closeOnce sync.Once
}

func (n *Node) serveWS(w http.ResponseWriter, r *http.Request) {
	addr := remoteAddr(r)
	releaseSlot, err := n.addrs.Acquire(addr)
	if err != nil {
		n.metrics.refused.WithLabelValues("connections").Inc()
		n.log.Debug("signaling connection refused", "remote", r.RemoteAddr, "err", err)
		http.Error(w, "too many connections from your address", http.StatusTooManyRequests)
		return
	}
	defer releaseSlot()
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		n.log.Debug("websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	s := &session{
		addr:    addr,
		conn:    conn,
		log:     n.log.With("remote", r.RemoteAddr),
		out:     make(chan []byte, sendQueue),
		limiter: rate.NewLimiter(rate.Limit(n.cfg.MessageRate), n.cfg.MessageBurst),
		done:    make(chan struct{}),
	}
	if h := n.cfg.Cascade.RegionHeader; h != "" {
		if v := r.Header.Get(h); v != "" {
			if validRegion(v) {
				s.regionHint = v
			} else {
				s.log.Info("region header ignored", "header", h, "value", v[:min(len(v), 40)])
			}
		}
	}
	s.redirected = r.URL.Query().Get("redirected") != ""
	conn.SetReadLimit(hardMsgSize)
	go s.writeLoop()
	n.readLoop(s)
}

// send queues a message; a client that does not keep up is dropped rather
// than allowed to block the node.
func (s *session) send(m signal.Message) {
	b, err := json.Marshal(m)
	if err != nil {
		s.log.Error("marshal signaling message", "type", m.Type, "err", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	select {
	case s.out <- b:
	default:
		s.log.Warn("client not reading signaling; disconnecting")
		s.closed = true
		s.closeMsg = "too slow reading signaling messages"
		close(s.out)
	}
}

func (s *session) sendError(code, reason string, fatal bool) {
	s.send(signal.Message{Type: signal.TypeError, Code: code, Reason: reason, Fatal: fatal})
	if fatal {
		s.closeWith(reason)
	}
}

// closeWith ends the session after the queued messages, with a close reason.
func (s *session) closeWith(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	s.closeMsg = reason
	close(s.out)
}

func (s *session) writeLoop() {
	defer s.closeOnce.Do(func() { close(s.done) })
	ping := time.NewTicker(pongWait / 3)
	defer ping.Stop()
	defer s.conn.Close()
	for {
		select {
		case b, ok := <-s.out:
			_ = s.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if !ok {
				s.mu.Lock()
				reason := s.closeMsg
				s.mu.Unlock()
				if len(reason) > 120 {
					reason = reason[:120]
				}
				_ = s.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, reason))
				return
			}
			if err := s.conn.WriteMessage(websocket.TextMessage, b); err != nil {
				return
			}
		case <-ping.C:
			_ = s.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := s.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		}
	}
}

// readLoop reads the client's messages until it leaves or misbehaves.
func (n *Node) readLoop(s *session) {
	var p *Participant
	defer func() {
		if p != nil {
			p.remove("signaling closed")
		} else {
			s.closeWith("bye")
		}
	}()
	// A connection that never joins is closed; so is a joined one that
	// never offers (the participant's offer timer).
	joinTimer := time.AfterFunc(n.cfg.JoinTimeout, func() {
		n.metrics.timeouts.WithLabelValues("join").Inc()
		s.log.Info("signaling connection closed: no join", "after", n.cfg.JoinTimeout)
		s.sendError(signal.CodeTimeout, fmt.Sprintf("no join within %s", n.cfg.JoinTimeout), true)
	})
	defer joinTimer.Stop()
	_ = s.conn.SetReadDeadline(time.Now().Add(pongWait))
	s.conn.SetPongHandler(func(string) error {
		return s.conn.SetReadDeadline(time.Now().Add(pongWait))
	})
	strikes := 0
	strike := func(code, reason string) bool {
		strikes++
		n.metrics.badMessages.Inc()
		s.log.Info("bad signaling message", "code", code, "reason", reason, "strikes", strikes)
		if strikes >= maxStrikes {
			s.sendError(code, "too many bad messages: "+reason, true)
			return false
		}
		s.sendError(code, reason, false)
		return true
	}
	for {
		kind, data, err := s.conn.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				s.log.Info("oversized signaling message; closing")
			}
			return
		}
		_ = s.conn.SetReadDeadline(time.Now().Add(pongWait))
		if !s.limiter.Allow() {
			if !strike(signal.CodeRateLimited, "too many messages; slow down") {
				return
			}
			continue
		}
		if kind != websocket.TextMessage {
			if !strike(signal.CodeBadMessage, "binary frames are not part of the protocol") {
				return
			}
			continue
		}
		m, err := signal.Decode(data)
		if err != nil {
			code := signal.CodeBadMessage
			if errors.Is(err, signal.ErrTooLarge) {
				code = signal.CodeTooLarge
			}
			if !strike(code, err.Error()) {
				return
			}
			continue
		}
		if m.Type == signal.TypeLeave {
			return
		}
		if p == nil {
			if m.Type != signal.TypeJoin {
				if !strike(signal.CodeNotJoined, "join a room first") {
					return
				}
				continue
			}
			joinTimer.Stop()
			p, err = n.join(s, m)
			if errors.Is(err, errRedirected) {
				return
			}
			if err != nil {
				var ej *errJoin
				if errors.As(err, &ej) {
					s.log.Info("join refused", "conference", m.Room, "code", ej.code, "reason", ej.reason)
					s.sendError(ej.code, ej.reason, true)
				} else {
					s.log.Error("join failed", "conference", m.Room, "err", err)
					s.sendError(signal.CodeInternal, "the node could not add you", true)
				}
				return
			}
			continue
		}
		if err := p.handle(m); err != nil {
			var ej *errJoin
			code, reason := signal.CodeInternal, err.Error()
			if errors.As(err, &ej) {
				code, reason = ej.code, ej.reason
			}
			if !strike(code, reason) {
				return
			}
		}
	}
}

func (n *Node) join(s *session, m signal.Message) (*Participant, error) {
	if s.regionHint != "" {
		m.Region = s.regionHint
	}
	if !n.addrs.AllowJoin(s.addr) {
		n.metrics.refused.WithLabelValues("join-rate").Inc()
		return nil, &errJoin{signal.CodeRateLimited, "too many joins from your address; try again in a few seconds"}
	}
	grants, identity, err := n.authorize(&m)
	if err != nil {
		return nil, err
	}
	if n.peers != nil && !s.redirected {
		region := cmp.Or(m.Region, n.cfg.Region)
		target, why := n.choose(region, m.Room, false)
		if target != "" {
			n.peers.Redirected()
			s.log.Info("redirecting participant", "conference", m.Room, "region", region, "to", target, "why", string(why))
			s.send(signal.Message{Type: signal.TypeRedirect, URL: peering.WebSocketURL(target) + "?redirected=1", Reason: string(why)})
			s.closeWith("redirected")
			return nil, errRedirected
		}
	}
	r, err := n.admit(m.Room)
	if err != nil {
		return nil, err
	}
	p, err := newParticipant(n, r, s, m)
	if err != nil {
		var counted bool
		n.release(r, &counted)
		return nil, err
	}
	p.mu.Lock()
	p.offerTimer = time.AfterFunc(n.cfg.OfferTimeout, func() {
		if !p.hasOffered() {
			n.metrics.timeouts.WithLabelValues("offer").Inc()
			reason := fmt.Sprintf("no offer within %s of joining", n.cfg.OfferTimeout)
			p.sess.sendError(signal.CodeTimeout, reason, true)
			p.remove(reason)
		}
	})
	p.mu.Unlock()
	s.log = p.log
	var fallback []string
	if n.peers != nil {
		fallback = n.peers.Fallback()
	}
	p.grants, p.identity = grants, identity
	joined := signal.Message{Type: signal.TypeJoined, ID: p.id, Room: r.name, Node: n.cfg.ID,
		Region: p.region, Fallback: fallback, Grants: &grants, IceServers: n.iceServers(p.id)}
	r.add(p, func(others []signal.Participant) {
		joined.Participants = others
		p.send(joined)
	})
	if r.toldRecording() {
		p.send(signal.Message{Type: signal.TypeServerRecording, On: true})
	}
	if n.peers != nil {
		n.peers.Changed()
	}
	p.log.Info("participant joined", "name", p.name, "region", p.region)
	return p, nil
}

// handle acts on one validated message from a joined participant.
func (p *Participant) handle(m signal.Message) error {
	switch m.Type {
	case signal.TypeJoin:
		return &errJoin{signal.CodeAlreadyJoined, "already joined; open another connection to join another room"}
	case signal.TypeOffer:
		return p.handleOffer(m.SDP, m.Sources)
	case signal.TypeAnswer:
		return p.handleAnswer(m.SDP)
	case signal.TypeCandidate:
		return p.handleCandidate(m.Candidate)
	case signal.TypeConstraints:
		p.setConstraints(m.Tiles)
		return nil
	case signal.TypeMessage:
		return p.conf.message(p, m.To, m.Payload)
	case signal.TypeKick, signal.TypeMute:
		return p.moderate(m)
	case signal.TypePublishState:
		return p.setPublishState(m)
	case signal.TypeShare:
		return p.setSharing(m.On)
	case signal.TypeRecording:
		return p.setRecording(m.On)
	case signal.TypeServerRecording:
		return p.serverRecording(m.On)
	}
	return &errJoin{signal.CodeBadMessage, "message type " + m.Type + " is not sent by clients"}
}

// remoteAddr is the IP address of the client that sent r.
func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// authorize checks a join's token where the node requires one and returns
// what the participant may do; the token's name wins over the one the
// client sent. Without auth everyone publishes and subscribes, and nobody
// moderates.
func (n *Node) authorize(m *signal.Message) (signal.Grants, string, error) {
	if !n.cfg.AuthRequired() {
		return signal.Grants{Publish: true, Subscribe: true}, "", nil
	}
	v := auth.Verifier{Secret: []byte(n.cfg.Auth.Secret), Skew: n.cfg.Auth.Skew}
	claims, err := v.Verify(m.Token, m.Room)
	if err != nil {
		code, reason := auth.CodeInvalid, err.Error()
		var ae *auth.Error
		if errors.As(err, &ae) {
			code, reason = ae.Code, ae.Reason
		}
		n.metrics.refused.WithLabelValues(code).Inc()
		n.netLog.Info("join refused: token", "code", code, "conference", m.Room)
		if m.Token == "" {
			code = signal.CodeUnauthorized
			reason = "this node needs a join token (?token=… in the room's URL)"
		}
		return signal.Grants{}, "", &errJoin{code, reason}
	}
	if claims.Name != "" {
		m.Name = claims.Name
	}
	if m.Name == "" {
		return signal.Grants{}, "", &errJoin{signal.CodeBadMessage, "name: required (the token names nobody)"}
	}
	g := claims.Grants
	return signal.Grants{Publish: g.Publish, Subscribe: g.Subscribe, Moderator: g.Moderator}, claims.Identity, nil
}

// moderate carries out a moderator's kick or mute of another participant
// of the same conference on this node.
func (p *Participant) moderate(m signal.Message) error {
	if !p.grants.Moderator {
		return &errJoin{signal.CodeForbidden, m.Type + " needs a moderator's token"}
	}
	target, ok := p.conf.get(m.ID)
	if !ok {
		return &errJoin{signal.CodeUnknownPeer, "no participant " + m.ID + " in this room"}
	}
	if _, local := target.(*Participant); !local {
		return &errJoin{signal.CodeForbidden, m.ID + " is on another node; a moderator there can act on them"}
	}
	n := p.node
	p.log.Info("moderator action", "action", m.Type, "target", m.ID, "muted", m.Muted, "identity", p.identity)
	if m.Type == signal.TypeKick {
		return n.Kick(p.conf.name, m.ID)
	}
	return n.MuteAudio(p.conf.name, m.ID, m.Muted)
}

// validRegion accepts what a proxy may put in the region header: a short
// word of letters, digits, '-', '_' and '.'.
func validRegion(v string) bool {
	if len(v) > signal.MaxRegionLen {
		return false
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
