package node

// WHIP ingest (RFC 9725) and, sharing its HTTP side, WHEP playback
// (whep.go): a client POSTs an SDP offer, the node answers once with all
// its ICE candidates (it is ICE-lite), and the session is an HTTP resource
// the client PATCHes with trickled candidates and DELETEs to leave. Each
// session is a Participant without a signaling WebSocket: it counts
// against the limits, shows in the API and leaves like any other. The node
// never renegotiates with such a client.

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/media"
	"github.com/switchyard/switchyard/node/signal"
)

// What an HTTP media endpoint is (snapshot.Participant.Kind).
const (
	kindWHIP = "whip"
	kindWHEP = "whep"
)

const (
	mimeSDP  = "application/sdp"
	mimeFrag = "application/trickle-ice-sdpfrag"
	// gatherWait bounds the wait for the node's own ICE candidates, which
	// on its one UDP port are there at once.
	gatherWait = 5 * time.Second
	// superviseEvery is how often a session checks its connection, the
	// node's drain and (WHEP) whom it follows.
	superviseEvery = 200 * time.Millisecond
)

// httpEndpoint is the WHIP or WHEP side of a participant; nil for a
// WebSocket client. It is set before the participant joins its conference
// and not changed after.
type httpEndpoint struct {
	kind string // kindWHIP or kindWHEP
	id   string // the secret last element of the session's URL
	etag string // quoted, as sent in the ETag header
	// ufrag and pwd are the client's ICE credentials from its offer: a
	// PATCH with others asks for an ICE restart.
	ufrag, pwd string
	// layers maps a WHIP publisher's simulcast RIDs to layer indexes when
	// they are not the names LayerIndex knows (OBS numbers its layers "0"
	// for the highest); nil otherwise.
	layers map[string]int
	follow *follower // WHEP only: feeds the client's m-lines
	// trickled counts the candidates PATCHed in (at most maxTrickled).
	trickled atomic.Int32
}

// maxTrickled bounds the candidates one session may trickle over its life.
const maxTrickled = 256

// location is the session's URL path.
func (e *httpEndpoint) location(room string) string {
	return "/" + e.kind + "/" + room + "/" + e.id
}

// layerOf is the layer index of a simulcast RID of a WHIP publisher.
func (e *httpEndpoint) layerOf(rid string) int {
	if i, ok := e.layers[rid]; ok {
		return i
	}
	if e.layers != nil && rid != "" {
		return -1 // a layer beyond the three forwarded
	}
	return media.LayerIndex(rid)
}

// endpointKind is what snapshot.Participant.Kind shows: "" for a
// WebSocket client.
func (p *Participant) endpointKind() string {
	if p.http == nil {
		return ""
	}
	return p.http.kind
}

// unsubscribed is called instead of unsubscribing an HTTP endpoint from
// tracks that went: a WHEP session has no m-line to give up, its follower
// moves to another track; a WHIP session receives nothing.
func (e *httpEndpoint) unsubscribed() {
	if e.follow != nil {
		e.follow.poke()
	}
}

// httpMediaRoutes serves WHIP and WHEP. Methods a path does not take get
// 405 (not the web client's pages).
func (n *Node) httpMediaRoutes(mux *http.ServeMux) {
	const endpointAllow, resourceAllow = "OPTIONS, POST", "OPTIONS, PATCH, DELETE"
	mux.HandleFunc("POST /whip/{room}", n.postWHIP)
	mux.HandleFunc("DELETE /whip/{room}/{id}", n.deleteSession(kindWHIP))
	mux.HandleFunc("PATCH /whip/{room}/{id}", n.patchSession(kindWHIP))
	mux.HandleFunc("OPTIONS /whip/{room}", options(endpointAllow))
	mux.HandleFunc("OPTIONS /whip/{room}/{id}", options(resourceAllow))
	mux.HandleFunc("/whip/{room}", notAllowed(endpointAllow))
	mux.HandleFunc("/whip/{room}/{id}", notAllowed(resourceAllow))

	// /whep/{room}/{id} is both the endpoint that follows participant id
	// (POST) and a session's resource (PATCH, DELETE).
	mux.HandleFunc("POST /whep/{room}", n.postWHEP)
	mux.HandleFunc("POST /whep/{room}/{id}", n.postWHEP)
	mux.HandleFunc("DELETE /whep/{room}/{id}", n.deleteSession(kindWHEP))
	mux.HandleFunc("PATCH /whep/{room}/{id}", n.patchSession(kindWHEP))
	mux.HandleFunc("OPTIONS /whep/{room}", options(endpointAllow))
	mux.HandleFunc("OPTIONS /whep/{room}/{id}", options(endpointAllow+", PATCH, DELETE"))
	mux.HandleFunc("/whep/{room}", notAllowed(endpointAllow))
	mux.HandleFunc("/whep/{room}/{id}", notAllowed(endpointAllow+", PATCH, DELETE"))
}

// cors lets pages of any origin use the endpoints, as the WebSocket
// signaling does: the node holds no ambient credentials (tokens are sent
// explicitly).
func cors(h http.Header) {
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "Location, ETag, Link, Accept-Post, Accept-Patch")
}

// options answers OPTIONS, CORS preflights included.
func options(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		cors(h)
		h.Set("Allow", allow)
		h.Set("Access-Control-Allow-Methods", allow)
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
		h.Set("Access-Control-Max-Age", "600")
		if strings.Contains(allow, "POST") {
			h.Set("Accept-Post", mimeSDP)
		}
		if strings.Contains(allow, "PATCH") {
			h.Set("Accept-Patch", mimeFrag)
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func notAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		httpError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed here; allowed: "+allow)
	}
}

// httpError answers with a status and a plain-text reason.
func httpError(w http.ResponseWriter, status int, reason string) {
	h := w.Header()
	cors(h)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, reason+"\n")
}

// refuse answers a refusal with the HTTP status of its code.
func refuse(w http.ResponseWriter, err error) {
	var ej *errJoin
	if !errors.As(err, &ej) {
		httpError(w, http.StatusInternalServerError, "the node could not start the session")
		return
	}
	status := statusOf(ej.code)
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="switchyard"`)
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "5")
	}
	httpError(w, status, ej.code+": "+ej.reason)
}

// statusOf maps a refusal code to an HTTP status.
func statusOf(code string) int {
	switch code {
	case signal.CodeUnauthorized, auth.CodeMissing, auth.CodeInvalid, auth.CodeExpired,
		auth.CodeNotYetValid, auth.CodeTooLarge:
		return http.StatusUnauthorized
	case auth.CodeWrongRoom, auth.CodeNoGrants, signal.CodeForbidden:
		return http.StatusForbidden
	case signal.CodeNodeFull, signal.CodeRoomFull, signal.CodeDraining:
		return http.StatusServiceUnavailable
	case signal.CodeRateLimited:
		return http.StatusTooManyRequests
	case signal.CodeBadMessage, signal.CodeBadSDP, signal.CodeTooLarge, signal.CodeProtocol:
		return http.StatusBadRequest
	case signal.CodeUnknownPeer:
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

// readBody reads a request body of the given media type, at most limit
// bytes; on failure it has answered and returns false.
func (n *Node) readBody(w http.ResponseWriter, r *http.Request, want string, limit int64) (string, bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != want {
		httpError(w, http.StatusUnsupportedMediaType, "Content-Type must be "+want)
		return "", false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			n.metrics.badMessages.Inc()
			httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", limit))
		} else {
			httpError(w, http.StatusBadRequest, "cannot read the body")
		}
		return "", false
	}
	return string(body), true
}

// readOffer reads and checks a POSTed SDP offer.
func (n *Node) readOffer(w http.ResponseWriter, r *http.Request) (string, bool) {
	offer, ok := n.readBody(w, r, mimeSDP, signal.MaxSDPLen)
	if !ok {
		return "", false
	}
	if err := signal.CheckSDP(offer); err != nil {
		n.metrics.badMessages.Inc()
		httpError(w, http.StatusBadRequest, "bad-sdp: "+err.Error())
		return "", false
	}
	return offer, true
}

// bearer is the request's bearer token, "" without one.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// authorizeHTTP applies to a POST what a WebSocket join goes through: the
// address's join rate, the room name's rules, and the token where the node
// requires one (the token's name, else name). need says which grant the
// session requires.
func (n *Node) authorizeHTTP(r *http.Request, room, name string, need func(signal.Grants) bool, what string) (signal.Message, signal.Grants, string, error) {
	if !n.addrs.AllowJoin(remoteAddr(r)) {
		n.metrics.refused.WithLabelValues("join-rate").Inc()
		return signal.Message{}, signal.Grants{}, "", &errJoin{signal.CodeRateLimited, "too many sessions from your address; try again in a few seconds"}
	}
	m := signal.Message{Type: signal.TypeJoin, Room: room, Name: name, Token: bearer(r)}
	// The signaling rules for a join (room name, token size) hold here too.
	b, err := json.Marshal(m)
	if err == nil {
		_, err = signal.Decode(b)
	}
	if err != nil {
		n.metrics.badMessages.Inc()
		return m, signal.Grants{}, "", &errJoin{signal.CodeBadMessage, err.Error()}
	}
	grants, identity, err := n.authorize(&m)
	if err != nil {
		if ej := (*errJoin)(nil); errors.As(err, &ej) && ej.code == signal.CodeUnauthorized {
			ej.reason = "this node needs a join token: Authorization: Bearer <token>"
		}
		return m, grants, "", err
	}
	if !need(grants) {
		n.metrics.refused.WithLabelValues("grant").Inc()
		return m, grants, "", &errJoin{signal.CodeForbidden, "your token does not let you " + what + " in this room"}
	}
	return m, grants, identity, nil
}

// newEndpoint makes the participant behind an HTTP session and counts it
// as present in the room: admitted, promoted past the limits, a member.
func (n *Node) newEndpoint(e *httpEndpoint, m signal.Message, grants signal.Grants, identity string, addr netip.Addr) (*Participant, error) {
	r, err := n.admit(m.Room)
	if err != nil {
		return nil, err
	}
	// A closed session: what the node would tell a WebSocket client goes
	// nowhere.
	s := &session{addr: addr, log: n.log, closed: true, done: make(chan struct{})}
	p, err := newParticipant(n, r, s, m)
	if err != nil {
		var counted bool
		n.release(r, &counted)
		return nil, err
	}
	e.id, e.etag = randomID(16), `"`+hex.EncodeToString(randomBytes(8))+`"`
	p.http = e
	p.grants, p.identity = grants, identity
	p.log = p.log.With("kind", e.kind)
	if err := n.promote(r, &p.counted); err != nil {
		p.remove(err.Error())
		return nil, err
	}
	r.add(p, nil)
	if n.peers != nil {
		n.peers.Changed()
	}
	p.log.Info("participant joined", "name", p.name, "region", p.region)
	return p, nil
}

// randomID is n random bytes in unpadded base64url.
func randomID(n int) string { return base64.RawURLEncoding.EncodeToString(randomBytes(n)) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand never fails
	return b
}

// postWHIP starts a WHIP session: the offer's tracks are published in the
// room like a browser's.
func (n *Node) postWHIP(w http.ResponseWriter, r *http.Request) {
	offer, ok := n.readOffer(w, r)
	if !ok {
		return
	}
	info, err := inspectOffer(offer)
	if err == nil && !info.sends {
		err = errors.New("the offer sends nothing (a WHIP offer has sendonly m-lines)")
	}
	if err != nil {
		n.metrics.badMessages.Inc()
		httpError(w, http.StatusBadRequest, "bad-sdp: "+err.Error())
		return
	}
	m, grants, identity, err := n.authorizeHTTP(r, r.PathValue("room"), kindWHIP, func(g signal.Grants) bool { return g.Publish }, "publish")
	if err != nil {
		refuse(w, err)
		return
	}
	// It publishes only: the node never renegotiates with it to send it anything.
	grants.Subscribe = false
	e := &httpEndpoint{kind: kindWHIP, ufrag: info.ufrag, pwd: info.pwd, layers: info.ridLayers}
	p, err := n.newEndpoint(e, m, grants, identity, remoteAddr(r))
	if err != nil {
		refuse(w, err)
		return
	}
	if err := p.handleOffer(offer, nil); err != nil {
		p.remove("offer refused")
		n.metrics.badMessages.Inc()
		refuse(w, err)
		return
	}
	n.answerEndpoint(w, p, m.Room)
}

// answerEndpoint sends the 201 with the node's answer, once its ICE
// candidates are in, and watches the session from then on.
func (n *Node) answerEndpoint(w http.ResponseWriter, p *Participant, room string) {
	p.mu.Lock()
	pc := p.pc
	p.mu.Unlock()
	select {
	case <-webrtc.GatheringCompletePromise(pc):
	case <-time.After(gatherWait):
		p.log.Warn("answering before ICE gathering completed")
	}
	answer := pc.LocalDescription()
	if answer == nil {
		p.remove("no answer")
		httpError(w, http.StatusInternalServerError, "the node could not answer the offer")
		return
	}
	go n.supervise(p)
	h := w.Header()
	cors(h)
	h.Set("Content-Type", mimeSDP)
	h.Set("Location", p.http.location(room))
	h.Set("ETag", p.http.etag)
	h.Set("Accept-Patch", mimeFrag)
	h.Set("Cache-Control", "no-store")
	for _, l := range n.iceLinks(p.id) {
		h.Add("Link", l)
	}
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer.SDP)
}

// iceLinks are the node's TURN servers as Link headers (RFC 9725 §4.6),
// with credentials of the session's own; none without TURN.
func (n *Node) iceLinks(user string) []string {
	var out []string
	quoted := func(s string) string { return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"` }
	for _, s := range n.iceServers(user) {
		for _, u := range s.URLs {
			out = append(out, fmt.Sprintf(`<%s>; rel="ice-server"; username=%s; credential=%s; credential-type="password"`,
				u, quoted(s.Username), quoted(s.Credential)))
		}
	}
	return out
}

// httpSession finds an HTTP session of kind by its room and secret id.
func (n *Node) httpSession(kind, room, id string) *Participant {
	c, ok := n.conference(room)
	if !ok || id == "" {
		return nil
	}
	for _, p := range c.locals() {
		if e := p.http; e != nil && e.kind == kind && subtle.ConstantTimeCompare([]byte(e.id), []byte(id)) == 1 {
			return p
		}
	}
	return nil
}

// deleteSession ends a session: the participant leaves.
func (n *Node) deleteSession(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := n.httpSession(kind, r.PathValue("room"), r.PathValue("id"))
		if p == nil {
			httpError(w, http.StatusNotFound, "no such "+strings.ToUpper(kind)+" session")
			return
		}
		p.remove("ended by the client")
		cors(w.Header())
		w.WriteHeader(http.StatusNoContent)
	}
}

// patchSession adds the candidates a client trickles (RFC 8840 fragments).
// ICE restarts are not supported: 422, as RFC 9725 §4.3.1 says for a
// session that takes trickle ICE only.
func (n *Node) patchSession(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := n.httpSession(kind, r.PathValue("room"), r.PathValue("id"))
		if p == nil {
			httpError(w, http.StatusNotFound, "no such "+strings.ToUpper(kind)+" session")
			return
		}
		body, ok := n.readBody(w, r, mimeFrag, maxFragSize)
		if !ok {
			return
		}
		im := r.Header.Get("If-Match")
		if im != "" && im != "*" && !etagMatches(im, p.http.etag) {
			httpError(w, http.StatusPreconditionFailed, "If-Match does not match the session's ETag")
			return
		}
		frag, err := parseICEFragment(body)
		if err != nil {
			n.metrics.badMessages.Inc()
			httpError(w, http.StatusBadRequest, "bad trickle-ice-sdpfrag: "+err.Error())
			return
		}
		if im == "*" || frag.ufrag != "" && frag.ufrag != p.http.ufrag || frag.pwd != "" && frag.pwd != p.http.pwd {
			httpError(w, http.StatusUnprocessableEntity, "ICE restarts are not supported; start a new session")
			return
		}
		if p.http.trickled.Add(int32(len(frag.candidates))) > maxTrickled {
			n.metrics.badMessages.Inc()
			httpError(w, http.StatusBadRequest, fmt.Sprintf("more than %d candidates in this session", maxTrickled))
			return
		}
		p.mu.Lock()
		pc := p.pc
		p.mu.Unlock()
		for _, c := range frag.candidates {
			init := webrtc.ICECandidateInit{Candidate: c.value, UsernameFragment: &p.http.ufrag}
			if c.mid != "" {
				init.SDPMid = &c.mid
			}
			idx := uint16(c.mline)
			init.SDPMLineIndex = &idx
			if err := pc.AddICECandidate(init); err != nil {
				// Candidates the node cannot use (another network, mDNS) are
				// not the client's error.
				p.log.Debug("trickled candidate ignored", "err", err)
			}
		}
		cors(w.Header())
		w.WriteHeader(http.StatusNoContent)
	}
}

// etagMatches reports whether an If-Match list names etag.
func etagMatches(ifMatch, etag string) bool {
	for _, t := range strings.Split(ifMatch, ",") {
		if strings.TrimPrefix(strings.TrimSpace(t), "W/") == etag {
			return true
		}
	}
	return false
}

// supervise watches a session until it ends: one whose media does not
// connect within limits.offer_timeout is removed, every session leaves
// when the node drains (its client cannot follow a redirect), and a WHEP
// session's follower runs here.
func (n *Node) supervise(p *Participant) {
	f := p.http.follow
	var wake <-chan struct{}
	if f != nil {
		wake = f.wake
		defer f.stop()
	}
	deadline := time.Now().Add(n.cfg.OfferTimeout)
	t := time.NewTicker(superviseEvery)
	defer t.Stop()
	for {
		p.mu.Lock()
		closed, pc := p.closed, p.pc
		p.mu.Unlock()
		if closed {
			return
		}
		if n.isDraining() {
			p.remove("node draining")
			return
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			switch pc.ConnectionState() {
			case webrtc.PeerConnectionStateNew, webrtc.PeerConnectionStateConnecting:
				n.metrics.timeouts.WithLabelValues("connect").Inc()
				p.remove(fmt.Sprintf("media connection not established within %s", n.cfg.OfferTimeout))
				return
			}
			deadline = time.Time{}
		}
		if f != nil {
			f.step()
		}
		select {
		case <-t.C:
		case <-wake:
		case <-n.done:
			return
		}
	}
}
