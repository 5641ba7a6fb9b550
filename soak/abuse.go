package soak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchyard/switchyard/node/signal"
)

// Abuse kinds.
const (
	AbuseGarbageJSON = "signaling: garbage JSON"
	AbuseUnknownType = "signaling: unknown types"
	AbuseWrongTypes  = "signaling: wrong field types"
	AbuseOutOfOrder  = "signaling: out of protocol"
	AbuseBinary      = "signaling: binary frames"
	AbuseOversized   = "signaling: oversized (100 KiB)"
	AbuseHuge        = "signaling: huge (300 KiB)"
	AbuseFlood       = "signaling: message flood"
	AbuseBadJoin     = "signaling: invalid joins"
	AbuseJoined      = "signaling: bad input after joining"
	AbuseJoinFlood   = "signaling: join flood (no offer)"
	AbuseIdle        = "signaling: connections that never join"
	AbuseMediaRandom = "media UDP: random datagrams"
	AbuseMediaDTLS   = "media UDP: DTLS-looking junk"
	AbuseMediaSTUN   = "media UDP: STUN-looking junk"
	AbuseMediaRTP    = "media UDP: RTP/RTCP-looking junk"
	AbuseMediaTCP    = "media TCP: garbage connections"
	AbuseRelayRandom = "relay UDP: random datagrams"
	AbuseRelayHeader = "relay UDP: relay headers, junk bodies"
	AbuseRelayForged = "relay UDP: sealed with a wrong secret"
)

// abuseAnswerWithin is how long the node has to answer a bad message.
const abuseAnswerWithin = 5 * time.Second

// abuseOrder is the order of the report's abuse table.
var abuseOrder = []string{AbuseGarbageJSON, AbuseUnknownType, AbuseWrongTypes, AbuseOutOfOrder, AbuseBinary,
	AbuseOversized, AbuseHuge, AbuseFlood, AbuseBadJoin, AbuseJoined, AbuseJoinFlood, AbuseIdle,
	AbuseMediaRandom, AbuseMediaDTLS, AbuseMediaSTUN, AbuseMediaRTP, AbuseMediaTCP,
	AbuseRelayRandom, AbuseRelayHeader, AbuseRelayForged}

// abuseBook counts the abuse sent and how the nodes answered it. It is
// safe for concurrent use.
type abuseBook struct {
	mu    sync.Mutex
	stats map[string]*AbuseStats
}

func newAbuseBook() *abuseBook {
	b := &abuseBook{stats: map[string]*AbuseStats{}}
	for _, k := range abuseOrder {
		b.stats[k] = &AbuseStats{Kind: k}
	}
	return b
}

func (b *abuseBook) with(kind string, f func(*AbuseStats)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.stats[kind]
	if s == nil {
		s = &AbuseStats{Kind: kind}
		b.stats[kind] = s
	}
	f(s)
}

func (b *abuseBook) sent(kind string, n int) { b.with(kind, func(s *AbuseStats) { s.Sent += n }) }

// judged records one case: answered as documented, or not (why).
func (b *abuseBook) judged(kind string, ok bool, why string) {
	b.with(kind, func(s *AbuseStats) {
		s.Cases++
		if ok {
			s.AsExpected++
			return
		}
		s.Unexpected++
		s.Examples = appendExample(s.Examples, why)
	})
}

func (b *abuseBook) list() []AbuseStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]AbuseStats, 0, len(b.stats))
	for _, k := range abuseOrder {
		s := *b.stats[k]
		s.Examples = slices.Clone(s.Examples)
		out = append(out, s)
	}
	return out
}

// frame is one WebSocket message of an abuse case.
type frame struct {
	binary bool
	data   []byte
}

func text(s string) frame { return frame{data: []byte(s)} }

// abuseCase is one connection's worth of bad signaling and the answer the
// protocol documents for it.
type abuseCase struct {
	kind   string
	join   bool // join properly first, then misbehave
	frames []frame
	// codes are the error codes the node must send, one per frame, in
	// order; with anyErrors, at least one error of any code will do.
	codes     []string
	anyErrors bool
	// closed says the node must close the connection.
	closed bool
}

// abuseCases are the signaling abuse of one round; junk comes from the
// run's random source.
func abuseCases(junk func(n int) []byte) []abuseCase {
	bad, notJoined := signal.CodeBadMessage, signal.CodeNotJoined
	huge := `{"type":"message","payload":"` + strings.Repeat("x", 300<<10) + `"}`
	big := `{"type":"message","payload":"` + strings.Repeat("y", 100<<10) + `"}`
	flood := make([]frame, 120)
	for i := range flood {
		flood[i] = text(`{"type":"nope"}`)
	}
	return []abuseCase{
		{kind: AbuseGarbageJSON, frames: []frame{text(`{not json`), text(`]]]`), text(`null`), text(`"x"`),
			text(`{"type":}`), text(`{"type":"leave"} {"type":"leave"}`), {data: junk(200)}},
			codes: []string{bad, bad, bad, bad, bad, bad, bad}},
		{kind: AbuseUnknownType, frames: []frame{text(`{"type":"launch-missiles"}`), text(`{"type":"joined","id":"p1"}`),
			text(`{"type":""}`)}, codes: []string{bad, bad, bad}},
		{kind: AbuseWrongTypes, frames: []frame{text(`{"type":"join","room":7,"name":"x"}`),
			text(`{"type":"join","room":"r","name":["x"]}`), text(`{"type":"constraints","tiles":"all"}`),
			text(`{"type":"join","room":"r","name":"x","admin":true}`), text(`{"type":["join"]}`)},
			codes: []string{bad, bad, bad, bad, bad}},
		{kind: AbuseOutOfOrder, frames: []frame{text(`{"type":"offer","sdp":"v=0"}`), text(`{"type":"answer","sdp":"v=0"}`),
			text(`{"type":"candidate"}`), text(`{"type":"constraints","tiles":{}}`)},
			codes: []string{notJoined, notJoined, notJoined, notJoined}},
		{kind: AbuseBinary, frames: []frame{{binary: true, data: junk(64)}, {binary: true, data: []byte(`{"type":"leave"}`)}},
			codes: []string{bad, bad}},
		{kind: AbuseOversized, frames: []frame{text(big)}, codes: []string{signal.CodeTooLarge}},
		{kind: AbuseHuge, frames: []frame{text(huge)}, closed: true},
		{kind: AbuseFlood, frames: flood, anyErrors: true, closed: true},
		{kind: AbuseBadJoin, frames: []frame{text(`{"type":"join","room":"../../etc","name":"x"}`),
			text(`{"type":"join","room":"r","name":"` + strings.Repeat("n", 65) + `"}`),
			text(`{"type":"join","room":"r","name":"bell\u0007"}`), text(`{"type":"join","room":"","name":"x"}`)},
			codes: []string{bad, bad, bad, bad}},
		{kind: AbuseJoined, join: true, frames: []frame{text(`{"type":"offer","sdp":"this is not SDP"}`),
			text(`{"type":"answer","sdp":"v=0"}`), text(`{"type":"join","room":"again","name":"x"}`),
			text(`{"type":"kick","id":"p1"}`), text(`{"type":"message","payload":{"kind":"chat"},"to":"nobody"}`)},
			codes: []string{signal.CodeBadSDP, signal.CodeProtocol, signal.CodeAlreadyJoined, signal.CodeForbidden,
				signal.CodeUnknownPeer}},
	}
}

// abuseConn is a raw signaling connection that reads what the node says.
type abuseConn struct {
	ws     *websocket.Conn
	msgs   chan signal.Message
	gone   chan struct{}
	mu     sync.Mutex
	closeT string // the node's close text
}

func dialAbuse(ctx context.Context, url string) (*abuseConn, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.DialContext(ctx, url, nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("soak: dial %s: %w", url, err)
	}
	c := &abuseConn{ws: ws, msgs: make(chan signal.Message, 512), gone: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

func (c *abuseConn) readLoop() {
	defer close(c.gone)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				c.mu.Lock()
				c.closeT = ce.Text
				c.mu.Unlock()
			}
			return
		}
		var m signal.Message
		if json.Unmarshal(data, &m) != nil {
			m = signal.Message{Type: "(invalid JSON from the node)"}
		}
		select {
		case c.msgs <- m:
		default:
		}
	}
}

func (c *abuseConn) closeText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeT
}

func (c *abuseConn) write(f frame) error {
	kind := websocket.TextMessage
	if f.binary {
		kind = websocket.BinaryMessage
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteMessage(kind, f.data)
}

// next waits for the next message of type typ (any type if "").
func (c *abuseConn) next(typ string, within time.Duration) (signal.Message, bool) {
	t := time.NewTimer(within)
	defer t.Stop()
	for {
		select {
		case m := <-c.msgs:
			if typ == "" || m.Type == typ {
				return m, true
			}
		case <-c.gone:
			// Drain what arrived before the close.
			select {
			case m := <-c.msgs:
				if typ == "" || m.Type == typ {
					return m, true
				}
				continue
			default:
			}
			return signal.Message{}, false
		case <-t.C:
			return signal.Message{}, false
		}
	}
}

// closedWithin says whether the node closed the connection in time.
func (c *abuseConn) closedWithin(d time.Duration) bool {
	select {
	case <-c.gone:
		return true
	case <-time.After(d):
		return false
	}
}

// runAbuseCase sends one case to the node and judges the answer.
func (r *run) runAbuseCase(ctx context.Context, np *nodeProc, ac abuseCase) {
	c, err := dialAbuse(ctx, np.ws)
	if err != nil {
		if np.live() {
			r.abuse.judged(ac.kind, false, err.Error())
		}
		return
	}
	defer c.ws.Close()
	if ac.join {
		n := r.seq.Add(1)
		join := signal.Message{Type: signal.TypeJoin, Room: fmt.Sprintf("abuse-%d", n%3),
			Name: fmt.Sprintf("abuser%d", n), Region: np.region}
		data, _ := json.Marshal(join)
		if err := c.write(frame{data: data}); err != nil {
			r.judgeAbuse(np, ac.kind, false, "join: "+err.Error())
			return
		}
		if _, ok := c.next(signal.TypeJoined, abuseAnswerWithin); !ok {
			r.judgeAbuse(np, ac.kind, false, "no joined for a valid join")
			return
		}
	}
	sent := 0
	for _, f := range ac.frames {
		if err := c.write(f); err != nil {
			break // the node may hang up mid-flood: that is the point
		}
		sent++
	}
	r.abuse.sent(ac.kind, sent)
	var got []string
	if !ac.anyErrors {
		for range ac.codes {
			m, ok := c.next(signal.TypeError, abuseAnswerWithin)
			if !ok {
				break
			}
			got = append(got, m.Code)
		}
	} else if m, ok := c.next(signal.TypeError, abuseAnswerWithin); ok {
		got = append(got, m.Code)
	}
	ok, why := judgeAnswer(ac, got, ac.closed && c.closedWithin(abuseAnswerWithin))
	r.judgeAbuse(np, ac.kind, ok, why)
	if !ac.closed {
		// The node must still talk to a client that misbehaved without
		// crossing its strike limit: leave properly.
		_ = c.write(text(`{"type":"leave"}`))
	}
}

// judgeAnswer compares what the node sent with what the case expects.
func judgeAnswer(ac abuseCase, got []string, closed bool) (bool, string) {
	switch {
	case ac.anyErrors && len(got) == 0:
		return false, "no error at all"
	case !ac.anyErrors && !slices.Equal(got, ac.codes):
		return false, fmt.Sprintf("error codes %v, want %v", got, ac.codes)
	case ac.closed && !closed:
		return false, fmt.Sprintf("connection still open %s later", abuseAnswerWithin)
	}
	return true, ""
}

func (r *run) judgeAbuse(np *nodeProc, kind string, ok bool, why string) {
	if !ok && !np.live() {
		return // the node was killed under it
	}
	r.abuse.judged(kind, ok, fmt.Sprintf("%s: %s", np.id, why))
}

// signalingRound sends every signaling abuse case to np, one connection each.
func (r *run) signalingRound(ctx context.Context, np *nodeProc) {
	var wg sync.WaitGroup
	for _, ac := range abuseCases(r.junk) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runAbuseCase(ctx, np, ac)
		}()
	}
	wg.Wait()
}

// joinFlood opens joins connections that join a room and never offer, and
// idle connections that never join. The node must drop each at its timeout
// with a fatal timeout error; the joined ones are watched until the node
// no longer lists them.
func (r *run) joinFlood(ctx context.Context, np *nodeProc, joins, idle int) {
	k := r.seq.Add(1)
	room := fmt.Sprintf("flood-%d", k)
	var wg sync.WaitGroup
	for i := range joins + idle {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i < joins {
				r.floodJoin(ctx, np, room, fmt.Sprintf("flood%d-%d", k, i))
			} else {
				r.idleConn(ctx, np)
			}
		}()
	}
	wg.Wait()
}

func (r *run) floodJoin(ctx context.Context, np *nodeProc, room, name string) {
	const kind = KindOfferTimeout
	c, err := dialAbuse(ctx, np.ws)
	if err != nil {
		r.judgeAbuse(np, AbuseJoinFlood, false, err.Error())
		return
	}
	defer c.ws.Close()
	data, _ := json.Marshal(signal.Message{Type: signal.TypeJoin, Room: room, Name: name, Region: np.region})
	if err := c.write(frame{data: data}); err != nil {
		r.judgeAbuse(np, AbuseJoinFlood, false, err.Error())
		return
	}
	r.abuse.sent(AbuseJoinFlood, 1)
	joined, ok := c.next(signal.TypeJoined, abuseAnswerWithin)
	at := time.Now()
	if !ok {
		r.judgeAbuse(np, AbuseJoinFlood, false, "no joined: "+c.closeText())
		return
	}
	r.abuse.judged(AbuseJoinFlood, true, "")
	r.book.made(kind)
	r.track.add(kind, joined.ID, name, np, at)
	r.awaitTimeout(ctx, c, np, kind)
}

func (r *run) idleConn(ctx context.Context, np *nodeProc) {
	const kind = KindJoinTimeout
	c, err := dialAbuse(ctx, np.ws)
	if err != nil {
		r.judgeAbuse(np, AbuseIdle, false, err.Error())
		return
	}
	defer c.ws.Close()
	at := time.Now()
	r.abuse.sent(AbuseIdle, 1)
	r.book.made(kind)
	ok := r.awaitTimeout(ctx, c, np, kind)
	switch {
	case np.killed.Load():
		r.book.lostWithNode(kind)
	case ok:
		// Never a participant: the closed connection is the removal.
		r.book.removed(kind, time.Since(at))
		r.abuse.judged(AbuseIdle, true, "")
	default:
		r.book.notRemoved(kind, fmt.Sprintf("idle connection to %s still open %s later", np.id, time.Since(at).Round(time.Second)))
		r.abuse.judged(AbuseIdle, false, np.id+": idle connection never closed")
	}
}

// awaitTimeout waits for the node's fatal timeout error and close on a
// connection that stopped short of joining or offering, and records the
// close reason. It reports whether the node closed it.
func (r *run) awaitTimeout(ctx context.Context, c *abuseConn, np *nodeProc, kind string) bool {
	limit := r.book.bound(kind) + 5*time.Second
	m, gotErr := c.next(signal.TypeError, limit)
	closed := c.closedWithin(2 * time.Second)
	if np.killed.Load() || ctx.Err() != nil {
		return closed
	}
	reason := c.closeText()
	if !gotErr || m.Code != signal.CodeTimeout || !m.Fatal {
		reason = fmt.Sprintf("(error %q fatal %v, then close %q)", m.Code, m.Fatal, reason)
	}
	if !closed {
		reason = "(node kept signaling open)"
	}
	r.book.reason(kind, reason)
	return closed
}
