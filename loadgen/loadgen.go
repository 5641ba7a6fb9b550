// Package loadgen loads a node with synthetic participants and measures what they get: join time, time to first frame, bitrate, loss, simulcast layers and round-trip time.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/client"
)

// Config describes one load run. Publishers and Subscribers are per room.
type Config struct {
	URL        string // HTTP base of a node, e.g. http://127.0.0.1:8080 (ws:// works too)
	RoomPrefix string // rooms are RoomPrefix, or RoomPrefix-1 … RoomPrefix-N when Rooms > 1
	Rooms      int

	Publishers  int // per room; each publishes what PublishAudio and PublishVideo say
	Subscribers int // per room; they publish nothing

	PublishAudio bool
	PublishVideo bool // VP8 simulcast, rids q, h, f
	// AudioOnlySubscribers asks the node to send subscribers no video at all.
	AudioOnlySubscribers bool
	// MaxHeight caps the layer every receiver asks for (0: no constraint).
	MaxHeight int
	// Regions, when set, are given to the participants of each room in
	// turn (publishers first), so that in a cascade the node they dial
	// redirects them to a node of their region.
	Regions []string

	Duration     time.Duration // how long to hold the load once everyone has joined
	JoinRate     float64       // joins started per second
	JoinTimeout  time.Duration // per participant
	PingInterval time.Duration // between two end-to-end pings (one participant each time)

	// Logger receives progress and the participants' warnings; nil discards.
	Logger *slog.Logger
}

// DefaultConfig is one room of 2 publishers and 4 subscribers for 10 s.
func DefaultConfig() Config {
	return Config{
		URL:          "http://127.0.0.1:8080",
		RoomPrefix:   "load",
		Rooms:        1,
		Publishers:   2,
		Subscribers:  4,
		PublishAudio: true,
		PublishVideo: true,
		Duration:     10 * time.Second,
		JoinRate:     20,
		JoinTimeout:  20 * time.Second,
		PingInterval: 100 * time.Millisecond,
	}
}

// Validate refuses configurations that cannot run or would measure nothing.
func (c Config) Validate() error {
	var errs []error
	if _, err := signalURL(c.URL); err != nil {
		errs = append(errs, err)
	}
	if c.RoomPrefix == "" {
		errs = append(errs, errors.New("room prefix is empty"))
	}
	if c.Rooms < 1 {
		errs = append(errs, fmt.Errorf("rooms %d: need at least 1", c.Rooms))
	}
	if c.Publishers < 1 {
		errs = append(errs, fmt.Errorf("publishers %d: need at least 1 per room, or nobody receives anything", c.Publishers))
	}
	if c.Subscribers < 0 {
		errs = append(errs, fmt.Errorf("subscribers %d is negative", c.Subscribers))
	}
	if c.Subscribers == 0 && c.Publishers < 2 {
		errs = append(errs, errors.New("a room with one publisher and no subscribers receives nothing"))
	}
	if !c.PublishAudio && !c.PublishVideo {
		errs = append(errs, errors.New("publishers publish neither audio nor video"))
	}
	if c.AudioOnlySubscribers && !c.PublishAudio && c.Subscribers > 0 {
		errs = append(errs, errors.New("audio-only subscribers need publishers that publish audio"))
	}
	for i, r := range c.Regions {
		if strings.TrimSpace(r) == "" || strings.ContainsAny(r, ", ") {
			errs = append(errs, fmt.Errorf("region %d %q: want a name without spaces or commas", i+1, r))
		}
	}
	if c.MaxHeight < 0 {
		errs = append(errs, fmt.Errorf("max height %d is negative", c.MaxHeight))
	}
	if c.Duration <= 0 {
		errs = append(errs, fmt.Errorf("duration %s must be positive", c.Duration))
	}
	if !(c.JoinRate > 0) {
		errs = append(errs, fmt.Errorf("join rate %g must be positive", c.JoinRate))
	}
	if c.JoinTimeout <= 0 {
		errs = append(errs, fmt.Errorf("join timeout %s must be positive", c.JoinTimeout))
	}
	if c.PingInterval < 0 {
		errs = append(errs, fmt.Errorf("ping interval %s is negative", c.PingInterval))
	}
	return errors.Join(errs...)
}

// signalURL turns a node's HTTP base into its signaling WebSocket URL.
func signalURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("url %q: %w", base, err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("url %q: scheme must be http, https, ws or wss", base)
	}
	if u.Host == "" {
		return "", fmt.Errorf("url %q has no host", base)
	}
	if !strings.HasSuffix(u.Path, "/ws") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/ws"
	}
	return u.String(), nil
}

// participant is one synthetic participant of the run.
type participant struct {
	room      int
	name      string
	region    string // "" when the run names no regions
	publisher bool
	// measured says whether its time to first frame counts, and wantVideo
	// whether that frame is video (else the first audio packet).
	measured  bool
	wantVideo bool

	// Written by its join goroutine before joined.Done; read after.
	c         *client.Client
	joinStart time.Time
	joinDur   time.Duration
	err       error

	// Written by its watcher before watchers.Done; read after.
	firstMedia time.Duration
	gotMedia   bool
}

// Run joins the participants at the configured rate (publishers first),
// holds the load for Duration, measures, and leaves. Cancelling ctx ends
// the hold early; what was measured until then is reported.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, fmt.Errorf("loadgen: %w", err)
	}
	wsURL, _ := signalURL(cfg.URL)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &run{cfg: cfg, wsURL: wsURL, log: log, stopWatch: make(chan struct{})}
	r.plan()
	rep := Report{Config: reportConfig(cfg), Started: time.Now(), Participants: len(r.pubs) + len(r.subs)}
	defer r.closeAll()

	joinStart := time.Now()
	if err := r.joinAll(ctx, r.pubs); err != nil {
		return rep, err
	}
	r.awaitPublishing(ctx)
	if err := r.joinAll(ctx, r.subs); err != nil {
		return rep, err
	}
	rep.JoinPhaseSec = time.Since(joinStart).Seconds()
	joined := r.joined()
	log.Info("joined", "participants", len(joined), "of", rep.Participants, "sec", round(rep.JoinPhaseSec, 2))
	if len(joined) == 0 {
		rep.fillJoins(r)
		return rep, fmt.Errorf("loadgen: nobody joined %s: %s", cfg.URL, firstOr(rep.JoinErrors, "no error recorded"))
	}

	before := receivedAll(joined)
	t0 := time.Now()
	pings := r.startPings(joined)
	select {
	case <-ctx.Done():
		log.Info("load interrupted; reporting what was measured")
	case <-time.After(cfg.Duration):
	}
	after := receivedAll(joined)
	rep.WindowSec = time.Since(t0).Seconds()
	rtts, byNodes, pingFails := pings.stop()
	close(r.stopWatch)
	r.watchers.Wait()

	rep.fillJoins(r)
	rep.fillTraffic(r, joined, before, after)
	rep.RTTMs = summarize(rtts)
	rep.fillNodes(joined, byNodes)
	rep.PingFailures = pingFails
	for _, p := range joined {
		select {
		case <-p.c.Done():
			rep.Ended = append(rep.Ended, fmt.Sprintf("%s: %v", p.name, p.c.Err()))
		default:
		}
	}
	return rep, nil
}

// run is the state of one Run.
type run struct {
	cfg   Config
	wsURL string
	log   *slog.Logger
	pubs  []*participant
	subs  []*participant

	watchers  sync.WaitGroup
	stopWatch chan struct{}
}

func (r *run) roomName(i int) string {
	if r.cfg.Rooms == 1 {
		return r.cfg.RoomPrefix
	}
	return fmt.Sprintf("%s-%d", r.cfg.RoomPrefix, i+1)
}

// plan lists the participants, rooms interleaved so that every room fills at
// the same pace. Time to first frame is measured on subscribers, or, in
// rooms without any, on every publisher but each room's first.
func (r *run) plan() {
	cfg := r.cfg
	for i := range cfg.Publishers {
		for room := range cfg.Rooms {
			r.pubs = append(r.pubs, &participant{
				room: room, name: fmt.Sprintf("pub-%d-%d", room+1, i+1), publisher: true,
				region:   regionOf(cfg.Regions, i),
				measured: cfg.Subscribers == 0 && i > 0, wantVideo: cfg.PublishVideo,
			})
		}
	}
	for i := range cfg.Subscribers {
		for room := range cfg.Rooms {
			r.subs = append(r.subs, &participant{
				room: room, name: fmt.Sprintf("sub-%d-%d", room+1, i+1),
				region:   regionOf(cfg.Regions, cfg.Publishers+i),
				measured: true, wantVideo: cfg.PublishVideo && !cfg.AudioOnlySubscribers,
			})
		}
	}
}

// regionOf is the region of a room's i-th participant (publishers counted
// first): the regions in turn, so each gets its share of publishers and
// subscribers when the counts allow.
func regionOf(regions []string, i int) string {
	if len(regions) == 0 {
		return ""
	}
	return regions[i%len(regions)]
}

// joinAll starts one join every 1/JoinRate seconds and waits for them all.
// Only a cancelled ctx is an error: a refused join is counted, not fatal.
func (r *run) joinAll(ctx context.Context, ps []*participant) error {
	interval := time.Duration(float64(time.Second) / r.cfg.JoinRate)
	var wg sync.WaitGroup
	next := time.Now()
	for _, p := range ps {
		if d := time.Until(next); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				wg.Wait()
				return fmt.Errorf("loadgen: joining: %w", ctx.Err())
			case <-t.C:
			}
		}
		next = next.Add(interval)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.join(ctx, p)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return fmt.Errorf("loadgen: joining: %w", ctx.Err())
	}
	return nil
}

func (r *run) join(ctx context.Context, p *participant) {
	o := client.Options{
		URL: r.wsURL, Room: r.roomName(p.room), Name: p.name, Region: p.region,
		MaxHeight: r.cfg.MaxHeight,
		Logger:    r.log.With("participant", p.name),
	}
	if p.publisher {
		o.PublishAudio, o.PublishVideo = r.cfg.PublishAudio, r.cfg.PublishVideo
	} else if r.cfg.AudioOnlySubscribers {
		o.MaxHeight = client.Hidden
	}
	jctx, cancel := context.WithTimeout(ctx, r.cfg.JoinTimeout)
	defer cancel()
	p.joinStart = time.Now()
	c, err := client.Join(jctx, o)
	p.joinDur = time.Since(p.joinStart)
	if err != nil {
		p.err = err
		r.log.Warn("join failed", "participant", p.name, "err", err)
		return
	}
	p.c = c
	if p.measured {
		r.watchers.Add(1)
		go func() {
			defer r.watchers.Done()
			r.watchFirstMedia(p)
		}()
	}
}

// firstMediaPoll is how often a participant's counters are read until its
// first frame. The time itself comes from the packet's arrival stamp when
// the counters allow, so the poll interval bounds only the worst case.
const firstMediaPoll = 5 * time.Millisecond

// watchFirstMedia waits for p's first decodable video frame (a keyframe) or,
// for audio-only receivers, its first audio packet.
func (r *run) watchFirstMedia(p *participant) {
	t := time.NewTicker(firstMediaPoll)
	defer t.Stop()
	for {
		if at, ok := firstMedia(p.c.Received(), p.wantVideo); ok {
			p.firstMedia, p.gotMedia = at.Sub(p.joinStart), true
			return
		}
		select {
		case <-r.stopWatch:
			return
		case <-p.c.Done():
			return
		case <-t.C:
		}
	}
}

// firstMedia finds when the first frame arrived, if it has. A stream that has
// seen exactly one keyframe (or one audio packet) carries that packet's exact
// arrival time; otherwise now is the best bound the counters give.
func firstMedia(streams map[string]client.Stream, video bool) (time.Time, bool) {
	var first time.Time
	found := false
	now := time.Now()
	for _, s := range streams {
		var at time.Time
		switch {
		case video && s.Keyframes == 1:
			at = s.LastKeyframe
		case video && s.Keyframes > 1:
			at = now
		case !video && s.AudioPackets == 1:
			at = s.LastAudio
		case !video && s.AudioPackets > 1:
			at = now
		default:
			continue
		}
		if !found || at.Before(first) {
			first, found = at, true
		}
	}
	return first, found
}

// awaitPublishing waits (up to 10 s) until every joined publisher is sending,
// so that subscribers' time to first frame does not include a publisher's
// own connection setup.
func (r *run) awaitPublishing(ctx context.Context) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		waiting := 0
		for _, p := range r.pubs {
			if p.c == nil {
				continue
			}
			s := p.c.Sent()
			if s.AudioPackets == 0 && s.VideoPackets[0] == 0 {
				waiting++
			}
		}
		if waiting == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.log.Warn("some publishers are not sending yet; subscribers join anyway")
}

func (r *run) joined() []*participant {
	var out []*participant
	for _, p := range r.all() {
		if p.c != nil {
			out = append(out, p)
		}
	}
	return out
}

// all lists publishers then subscribers.
func (r *run) all() []*participant {
	return append(append([]*participant(nil), r.pubs...), r.subs...)
}

// closeAll makes everyone leave at once and waits for them.
func (r *run) closeAll() {
	var wg sync.WaitGroup
	for _, p := range r.all() {
		if p.c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.c.Close(); err != nil {
				r.log.Debug("close participant", "participant", p.name, "err", err)
			}
		}()
	}
	wg.Wait()
}

func receivedAll(ps []*participant) []map[string]client.Stream {
	out := make([]map[string]client.Stream, len(ps))
	for i, p := range ps {
		out[i] = p.c.Received()
	}
	return out
}

// pinger measures end-to-end round trips through the node: every interval
// one participant, in turn, pings a publisher of its room.
type pinger struct {
	cancel context.CancelFunc
	done   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	rtts   []float64 // ms
	fails  int
	// byNodes are the same round trips by the pair of nodes the two
	// participants are on, so that a cascade's relay hop can be told apart.
	byNodes map[nodePair][]float64
}

// nodePair names two nodes in order, so that a→b and b→a pings pool.
type nodePair struct{ a, b string }

func pairOf(x, y string) nodePair {
	if y < x {
		x, y = y, x
	}
	return nodePair{x, y}
}

func (r *run) startPings(ps []*participant) *pinger {
	ctx, cancel := context.WithCancel(context.Background())
	pg := &pinger{cancel: cancel, done: make(chan struct{}), byNodes: map[nodePair][]float64{}}
	if r.cfg.PingInterval == 0 {
		close(pg.done)
		return pg
	}
	byRoom := map[int][]*participant{}
	for _, p := range ps {
		if p.publisher {
			byRoom[p.room] = append(byRoom[p.room], p)
		}
	}
	go func() {
		defer close(pg.done)
		t := time.NewTicker(r.cfg.PingInterval)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			from := ps[i%len(ps)]
			pubs := byRoom[from.room]
			if len(pubs) == 0 {
				continue
			}
			// Spread the pongs over the room's publishers, so none of them
			// meets the node's signaling rate limit.
			to := pubs[(i/len(ps))%len(pubs)]
			if to == from {
				if len(pubs) == 1 {
					continue
				}
				to = pubs[(i/len(ps)+1)%len(pubs)]
			}
			pg.wg.Add(1)
			go func() {
				defer pg.wg.Done()
				pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				rtt, err := from.c.Ping(pctx, to.c.ID())
				pg.mu.Lock()
				defer pg.mu.Unlock()
				switch {
				case err == nil:
					ms := float64(rtt.Microseconds()) / 1000
					pg.rtts = append(pg.rtts, ms)
					k := pairOf(from.c.Node(), to.c.Node())
					pg.byNodes[k] = append(pg.byNodes[k], ms)
				case ctx.Err() == nil:
					pg.fails++
					r.log.Debug("ping failed", "from", from.name, "to", to.name, "err", err)
				}
			}()
		}
	}()
	return pg
}

// stop ends the pings and returns the round trips (ms), the same by pair of
// nodes, and the failures.
func (pg *pinger) stop() ([]float64, map[nodePair][]float64, int) {
	pg.cancel()
	<-pg.done
	pg.wg.Wait()
	pg.mu.Lock()
	defer pg.mu.Unlock()
	return pg.rtts, pg.byNodes, pg.fails
}

func firstOr(s []string, def string) string {
	if len(s) == 0 {
		return def
	}
	return s[0]
}
