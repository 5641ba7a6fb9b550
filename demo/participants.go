package demo

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/internal/wait"
	"github.com/switchyard/switchyard/linkemu"
)

// joinTimeout bounds one join: signaling, and the node's answer.
const joinTimeout = 10 * time.Second

// pingEvery is how often each synthetic participant pings the others, as
// browsers do, so the console shows measured end-to-end round trips.
const pingEvery = 3 * time.Second

// session is one stay of a seat in its conference: from a successful join
// to leaving (or failing). The client's counters stay readable after Close.
type session struct {
	seat   seat
	c      *client.Client
	link   *linkemu.Net // the lossy access link; nil for everyone else
	via    string       // node dialled
	node   string       // node that took the participant (after any redirect)
	id     string
	joined time.Time

	mu   sync.Mutex
	left time.Time // zero while in the room; guarded by mu
	err  string    // why it ended, if not by plan; guarded by mu
}

func (s *session) end(at time.Time, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.left.IsZero() {
		s.left, s.err = at, why
	}
}

func (s *session) ended() (time.Time, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.left, s.err
}

// roster runs every seat and remembers every session.
type roster struct {
	o      options
	nodes  []*demoNode
	log    *slog.Logger
	start  time.Time
	joined sync.WaitGroup // seat goroutines

	mu       sync.Mutex
	sessions []*session // in join order; guarded by mu
	closed   bool       // closeAll ran: no new sessions; guarded by mu
	failures []string   // joins that did not happen; guarded by mu
}

func newRoster(o options, nodes []*demoNode, logger *slog.Logger) *roster {
	return &roster{o: o, nodes: nodes, log: logger, start: time.Now()}
}

// run starts one goroutine per seat; they return when ctx ends.
func (r *roster) run(ctx context.Context, seats []seat) {
	for _, s := range seats {
		r.joined.Add(1)
		go func() {
			defer r.joined.Done()
			r.occupy(ctx, s)
		}()
	}
}

// occupy keeps s in its conference as planned: join at joinAt, and for a
// guest leave after stay and come back after away, until ctx ends.
func (r *roster) occupy(ctx context.Context, s seat) {
	at := r.start.Add(s.joinAt)
	for {
		if !wait.Sleep(ctx, time.Until(at)) {
			return
		}
		sess, err := r.join(ctx, s)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.log.Warn("participant could not join", "name", s.name, "conference", s.conference, "err", err)
			r.mu.Lock()
			r.failures = append(r.failures, fmt.Sprintf("%s: %v", s.name, err))
			r.mu.Unlock()
			at = time.Now().Add(2 * time.Second)
			continue
		}
		var leave <-chan time.Time
		var stayTimer *time.Timer
		if s.stay > 0 {
			stayTimer = time.NewTimer(s.stay)
			leave = stayTimer.C
		}
		select {
		case <-ctx.Done():
			return // the demo closes every session at once
		case <-sess.c.Done():
			why := "ended"
			if err := sess.c.Err(); err != nil {
				why = err.Error()
			}
			sess.end(time.Now(), why)
			r.log.Warn("participant dropped", "name", s.name, "conference", s.conference, "err", why)
			at = time.Now().Add(2 * time.Second)
		case <-leave:
			sess.end(time.Now(), "")
			r.log.Info("participant leaves", "name", s.name, "conference", s.conference)
			_ = sess.c.Close()
			at = time.Now().Add(s.away)
		}
		if stayTimer != nil {
			stayTimer.Stop()
		}
	}
}

func (r *roster) join(ctx context.Context, s seat) (*session, error) {
	via := r.nodes[s.via]
	o := client.Options{
		URL:          via.wsURL(),
		Room:         s.conference,
		Name:         s.name,
		Region:       regions[s.region],
		PublishAudio: true,
		PublishVideo: true,
		Talk:         s.talk(r.o.participants),
		PingEvery:    pingEvery,
		MaxHeight:    maxHeight,
		Logger:       r.log.With("conference", s.conference),
	}
	sess := &session{seat: s, via: via.ID()}
	if s.lossy {
		loss := r.o.lossyLoss
		link, err := linkemu.NewNet(linkemu.NetConfig{
			// Only the way down is capped: the participant still publishes
			// every layer, and it is the node that must pick what fits.
			Up:   linkemu.Params{Delay: 15 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: loss},
			Down: linkemu.Params{Delay: 15 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: loss, RateBitsPerSec: int64(r.o.lossyRate) * 1000},
			Seed: uint64(r.o.seed),
		})
		if err != nil {
			return nil, fmt.Errorf("lossy link: %w", err)
		}
		o.Net, sess.link = link, link
	}
	jctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	c, err := client.Join(jctx, o)
	if err != nil {
		return nil, err
	}
	sess.c, sess.node, sess.id, sess.joined = c, c.Node(), c.ID(), time.Now()
	r.mu.Lock()
	closed := r.closed
	if !closed {
		r.sessions = append(r.sessions, sess)
	}
	r.mu.Unlock()
	if closed {
		// closeAll has already taken the list: this one is ours to close.
		_ = c.Close()
		return nil, context.Canceled
	}
	r.log.Info("participant joined", "name", s.name, "conference", s.conference, "region", regions[s.region],
		"via", sess.via, "node", sess.node, "id", sess.id)
	return sess, nil
}

// all returns the sessions so far.
func (r *roster) all() []*session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*session(nil), r.sessions...)
}

// closeAll stops every seat goroutine and closes every session at once,
// giving up after d; it reports whether everything finished.
func (r *roster) closeAll(d time.Duration) bool {
	deadline := time.Now().Add(d)
	now := time.Now()
	r.mu.Lock()
	r.closed = true
	all := append([]*session(nil), r.sessions...)
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range all {
		s.end(now, "")
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.c.Close()
		}()
	}
	ok := waitTimeout(&wg, time.Until(deadline))
	return waitTimeout(&r.joined, time.Until(deadline)) && ok
}
