package soak

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/internal/wait"
)

// Rejoining after a node is lost, as the web client does
// (node/web/static/reconnect.js): the fallback nodes in order, then the lost
// node, a few rounds, the pause doubling each round with a little jitter.
const (
	reconnectRounds = 3
	reconnectBase   = 250 * time.Millisecond
	reconnectMax    = 4 * time.Second
	rejoinTimeout   = 3 * time.Second  // one attempt's join
	mediaBackLimit  = 20 * time.Second // how long a moved participant is watched
)

// reconnectOrder is the list of signaling URLs to try: the fallback list
// from joined, then the lost node, without duplicates or anything but
// ws:// and wss:// URLs.
func reconnectOrder(fallback []string, lost string) []string {
	var out []string
	for _, u := range append(append([]string{}, fallback...), lost) {
		if (strings.HasPrefix(u, "ws://") || strings.HasPrefix(u, "wss://")) && !strings.ContainsAny(u, " \t\n") {
			if !contains(out, u) {
				out = append(out, u)
			}
		}
	}
	return out
}

// reconnectDelay is the pause before attempt (from 0) over n URLs; jitter
// in [0,1) adds up to one base pause.
func reconnectDelay(attempt, n int, jitter float64) time.Duration {
	if n < 1 {
		n = 1
	}
	// The shift is bounded so that it cannot overflow; the cap is lower.
	d := min(reconnectMax, reconnectBase<<min(attempt/n, 8))
	return d + time.Duration(jitter*float64(reconnectBase))
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// killAndFailover SIGKILLs victim, then brings its steady participants back
// through their fallback lists and measures how long media took to come
// back; meanwhile it watches the surviving nodes drop the dead node's
// participants.
func (r *run) killAndFailover(ctx context.Context, victim *nodeProc) *FailoverReport {
	rep := &FailoverReport{Node: victim.id, DroppedBySec: map[string]float64{}}
	var victimIDs []string
	if s, err := getSnapshot(ctx, victim.base); err == nil {
		for _, c := range s.Conferences {
			for _, p := range c.Participants {
				if !p.Remote {
					victimIDs = append(victimIDs, p.ID)
				}
			}
		}
	}
	rep.Participants = len(victimIDs)
	var moving []*member
	for _, m := range r.steady {
		m.mu.Lock()
		if m.np == victim {
			m.moving = true
			moving = append(moving, m)
		}
		m.mu.Unlock()
	}
	t0 := time.Now()
	r.setKill(t0)
	victim.kill()
	rep.AtSec = round(t0.Sub(r.start).Seconds(), 2)
	r.log.Info("node killed", "node", victim.id, "participants", len(victimIDs), "steady", len(moving))

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.watchDrop(ctx, victimIDs, t0, rep)
	}()
	moved := make([]MovedParticipant, len(moving))
	for i, m := range moving {
		wg.Add(1)
		go func() {
			defer wg.Done()
			moved[i] = r.move(ctx, m, t0)
		}()
	}
	wg.Wait()
	rep.Moved = moved
	for _, m := range moved {
		rep.MaxMediaBackSec = max(rep.MaxMediaBackSec, m.MediaBackSec)
	}
	r.setFailoverDone(time.Now())
	return rep
}

// watchDrop polls the surviving nodes until none lists the dead node's
// participants, recording each removal as a node-killed departure.
func (r *run) watchDrop(ctx context.Context, ids []string, t0 time.Time, rep *FailoverReport) {
	const kind = KindNodeKilled
	type key struct {
		node *nodeProc
		id   string
	}
	left := map[key]bool{}
	for _, np := range r.nodes {
		if !np.live() {
			continue
		}
		for _, id := range ids {
			left[key{np, id}] = true
			r.book.made(kind)
		}
	}
	deadline := t0.Add(r.book.bound(kind) + r.track.giveUp)
	for len(left) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		for _, np := range r.nodes {
			if !np.live() {
				continue
			}
			s, err := getSnapshot(ctx, np.base)
			if err != nil {
				continue
			}
			present := presentIDs(s)
			for k := range left {
				if k.node == np && !present[k.id] {
					d := s.Taken.Sub(t0)
					r.book.removed(kind, d)
					rep.DroppedBySec[np.id] = max(rep.DroppedBySec[np.id], round(d.Seconds(), 2))
					delete(left, k)
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	for k := range left {
		r.book.notRemoved(kind, fmt.Sprintf("%s of the dead node still on %s", k.id, k.node.id))
	}
}

// move brings one participant of the dead node back: its client notices the
// loss, rejoins through the fallback list, and media flows again.
func (r *run) move(ctx context.Context, m *member, t0 time.Time) MovedParticipant {
	old, _, _, _ := m.get()
	mp := MovedParticipant{Name: m.name, OldID: old.ID()}
	since := func() float64 { return round(time.Since(t0).Seconds(), 3) }
	select {
	case <-old.Done():
		mp.NoticedSec = since()
	case <-time.After(10 * time.Second):
		mp.Error = "the client did not notice its node died"
		return mp
	}
	urls := reconnectOrder(old.Fallback(), old.URL())
	_ = old.Close()
	var c *client.Client
	var err error
	for attempt := 0; attempt < len(urls)*reconnectRounds; attempt++ {
		if !wait.Sleep(ctx, reconnectDelay(attempt, len(urls), r.float())) {
			mp.Error = ctx.Err().Error()
			return mp
		}
		mp.Attempts++
		jctx, cancel := context.WithTimeout(ctx, rejoinTimeout)
		c, err = client.Join(jctx, m.options(urls[attempt%len(urls)]))
		cancel()
		if err == nil {
			break
		}
	}
	if c == nil {
		mp.Error = fmt.Sprintf("no node took it back after %d attempts: %v", mp.Attempts, err)
		return mp
	}
	joinedAt := time.Now()
	mp.RejoinedSec, mp.NewID, mp.NewNode = since(), c.ID(), c.Node()
	// Until it counts as settled again the monitor leaves its pairs out.
	m.set(c, r.nodeByID(c.Node()))
	back := waitUntil(ctx, mediaBackLimit, 10*time.Millisecond, func() bool {
		for _, s := range c.Received() {
			if s.LastAudio.After(joinedAt) || s.LastVideo.After(joinedAt) {
				return true
			}
		}
		return false
	})
	if !back {
		mp.Error = fmt.Sprintf("no media within %s of rejoining %s", mediaBackLimit, c.Node())
		return mp
	}
	mp.MediaBackSec = since()
	if m.pub {
		id := c.ID()
		heard := waitUntil(ctx, mediaBackLimit, 20*time.Millisecond, func() bool {
			for _, o := range r.steady {
				oc, _, _, moving := o.get()
				if o == m || oc == nil || moving {
					continue
				}
				if !oc.Received()[id].LastAudio.After(joinedAt) {
					return false
				}
			}
			return true
		})
		if heard {
			mp.HeardAgainSec = since()
		}
	}
	return mp
}
