package soak

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/internal/wait"
)

// Options are the settings of one soak run.
type Options struct {
	Exe      string        // the switchyard binary to run the nodes with
	Duration time.Duration // the churn phase
	// KillAt is when, into the churn phase, the last node is SIGKILLed;
	// 0 means half of Duration, a negative value no kill.
	KillAt time.Duration
	// Settle bounds the wait, after every client has gone, for the nodes
	// to be back to their baseline.
	Settle       time.Duration
	ChurnClients int    // churn participants at once
	Seed         uint64 // the random choices; 0 picks one
	Limits       Limits
	// DepartureSlack is added to every documented removal time.
	DepartureSlack time.Duration
	// WorkDir keeps the node configurations, logs and goroutine dumps;
	// "" uses a temporary directory, removed after a run that passed.
	WorkDir string
	Log     io.Writer // progress lines; nil discards them
}

// DefaultOptions are the command's defaults.
func DefaultOptions() Options {
	return Options{
		Duration:       time.Minute,
		Settle:         30 * time.Second,
		ChurnClients:   6,
		DepartureSlack: 4 * time.Second,
		Limits:         Limits{GoroutineSlack: 5, FDSlack: 2, Failover: 5 * time.Second},
	}
}

// abuseEvery is the pace of abuse rounds; every floodEvery-th round also
// floods a node with joins.
const (
	// quietAfterAbuse is how long after the last abuse the end figures
	// may be read: the longest timer garbage starts on a node is pion's
	// ICE-TCP mux keeping a connection made by a STUN request with an
	// unknown ufrag for 30 s (AliveDurationForConnFromStun), with its
	// goroutine.
	quietAfterAbuse = 32 * time.Second
	abuseEvery      = 3 * time.Second
	floodEvery      = 5
	floodJoins      = 12
	floodIdle       = 4
	baselineGap     = 500 * time.Millisecond
)

// run is the state of one soak.
type run struct {
	opts Options
	log  *slog.Logger
	dir  string
	// clientLog takes the participants' warnings (a renegotiation that
	// failed, an error from the node), into clients.log.
	clientLog *slog.Logger
	// steadyLog takes the steady participants' lines, pion's warnings
	// included, into steady.log.
	steadyLog *slog.Logger
	nodes     []*nodeProc
	steady    []*member
	book      *book
	track     *tracker
	abuse     *abuseBook
	start     time.Time // of the churn phase
	seq       atomic.Int64

	rngMu sync.Mutex
	rng   *rand.Rand

	churnMu  sync.Mutex
	churnRep ChurnReport

	mediaMu sync.Mutex
	media   MediaReport

	killMu       sync.Mutex
	killedAt     time.Time
	failoverDone time.Time

	lastAbuse atomic.Int64 // unix nanoseconds of the latest abuse round
}

func (r *run) intn(n int) int {
	r.rngMu.Lock()
	defer r.rngMu.Unlock()
	return r.rng.IntN(n)
}

func (r *run) float() float64 {
	r.rngMu.Lock()
	defer r.rngMu.Unlock()
	return r.rng.Float64()
}

// junk is n random bytes.
func (r *run) junk(n int) []byte {
	b := make([]byte, n)
	r.rngMu.Lock()
	defer r.rngMu.Unlock()
	for i := range b {
		b[i] = byte(r.rng.Uint32())
	}
	return b
}

func (r *run) shuffled(s []string) []string {
	out := append([]string(nil), s...)
	r.rngMu.Lock()
	defer r.rngMu.Unlock()
	r.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// liveNodes are the nodes that run and were not killed.
func (r *run) liveNodes() []*nodeProc {
	var out []*nodeProc
	for _, np := range r.nodes {
		if np.live() {
			out = append(out, np)
		}
	}
	return out
}

func (r *run) pickNode() *nodeProc {
	live := r.liveNodes()
	if len(live) == 0 {
		return nil
	}
	return live[r.intn(len(live))]
}

func (r *run) setKill(t time.Time) {
	r.killMu.Lock()
	r.killedAt = t
	r.killMu.Unlock()
}

func (r *run) setFailoverDone(t time.Time) {
	r.killMu.Lock()
	r.failoverDone = t
	r.killMu.Unlock()
}

// aroundKill says whether t falls between the kill and a few seconds after
// the failover ended: the steady media is not judged there.
func (r *run) aroundKill(t time.Time) bool {
	r.killMu.Lock()
	defer r.killMu.Unlock()
	if r.killedAt.IsZero() || t.Before(r.killedAt) {
		return false
	}
	return r.failoverDone.IsZero() || t.Before(r.failoverDone.Add(warmup))
}

// Run starts three cascaded nodes, runs the churn, abuse and the node kill
// for opts.Duration, lets everything settle and judges the result. The
// error is for a soak that could not run (nodes that did not start,
// steady participants that never got media); a run whose checks fail
// returns a report with OK false.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.Seed == 0 {
		opts.Seed = rand.Uint64()
	}
	if opts.KillAt == 0 {
		opts.KillAt = opts.Duration / 2
	}
	opts.Limits.Kill = opts.KillAt > 0
	dir, keep := opts.WorkDir, opts.WorkDir != ""
	if !keep {
		var err error
		if dir, err = os.MkdirTemp("", "switchyard-soak-"); err != nil {
			return nil, fmt.Errorf("soak: %w", err)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	r := &run{
		opts:  opts,
		log:   slog.New(slog.NewTextHandler(opts.Log, &slog.HandlerOptions{Level: slog.LevelInfo})),
		dir:   dir,
		rng:   rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x5eed)),
		abuse: newAbuseBook(),
		book:  newBook(opts.DepartureSlack),
	}
	r.track = newTracker(r.book)
	clientLog, err := os.Create(filepath.Join(dir, "clients.log"))
	if err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	defer clientLog.Close()
	r.clientLog = slog.New(slog.NewTextHandler(clientLog, &slog.HandlerOptions{Level: slog.LevelWarn}))
	steadyLog, err := os.Create(filepath.Join(dir, "steady.log"))
	if err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	defer steadyLog.Close()
	r.steadyLog = slog.New(slog.NewTextHandler(steadyLog, &slog.HandlerOptions{Level: slog.LevelInfo}))
	rep, err := r.soak(ctx)
	if rep != nil {
		rep.Seed = opts.Seed
		if !rep.OK || keep {
			rep.WorkDir = dir
		}
	}
	if !keep && (err == nil && rep != nil && rep.OK) {
		_ = os.RemoveAll(dir)
	} else {
		r.log.Info("node configurations and logs kept", "dir", dir)
	}
	return rep, err
}

func (r *run) soak(ctx context.Context) (*Report, error) {
	rep := &Report{Started: time.Now()}
	r.log.Info("starting nodes", "exe", r.opts.Exe, "dir", r.dir, "seed", r.opts.Seed)
	nodes, err := startNodes(ctx, r.opts.Exe, r.dir, defaultNodes)
	if err != nil {
		return nil, err
	}
	r.nodes = nodes
	defer stopNodes(nodes) // a no-op once they are stopped

	base, err := r.baseline(ctx)
	if err != nil {
		return nil, err
	}
	startDumps := r.dumps(ctx, "start")

	tctx, stopTrack := context.WithCancel(ctx)
	defer stopTrack()
	go r.track.run(tctx)

	if err := r.joinSteady(ctx); err != nil {
		r.closeSteady()
		return nil, err
	}
	if ok, why := r.awaitSteady(ctx, 30*time.Second); !ok {
		r.closeSteady()
		return nil, fmt.Errorf("soak: steady participants do not receive each other: %s", why)
	}
	r.media.Steady = len(r.steady)
	r.log.Info("steady participants connected", "participants", len(r.steady))

	// The churn phase: churn, abuse, the kill and the monitor together.
	r.start = time.Now()
	until := r.start.Add(r.opts.Duration)
	mctx, stopMonitor := context.WithCancel(ctx)
	defer stopMonitor()
	go r.monitor(mctx, r.aroundKill)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.churn(ctx, until) }()
	go func() { defer wg.Done(); r.abuseLoop(ctx, until) }()
	if r.opts.KillAt > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !wait.Sleep(ctx, r.opts.KillAt) {
				return
			}
			victim := nodes[len(nodes)-1]
			rep.Failover = r.killAndFailover(ctx, victim)
		}()
	}
	go r.progress(mctx)
	wg.Wait()
	rep.DurationSec = r.opts.Duration.Seconds()
	rep.PhaseSec = round(time.Since(r.start).Seconds(), 1)
	if ctx.Err() != nil {
		r.closeSteady()
		return nil, fmt.Errorf("soak: interrupted: %w", ctx.Err())
	}

	// The end: media must still flow, then everyone leaves and the nodes
	// must come back to where they started.
	ok, why := r.awaitSteady(ctx, 10*time.Second)
	stopMonitor()
	if !ok {
		r.saveSnapshots(ctx, "media-end")
	}
	r.mediaMu.Lock()
	r.media.FlowingAtEnd, r.media.EndDetail = ok, why
	rep.Media = r.media
	r.mediaMu.Unlock()
	r.closeSteady()
	r.log.Info("churn over; waiting for departures in flight", "in_flight", r.track.inFlight())
	r.track.drain(ctx, 30*time.Second)
	stopTrack()

	settleStart := time.Now()
	end := r.settle(ctx, base, time.Unix(0, r.lastAbuse.Load()).Add(quietAfterAbuse))
	rep.SettleSec = round(time.Since(settleStart).Seconds(), 1)

	for i, np := range nodes {
		nr := NodeReport{ID: np.id, Region: np.region, PID: np.pid(), Killed: np.killed.Load(), Start: base[i].fig}
		if e, ok := end[np]; ok {
			fig := e.fig
			nr.End = &fig
			nr.Residual = e.residual
			nr.Counters = counterGrowth(base[i].counters, e.counters)
			if d, err := np.dumpGoroutines(ctx, filepath.Join(r.dir, np.id+"-goroutines-end.txt")); err == nil {
				nr.GoroutineGrowth = firstGrowth(stackGrowth(startDumps[np], d), 10)
			}
		}
		if np.exited() && !np.killed.Load() {
			nr.Unexpected = true
		}
		rep.Nodes = append(rep.Nodes, nr)
	}
	r.judgeRelayCounted(rep)
	stopNodes(nodes)
	for i, np := range nodes {
		rep.Nodes[i].Exit = np.stop(0)
		rep.Nodes[i].Panics, rep.Nodes[i].LogErrors = np.logTrouble()
	}
	rep.Departures = r.book.list()
	rep.Abuse = r.abuse.list()
	r.churnMu.Lock()
	rep.Churn = r.churnRep
	r.churnMu.Unlock()
	rep.Checks = Evaluate(rep, r.opts.Limits)
	rep.OK = allOK(rep.Checks)
	return rep, nil
}

// baseline reads every node three times before anyone joins and keeps, per
// node, the reading with the median goroutine count.
func (r *run) baseline(ctx context.Context) ([]reading, error) {
	out := make([]reading, len(r.nodes))
	for i, np := range r.nodes {
		var rs []reading
		for range 3 {
			time.Sleep(baselineGap)
			rd, err := np.read(ctx)
			if err != nil {
				return nil, fmt.Errorf("soak: baseline of %s: %w", np.id, err)
			}
			rs = append(rs, rd)
		}
		sort.Slice(rs, func(a, b int) bool { return rs[a].fig.Goroutines < rs[b].fig.Goroutines })
		out[i] = rs[1]
		r.log.Info("baseline", "node", np.id, "goroutines", out[i].fig.Goroutines, "fds", out[i].fig.FDs,
			"heap_mb", out[i].fig.HeapInUseMB)
	}
	return out, nil
}

// dumps saves every live node's goroutine profile under the given label.
func (r *run) dumps(ctx context.Context, label string) map[*nodeProc]map[string]int {
	out := map[*nodeProc]map[string]int{}
	for _, np := range r.liveNodes() {
		d, err := np.dumpGoroutines(ctx, filepath.Join(r.dir, np.id+"-goroutines-"+label+".txt"))
		if err != nil {
			r.log.Warn("goroutine dump", "node", np.id, "err", err)
			continue
		}
		out[np] = d
	}
	return out
}

// saveSnapshots writes every live node's snapshot into the work directory,
// as evidence of what it forwarded to whom.
func (r *run) saveSnapshots(ctx context.Context, label string) {
	for _, np := range r.liveNodes() {
		body, err := get(ctx, np.base+"/api/v1/snapshot")
		if err != nil {
			continue
		}
		data, err := io.ReadAll(body)
		_ = body.Close()
		if err == nil {
			_ = os.WriteFile(filepath.Join(r.dir, np.id+"-snapshot-"+label+".json"), data, 0o644)
		}
	}
}

// settle reads the surviving nodes every second until each is back to its
// baseline and holds nothing, but not before earliest (when every timer the
// run started on the nodes has run out); it gives up opts.Settle after
// earliest, and returns the last readings.
func (r *run) settle(ctx context.Context, base []reading, earliest time.Time) map[*nodeProc]reading {
	deadline := later(time.Now(), earliest).Add(r.opts.Settle)
	last := map[*nodeProc]reading{}
	lim := r.opts.Limits
	for {
		settled := !time.Now().Before(earliest)
		for i, np := range r.nodes {
			if !np.live() {
				continue
			}
			rd, err := np.read(ctx)
			if err != nil {
				settled = false
				continue
			}
			last[np] = rd
			f, b := rd.fig, base[i].fig
			if f.Participants != 0 || f.Rooms != 0 || f.Listed != 0 || len(rd.residual) > 0 ||
				f.Goroutines-b.Goroutines > lim.GoroutineSlack || f.FDs-b.FDs > lim.FDSlack {
				settled = false
			}
		}
		if settled || time.Now().After(deadline) || ctx.Err() != nil {
			return last
		}
		time.Sleep(time.Second)
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// abuseLoop sends a round of signaling, media and relay abuse to one live
// node after another until until; every few rounds a join flood too.
func (r *run) abuseLoop(ctx context.Context, until time.Time) {
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(abuseEvery)
	defer tick.Stop()
	for round := 0; time.Now().Add(abuseEvery).Before(until); round++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		live := r.liveNodes()
		if len(live) == 0 {
			return
		}
		r.lastAbuse.Store(time.Now().UnixNano())
		np := live[round%len(live)]
		var peers []*nodeProc
		for _, o := range live {
			if o != np {
				peers = append(peers, o)
			}
		}
		wg.Add(3)
		go func() { defer wg.Done(); r.signalingRound(ctx, np) }()
		go func() { defer wg.Done(); r.mediaRound(ctx, np) }()
		go func() { defer wg.Done(); r.relayRound(np, peers) }()
		if round%floodEvery == 0 {
			wg.Add(1)
			go func() { defer wg.Done(); r.joinFlood(ctx, np, floodJoins, floodIdle) }()
		}
	}
}

// judgeRelayCounted checks that every surviving node counted the forged
// relay datagrams it was sent as authentication failures.
func (r *run) judgeRelayCounted(rep *Report) {
	for _, nr := range rep.Nodes {
		if nr.Killed || nr.End == nil {
			continue
		}
		n := nr.Counters["relay drops: authentication"]
		r.abuse.judged(AbuseRelayForged, n > 0, fmt.Sprintf("%s counted no relay authentication failure", nr.ID))
	}
}

// progress logs a line every ten seconds of the churn phase.
func (r *run) progress(ctx context.Context) {
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		r.churnMu.Lock()
		started, joined := r.churnRep.Started, r.churnRep.Joined
		r.churnMu.Unlock()
		r.log.Info("soak", "sec", int(time.Since(r.start).Seconds()), "churn_started", started, "churn_joined", joined,
			"departures_in_flight", r.track.inFlight(), "live_nodes", len(r.liveNodes()))
	}
}

func firstGrowth(g []StackGrowth, n int) []StackGrowth {
	if len(g) > n {
		return g[:n]
	}
	return g
}
