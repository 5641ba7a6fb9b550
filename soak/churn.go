package soak

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/linkemu"
)

// churnKinds are the departures churn participants make; the others come
// from the join floods and the node kill.
var churnKinds = []string{KindLeave, KindVanish, KindPCClosed, KindNetworkLost, KindICEFailed}

// role is what a churn participant publishes.
type role struct {
	name         string
	audio, video bool
}

var roles = []role{{"subscriber", false, false}, {"audio", true, false}, {"audio+video", true, true}}

// blackhole drops every datagram: the media path is gone, signaling
// (TCP) is not.
var blackhole = linkemu.Params{Loss: 1}

const (
	churnEvery = 300 * time.Millisecond // how often a new participant may start
	holdMin    = time.Second            // how long a churn participant stays, at least
	holdSpread = 3 * time.Second        // ... plus up to this
)

// churn starts short-lived participants on the live nodes until until,
// at most opts.ChurnClients at once, cycling through the departure kinds,
// and waits for the last one to be gone.
func (r *run) churn(ctx context.Context, until time.Time) {
	sem := make(chan struct{}, r.opts.ChurnClients)
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(churnEvery)
	defer tick.Stop()
	var order []string
	for time.Now().Before(until) {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			continue
		}
		np := r.pickNode()
		if np == nil {
			<-sem
			continue
		}
		if len(order) == 0 {
			order = r.shuffled(churnKinds)
		}
		kind := order[0]
		order = order[1:]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r.churnOne(ctx, kind, np)
		}()
	}
}

// pickRoom puts churn participants that publish nothing in the steady
// room now and then, and everyone else in rooms that come and go.
// Publishers stay out of the steady room: each one would leave m-lines at
// the steady participants that the node reuses later, and the Go client
// (pion v4.2.20) loses a track sent on an m-line that was inactive in two
// offers in a row; the steady media would then fail for the client's sake.
func (r *run) pickRoom(publishes bool) string {
	if !publishes && r.intn(10) < 5 {
		return steadyRoom
	}
	return fmt.Sprintf("churn-%d", r.intn(4))
}

func (r *run) hold() time.Duration {
	return holdMin + time.Duration(r.float()*float64(holdSpread))
}

// churnOne is one participant: it joins np, stays a little and leaves the
// way kind says, and the departure is watched.
func (r *run) churnOne(ctx context.Context, kind string, np *nodeProc) {
	n := r.seq.Add(1)
	name := fmt.Sprintf("churn%d-%s", n, kind)
	r.churnStarted()
	if kind == KindPCClosed {
		// A receive-only peer: it publishes nothing.
		r.churnRaw(ctx, np, r.pickRoom(false), name)
		return
	}
	ro := roles[r.intn(len(roles))]
	room := r.pickRoom(ro.audio || ro.video)
	link, err := linkemu.NewNet(linkemu.NetConfig{Seed: uint64(n)})
	if err != nil {
		r.joinFailed(np, name, err)
		return
	}
	if kind == KindICEFailed {
		// Nothing of the media path ever gets through: ICE never connects.
		_ = link.Set(blackhole, blackhole)
	}
	jctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	c, err := client.Join(jctx, client.Options{URL: np.ws, Room: room, Name: name, Region: np.region,
		PublishAudio: ro.audio, PublishVideo: ro.video, Net: link, Logger: r.clientLog})
	cancel()
	joinedAt := time.Now()
	if err != nil {
		r.joinFailed(np, name, err)
		return
	}
	defer c.Close()
	r.churnJoined()
	r.book.made(kind)
	id := c.ID()
	if kind == KindICEFailed {
		// The node made its PeerConnection at the join: its ICE fails
		// from then on.
		r.track.add(kind, id, name, np, joinedAt)
		r.awaitNodeClose(ctx, kind, c, np)
		return
	}
	connected := waitUntil(ctx, 10*time.Second, 20*time.Millisecond, func() bool {
		return c.ConnectionState() == webrtc.PeerConnectionStateConnected
	})
	if !connected {
		r.dropped(kind, np, fmt.Sprintf("%s (%s) on %s: media never connected (%s)", id, name, np.id, c.ConnectionState()))
		return
	}
	select {
	case <-time.After(r.hold()):
	case <-c.Done():
		r.dropped(kind, np, fmt.Sprintf("%s (%s) on %s ended while staying: %v", id, name, np.id, c.Err()))
		return
	case <-ctx.Done():
		return
	}
	switch kind {
	case KindLeave:
		r.track.add(kind, id, name, np, time.Now())
		_ = c.Close()
	case KindVanish:
		// Lose the DTLS close alert too: the node hears nothing but the
		// TCP connection ending.
		_ = link.Set(blackhole, blackhole)
		r.track.add(kind, id, name, np, time.Now())
		c.Vanish()
	case KindNetworkLost:
		_ = link.Set(blackhole, blackhole)
		r.track.add(kind, id, name, np, time.Now())
		r.awaitNodeClose(ctx, kind, c, np)
	}
}

// churnRaw is a participant that closes its PeerConnection and keeps its
// WebSocket open, saying nothing: the node must drop it and close signaling
// with the reason.
func (r *run) churnRaw(ctx context.Context, np *nodeProc, room, name string) {
	const kind = KindPCClosed
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	p, err := dialRaw(pctx, np.ws, room, name, np.region)
	cancel()
	if err != nil {
		r.joinFailed(np, name, err)
		return
	}
	defer p.close()
	r.churnJoined()
	r.book.made(kind)
	select {
	case <-time.After(r.hold()):
	case <-p.gone:
		r.dropped(kind, np, fmt.Sprintf("%s (%s) on %s: signaling ended while staying: %v", p.id, name, np.id, p.err()))
		return
	case <-ctx.Done():
		return
	}
	r.track.add(kind, p.id, name, np, time.Now())
	_ = p.pc.Close()
	select {
	case <-p.gone:
	case <-time.After(r.book.bound(kind) + 5*time.Second):
		r.book.reason(kind, "(node kept signaling open)")
		return
	case <-ctx.Done():
		return
	}
	if !np.killed.Load() {
		r.book.reason(kind, p.closedBy())
	}
}

// awaitNodeClose waits for the node to end a participant whose media path
// is gone, and records the close reason it gave.
func (r *run) awaitNodeClose(ctx context.Context, kind string, c *client.Client, np *nodeProc) {
	select {
	case <-c.Done():
	case <-time.After(r.book.bound(kind) + 5*time.Second):
		r.book.reason(kind, "(node kept signaling open)")
		return
	case <-ctx.Done():
		return
	}
	if !np.killed.Load() {
		r.book.reason(kind, closeText(c.Err()))
	}
}

// closeText is the close reason the node sent, from a client's error.
func closeText(err error) string {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Text
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

// dropped records a participant that ended before it left: unexpected,
// unless its node was killed.
func (r *run) dropped(kind string, np *nodeProc, example string) {
	if np.killed.Load() {
		r.book.lostWithNode(kind)
		return
	}
	r.book.unexpected(kind, example)
}

func (r *run) churnStarted() {
	r.churnMu.Lock()
	r.churnRep.Started++
	r.churnMu.Unlock()
}

func (r *run) churnJoined() {
	r.churnMu.Lock()
	r.churnRep.Joined++
	r.churnMu.Unlock()
}

func (r *run) joinFailed(np *nodeProc, name string, err error) {
	r.churnMu.Lock()
	defer r.churnMu.Unlock()
	if !np.live() {
		r.churnRep.LostWithNode++
		return
	}
	r.churnRep.JoinFailures = append(r.churnRep.JoinFailures, fmt.Sprintf("%s on %s: %v", name, np.id, err))
}

// waitUntil polls cond every step until it holds (true) or limit passes.
func waitUntil(ctx context.Context, limit, step time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(step)
	}
}
