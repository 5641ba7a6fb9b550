// Package node owns conferences: their members, WebSocket signaling,
// the JSON API and metrics. Media moves through package media.
package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/ice/v4"

	"github.com/switchyard/switchyard/cascade/peering"
	"github.com/switchyard/switchyard/certs"
	"github.com/switchyard/switchyard/internal/dtlsfilter"
	"github.com/switchyard/switchyard/internal/ratelog"
	"github.com/switchyard/switchyard/internal/udpbatch"
	"github.com/switchyard/switchyard/node/addrlimit"
	"github.com/switchyard/switchyard/node/signal"
	"github.com/switchyard/switchyard/turn"
)

// Node is one Switchyard conference node.
type Node struct {
	cfg     Config
	allowed []netip.Prefix
	log     *slog.Logger
	// netLog is for lines that traffic from the network can trigger at
	// will: rate-limited per message, the rest counted.
	netLog  *slog.Logger
	started time.Time
	metrics *metrics

	udpConn *net.UDPConn
	batch   *udpbatch.Conn // nil unless cfg.BatchWrites
	udpMux  ice.UDPMux
	tcpMux  ice.TCPMux   // nil when ICE over TCP is off
	tcpLn   net.Listener // the media TCP port
	// mediaConn is the media port as pion reads it, forged DTLS filtered out.
	mediaConn *dtlsfilter.Conn
	httpLn    net.Listener
	servers   []*http.Server // the HTTP(S) listener, and the admin and redirect ones when set
	closers   []io.Closer    // sockets and servers to close at stop, last opened first
	certs     *certs.Manager // nil without TLS
	turn      *turn.Server   // nil without TURN

	mu       sync.Mutex // guards confs, count, pending, draining, and each Conference's refs and counted
	confs    map[string]*Conference
	count    int // participants on the node past their first offer
	pending  int // participants that joined and have not sent their offer
	draining bool
	nextID   atomic.Uint64

	peers *peering.Peering // the cascade; nil when the node runs alone
	addrs *addrlimit.Limiter

	cpuPercent atomic.Uint64 // float64 bits
	wg         sync.WaitGroup
	closeOnce  sync.Once
	done       chan struct{}
}

// New checks the configuration and prepares a node; Start opens its sockets.
func New(cfg Config, logger *slog.Logger) (*Node, error) {
	allowed, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	if cfg.ID == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "node"
		}
		cfg.ID = host
	}
	n := &Node{
		cfg:     cfg,
		allowed: allowed,
		log:     logger,
		netLog:  slog.New(ratelog.NewHandler(logger.Handler(), ratelog.New[string](nil, 0, 0))),
		confs:   make(map[string]*Conference),
		metrics: newMetrics(),
		done:    make(chan struct{}),
	}
	n.addrs = addrlimit.New(addrlimit.Config{
		Conns:    cfg.ConnsPerAddress,
		JoinRate: cfg.JoinRate, JoinBurst: cfg.JoinBurst,
		Exempt: func(a netip.Addr) bool { return !cfg.LimitLoopback && a.IsLoopback() },
	}, nil)
	n.registerCounters()
	return n, nil
}

// Config returns the configuration the node runs with.
func (n *Node) Config() Config { return n.cfg }

// ID is the node id.
func (n *Node) ID() string { return n.cfg.ID }

// Close removes every participant, leaves the cascade and stops the node.
func (n *Node) Close() error { return n.stop(true) }

// stop shuts the node down; graceful false leaves the cascade without a
// word, as a node that dies would (for tests of failure).
func (n *Node) stop(graceful bool) error {
	n.closeOnce.Do(func() {
		close(n.done)
		n.mu.Lock()
		var all []*Participant
		var confs []*Conference
		for _, c := range n.confs {
			all = append(all, c.locals()...)
			confs = append(confs, c)
		}
		n.mu.Unlock()
		// Recordings first, while their tracks still flow: every file is
		// closed and valid when the node has stopped.
		for _, c := range confs {
			if c.recording() {
				_ = c.stopRecording("node shutting down", nil)
			}
		}
		if !graceful && n.peers != nil {
			n.peers.Close(false)
		}
		for _, p := range all {
			p.remove("node shutting down")
		}
		if n.peers != nil {
			n.peers.Close(true)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, srv := range n.servers {
			_ = srv.Shutdown(ctx)
		}
		n.closeAll()
		n.wg.Wait()
		n.log.Info("node stopped")
	})
	return nil
}

// errJoin is a join refusal with the code sent to the client.
type errJoin struct{ code, reason string }

func (e *errJoin) Error() string { return e.reason }

// admit reserves a pending place for a participant in room, creating the
// room if needed. The room cannot disappear while the place is held: it is
// dropped only when its last admission is released. A pending participant
// counts against MaxPending only; promote moves it to the room's and the
// node's counts once it sends its offer.
func (n *Node) admit(room string) (*Conference, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.draining {
		return nil, &errJoin{signal.CodeDraining, "this node is draining and takes no new participants"}
	}
	if n.count >= n.cfg.MaxParticipants {
		return nil, &errJoin{signal.CodeNodeFull, fmt.Sprintf("node full (%d participants)", n.cfg.MaxParticipants)}
	}
	if n.pending >= n.cfg.MaxPending {
		return nil, &errJoin{signal.CodeNodeFull, fmt.Sprintf("node busy (%d participants still negotiating)", n.cfg.MaxPending)}
	}
	r, ok := n.confs[room]
	if !ok || r.counted == 0 {
		if n.liveRoomsLocked() >= n.cfg.MaxRooms {
			return nil, &errJoin{signal.CodeNodeFull, fmt.Sprintf("node full (%d rooms)", n.cfg.MaxRooms)}
		}
	}
	if !ok {
		r = newConference(n, room)
		n.confs[room] = r
		n.metrics.conferences.Set(float64(len(n.confs)))
	}
	if r.counted >= n.cfg.MaxRoomSize {
		return nil, &errJoin{signal.CodeRoomFull, fmt.Sprintf("room %q is full (%d participants)", room, n.cfg.MaxRoomSize)}
	}
	r.refs++
	n.pending++
	return r, nil
}

// promote counts a pending participant of r as present, once its offer
// arrived; the limits are checked again, as others may have been promoted
// since its admission. It reports whether it counted the participant.
func (n *Node) promote(r *Conference, counted *bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if *counted {
		return nil
	}
	if n.count >= n.cfg.MaxParticipants {
		return &errJoin{signal.CodeNodeFull, fmt.Sprintf("node full (%d participants)", n.cfg.MaxParticipants)}
	}
	if r.counted >= n.cfg.MaxRoomSize {
		return &errJoin{signal.CodeRoomFull, fmt.Sprintf("room %q is full (%d participants)", r.name, n.cfg.MaxRoomSize)}
	}
	*counted = true
	n.pending--
	n.count++
	r.counted++
	n.metrics.participants.Set(float64(n.count))
	return nil
}

// release gives back a participant's place (counted says whether promote
// counted it) and drops the room when nobody holds a place in it.
func (n *Node) release(r *Conference, counted *bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if *counted {
		*counted = false
		n.count--
		r.counted--
		n.metrics.participants.Set(float64(n.count))
	} else {
		n.pending--
	}
	r.refs--
	if r.refs == 0 && n.confs[r.name] == r {
		delete(n.confs, r.name)
		n.metrics.conferences.Set(float64(len(n.confs)))
		if r.recording() {
			go func() { _ = r.stopRecording("the conference ended", nil) }()
		}
		if n.peers != nil {
			n.peers.DropConference(r.name)
		}
	}
}

// liveRoomsLocked counts rooms with at least one participant past its
// offer; rooms held only by pending participants are bounded by MaxPending.
// Called with mu held.
func (n *Node) liveRoomsLocked() int {
	live := 0
	for _, r := range n.confs {
		if r.counted > 0 {
			live++
		}
	}
	return live
}

// newParticipantID names a participant. In a cascade the node's id comes
// first, so that ids are unique across nodes and a peer cannot claim
// another node's participants.
func (n *Node) newParticipantID() string {
	id := "p" + strconv.FormatUint(n.nextID.Add(1), 10)
	if n.cfg.Cascade.Enabled {
		id = n.cfg.ID + "-" + id
	}
	return id
}

func (n *Node) isDraining() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.draining
}

// cpuFraction is the process's CPU use over all cores, 0..1.
func (n *Node) cpuFraction() float64 {
	return math.Float64frombits(n.cpuPercent.Load()) / 100 / float64(max(runtime.NumCPU(), 1))
}

// signalURL is the base URL clients reach this node at.
func (n *Node) signalURL() string {
	if n.cfg.Cascade.SignalURL != "" {
		return n.cfg.Cascade.SignalURL
	}
	return n.URL()
}

// GossipAddr is the cascade's membership address (to list in other nodes'
// join), "" without a cascade.
func (n *Node) GossipAddr() string {
	if n.peers == nil {
		return ""
	}
	return n.peers.GossipAddr().String()
}

func (n *Node) conferenceList() []*Conference {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]*Conference, 0, len(n.confs))
	for _, r := range n.confs {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func (n *Node) conference(name string) (*Conference, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r, ok := n.confs[name]
	return r, ok
}

// tick drives everything periodic: dominant speaker decisions, layer
// allocation, rates and CPU.
func (n *Node) tick(ctx context.Context) {
	const period = 250 * time.Millisecond
	t := time.NewTicker(period)
	defer t.Stop()
	var i int
	var lastCPU time.Duration
	lastWall := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.done:
			return
		case now := <-t.C:
			i++
			confs := n.conferenceList()
			for _, c := range confs {
				c.decideSpeaker(now)
			}
			if i%2 == 0 {
				for _, c := range confs {
					for _, p := range c.locals() {
						p.allocate()
					}
					if n.peers != nil {
						n.peers.SetWants(c.name, c.wants())
					}
				}
			}
			if i%40 == 0 {
				n.addrs.Sweep()
			}
			if i%4 == 0 {
				secs := now.Sub(lastWall).Seconds()
				cpu := processCPU()
				n.cpuPercent.Store(math.Float64bits(100 * (cpu - lastCPU).Seconds() / secs))
				lastCPU, lastWall = cpu, now
				for _, c := range confs {
					for _, p := range c.locals() {
						p.tickRates(secs)
					}
					c.noticeRecording("")
				}
			}
		}
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		slog.Debug("write json", "err", err)
	}
}
