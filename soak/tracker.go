package soak

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// trackPoll is how often the tracker looks at the nodes with departures
// in flight.
const trackPoll = 250 * time.Millisecond

// watch is one departure waiting to be seen: participant id must vanish
// from node's snapshot.
type watch struct {
	kind, id, name string
	node           *nodeProc
	at             time.Time
}

// tracker watches the nodes' snapshots until every departure is gone from
// its node, and records the time each took in the book.
type tracker struct {
	book *book
	// giveUp is how long past its bound a departure is watched before it
	// counts as never removed.
	giveUp time.Duration

	mu      sync.Mutex
	pending []*watch
}

func newTracker(b *book) *tracker { return &tracker{book: b, giveUp: 10 * time.Second} }

// add watches participant id (named name) leave node, from at.
func (t *tracker) add(kind, id, name string, np *nodeProc, at time.Time) {
	t.mu.Lock()
	t.pending = append(t.pending, &watch{kind: kind, id: id, name: name, node: np, at: at})
	t.mu.Unlock()
}

func (t *tracker) inFlight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pending)
}

// run polls until ctx ends.
func (t *tracker) run(ctx context.Context) {
	tick := time.NewTicker(trackPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.pollOnce(ctx)
		}
	}
}

// pollOnce reads the snapshot of every node with departures in flight.
func (t *tracker) pollOnce(ctx context.Context) {
	t.mu.Lock()
	byNode := map[*nodeProc][]*watch{}
	for _, w := range t.pending {
		byNode[w.node] = append(byNode[w.node], w)
	}
	t.mu.Unlock()
	done := map[*watch]bool{}
	for np, ws := range byNode {
		if np.killed.Load() {
			for _, w := range ws {
				t.book.lostWithNode(w.kind)
				done[w] = true
			}
			continue
		}
		s, err := getSnapshot(ctx, np.base)
		if err != nil {
			continue // a node being killed; or a slow one: next round
		}
		now := s.Taken
		if now.IsZero() {
			now = time.Now()
		}
		present := presentIDs(s)
		for _, w := range ws {
			switch {
			case !present[w.id]:
				t.book.removed(w.kind, now.Sub(w.at))
				done[w] = true
			case now.Sub(w.at) > t.book.bound(w.kind)+t.giveUp:
				t.book.notRemoved(w.kind, fmt.Sprintf("%s (%s) still on %s %.0f s after leaving",
					w.id, w.name, np.id, now.Sub(w.at).Seconds()))
				done[w] = true
			}
		}
	}
	if len(done) == 0 {
		return
	}
	t.mu.Lock()
	kept := t.pending[:0]
	for _, w := range t.pending {
		if !done[w] {
			kept = append(kept, w)
		}
	}
	t.pending = kept
	t.mu.Unlock()
}

// drain polls until nothing is in flight, or until limit; what is left
// then counts as never removed.
func (t *tracker) drain(ctx context.Context, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for t.inFlight() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		t.pollOnce(ctx)
		time.Sleep(trackPoll)
	}
	t.mu.Lock()
	left := t.pending
	t.pending = nil
	t.mu.Unlock()
	for _, w := range left {
		t.book.notRemoved(w.kind, fmt.Sprintf("%s (%s) still on %s when the soak stopped watching", w.id, w.name, w.node.id))
	}
}
