package soak

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/client"
)

// steadyRoom is the conference of the long-lived participants; churn
// participants come and go in it too.
const steadyRoom = "steady"

const (
	// stallAfter is how old the latest audio packet may be before a
	// steady pair counts as stalled.
	stallAfter = 2500 * time.Millisecond
	// warmup is how long after joining a participant's pairs are not
	// sampled yet (subscription, keyframe).
	warmup = 5 * time.Second
)

// member is one long-lived participant. It may move to another node when
// its own dies.
type member struct {
	name   string
	region string // the region it joins with: its first node's
	pub    bool   // publishes audio and video; else only receives
	logger *slog.Logger

	mu     sync.Mutex
	c      *client.Client
	np     *nodeProc
	since  time.Time
	moving bool
}

func (m *member) get() (*client.Client, *nodeProc, time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.c, m.np, m.since, m.moving
}

func (m *member) set(c *client.Client, np *nodeProc) {
	m.mu.Lock()
	m.c, m.np, m.since, m.moving = c, np, time.Now(), false
	m.mu.Unlock()
}

func (m *member) options(url string) client.Options {
	return client.Options{URL: url, Room: steadyRoom, Name: m.name, Region: m.region,
		PublishAudio: m.pub, PublishVideo: m.pub, Logger: m.logger}
}

// joinSteady puts a publisher and a receiver on every node.
func (r *run) joinSteady(ctx context.Context) error {
	for _, np := range r.nodes {
		for _, pub := range []bool{true, false} {
			kind := "sub"
			if pub {
				kind = "pub"
			}
			m := &member{name: "steady-" + kind + "-" + np.region, region: np.region, pub: pub, logger: r.steadyLog}
			jctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			c, err := client.Join(jctx, m.options(np.ws))
			cancel()
			if err != nil {
				return fmt.Errorf("soak: steady participant %s: %w", m.name, err)
			}
			m.set(c, r.nodeByID(c.Node()))
			r.steady = append(r.steady, m)
		}
	}
	return nil
}

// closeSteady makes every steady participant leave.
func (r *run) closeSteady() {
	var wg sync.WaitGroup
	for _, m := range r.steady {
		c, _, _, _ := m.get()
		if c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.Close()
		}()
	}
	wg.Wait()
}

// pairState is one (receiver, publisher) pair of steady participants.
type pairState struct {
	recv, pub string
	audio     time.Time // latest audio from pub at recv
	video     time.Time
	sampled   bool // both settled long enough to be judged
}

// steadyPairs lists every pair of current, settled steady participants.
func (r *run) steadyPairs(now time.Time) []pairState {
	var out []pairState
	for _, rm := range r.steady {
		rc, _, rsince, rmoving := rm.get()
		if rc == nil || rmoving {
			continue
		}
		got := rc.Received()
		for _, pm := range r.steady {
			if pm == rm || !pm.pub {
				continue
			}
			pc, _, psince, pmoving := pm.get()
			if pc == nil || pmoving {
				continue
			}
			s := got[pc.ID()]
			out = append(out, pairState{recv: rm.name, pub: pm.name, audio: s.LastAudio, video: s.LastVideo,
				sampled: now.Sub(rsince) >= warmup && now.Sub(psince) >= warmup})
		}
	}
	return out
}

// notFlowing lists the pairs without recent audio (and, with video, video).
func notFlowing(pairs []pairState, now time.Time, video bool) []string {
	var out []string
	for _, p := range pairs {
		switch {
		case now.Sub(p.audio) > stallAfter:
			out = append(out, fmt.Sprintf("%s hears nothing from %s", p.recv, p.pub))
		case video && now.Sub(p.video) > stallAfter:
			out = append(out, fmt.Sprintf("%s sees nothing from %s", p.recv, p.pub))
		}
	}
	slices.Sort(out)
	return out
}

// awaitSteady waits until every steady participant receives every steady
// publisher, audio and video.
func (r *run) awaitSteady(ctx context.Context, limit time.Duration) (bool, string) {
	var missing []string
	ok := waitUntil(ctx, limit, 200*time.Millisecond, func() bool {
		now := time.Now()
		pairs := r.steadyPairs(now)
		missing = notFlowing(pairs, now, true)
		if len(pairs) == 0 {
			missing = []string{"no steady participants"}
		}
		return len(missing) == 0
	})
	if ok {
		return true, ""
	}
	return false, strings.Join(firstN(missing, 6), "; ") + "; " + r.receivedSummary(missing)
}

// receivedSummary says, for the first receiver named in missing, what it
// gets from every publisher it knows: the age of the latest audio and video
// and the tracks seen.
func (r *run) receivedSummary(missing []string) string {
	if len(missing) == 0 {
		return ""
	}
	name, _, _ := strings.Cut(missing[0], " ")
	for _, m := range r.steady {
		c, np, _, _ := m.get()
		if m.name != name || c == nil {
			continue
		}
		now := time.Now()
		got := c.Received()
		ids := make([]string, 0, len(got))
		for id := range got {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		parts := make([]string, 0, len(ids))
		for _, id := range ids {
			s := got[id]
			parts = append(parts, fmt.Sprintf("%s audio %s video %s (%d tracks, %d ssrc changes, %d video pkts)",
				id, age(now, s.LastAudio), age(now, s.LastVideo), s.Tracks, s.SSRCChanges, s.VideoPackets))
		}
		where := ""
		if np != nil {
			where = " on " + np.id
		}
		neg := ""
		if n, err := c.Negotiation(); err == nil {
			rc := slices.Clone(n.Receiving)
			slices.Sort(rc)
			neg = fmt.Sprintf("; its SDP (%d node offers, %d m-lines, %d inactive) sends it %s",
				n.Offers, n.MLines, n.Inactive, strings.Join(rc, " "))
		}
		return fmt.Sprintf("%s (%s%s) receives: %s%s%s", name, c.ID(), where, strings.Join(parts, ", "), neg,
			nodeView(np, c.ID()))
	}
	return ""
}

// nodeView is what a participant's node says it sends it: per
// subscription the layer forwarded, the layer wanted and why, and the
// bandwidth estimate.
func nodeView(np *nodeProc, id string) string {
	if np == nil || !np.live() {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := getSnapshot(ctx, np.base)
	if err != nil {
		return ""
	}
	for _, c := range s.Conferences {
		p, ok := c.Find(id)
		if !ok {
			continue
		}
		parts := make([]string, 0, len(p.Subs))
		for _, sub := range p.Subs {
			parts = append(parts, fmt.Sprintf("%s %s forwarded %q target %q (%s) %d bit/s",
				sub.Publisher, sub.Kind, sub.Forwarded, sub.Target, sub.Reason, sub.Bitrate))
		}
		return fmt.Sprintf("; %s says (estimate %d bit/s, state %s, loss down %.1f%%): %s",
			np.id, p.EstimateBps, p.State, p.LossDownPct, strings.Join(parts, ", "))
	}
	return "; " + np.id + " does not list it"
}

func age(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return fmt.Sprintf("%.1fs ago", now.Sub(t).Seconds())
}

// monitor samples the steady pairs every second until ctx ends; pairs are
// left out while quiet says so (around the node kill).
func (r *run) monitor(ctx context.Context, quiet func(time.Time) bool) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		if quiet(now) {
			continue
		}
		var judged []pairState
		for _, p := range r.steadyPairs(now) {
			if p.sampled {
				judged = append(judged, p)
			}
		}
		stalled := notFlowing(judged, now, false)
		withVideo := notFlowing(judged, now, true)
		r.mediaMu.Lock()
		r.media.Samples += len(judged)
		r.media.Stalls += len(stalled)
		r.media.VideoStalls += len(withVideo) - len(stalled)
		for _, s := range withVideo {
			if len(r.media.Stalled) < 10 {
				r.media.Stalled = append(r.media.Stalled, fmt.Sprintf("%.0f s: %s", now.Sub(r.start).Seconds(), s))
			}
		}
		r.mediaMu.Unlock()
	}
}

func (r *run) nodeByID(id string) *nodeProc {
	for _, np := range r.nodes {
		if np.id == id {
			return np
		}
	}
	return nil
}
