// Package node owns conferences: rooms, participants, WebSocket signaling,
// the JSON API and metrics. Media moves through package media.
package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/switchyard/switchyard/internal/udpbatch"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
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
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/node/signal"
	"github.com/switchyard/switchyard/node/web"
)

// Node is one Switchyard conference node.
type Node struct {
	cfg     Config
	allowed []netip.Prefix
	log     *slog.Logger
	started time.Time
	metrics *metrics

	udpConn *net.UDPConn
	batch   *udpbatch.Conn // nil unless cfg.BatchWrites
	udpMux  ice.UDPMux
	httpLn  net.Listener
	http    *http.Server

	mu       sync.Mutex // guards rooms, count, draining
	rooms    map[string]*Room
	count    int // participants on the node
	draining bool
	nextID   atomic.Uint64

	cluster *cluster // nil when the node runs alone

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
		rooms:   make(map[string]*Room),
		metrics: newMetrics(),
		done:    make(chan struct{}),
	}
	n.registerCounters()
	return n, nil
}

// Config returns the configuration the node runs with.
func (n *Node) Config() Config { return n.cfg }

// Start opens the media UDP port and the HTTP listener and serves until ctx
// ends or Close is called.
func (n *Node) Start(ctx context.Context) error {
	udpAddr := &net.UDPAddr{IP: net.ParseIP(n.cfg.MediaIP), Port: n.cfg.MediaPort}
	conn, err := net.ListenUDP("udp", udpAddr)
	if err != nil {
		return fmt.Errorf("node: media port %s: %w", udpAddr, err)
	}
	n.udpConn = conn
	var pc net.PacketConn = conn
	if n.cfg.BatchWrites {
		bc, err := udpbatch.New(conn, udpbatch.WithLogger(n.log.With("part", "udpbatch")))
		if err != nil {
			_ = conn.Close()
			return fmt.Errorf("node: media port %s: %w", udpAddr, err)
		}
		n.batch, pc = bc, bc
	}
	n.udpMux = webrtc.NewICEUDPMux(nil, pc)
	ln, err := net.Listen("tcp", n.cfg.HTTPAddr)
	if err != nil {
		_ = n.udpMux.Close()
		return fmt.Errorf("node: http %s: %w", n.cfg.HTTPAddr, err)
	}
	n.httpLn = ln
	n.started = time.Now()
	if n.cfg.Cascade.Enabled {
		c, err := startCluster(n)
		if err != nil {
			_ = ln.Close()
			_ = n.udpMux.Close()
			return err
		}
		n.cluster = c
	}
	n.http = &http.Server{Handler: n.routes(), ReadHeaderTimeout: 10 * time.Second}
	n.wg.Add(2)
	go func() {
		defer n.wg.Done()
		if err := n.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("http server stopped", "err", err)
		}
	}()
	go func() {
		defer n.wg.Done()
		n.tick(ctx)
	}()
	go func() {
		select {
		case <-ctx.Done():
			_ = n.Close()
		case <-n.done:
		}
	}()
	n.log.Info("node started", "id", n.cfg.ID, "region", n.cfg.Region,
		"http", "http://"+ln.Addr().String(), "media_udp", conn.LocalAddr().String())
	return nil
}

// URL is the node's HTTP base URL.
func (n *Node) URL() string { return "http://" + n.httpLn.Addr().String() }

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
		for _, r := range n.rooms {
			all = append(all, r.members()...)
		}
		n.mu.Unlock()
		if !graceful && n.cluster != nil {
			n.cluster.close(false)
		}
		for _, p := range all {
			p.remove("node shutting down")
		}
		if n.cluster != nil {
			n.cluster.close(true)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if n.http != nil {
			_ = n.http.Shutdown(ctx)
		}
		if n.udpMux != nil {
			_ = n.udpMux.Close()
		}
		n.wg.Wait()
		n.log.Info("node stopped")
	})
	return nil
}

func (n *Node) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", n.serveWS)
	mux.HandleFunc("GET /api/v1/node", func(w http.ResponseWriter, r *http.Request) {
		s := n.Snapshot()
		writeJSON(w, s.Node)
	})
	mux.HandleFunc("GET /api/v1/conferences", func(w http.ResponseWriter, r *http.Request) {
		s := n.Snapshot()
		writeJSON(w, s.Conferences)
	})
	mux.HandleFunc("GET /api/v1/snapshot", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, n.Snapshot())
	})
	mux.Handle("GET /metrics", n.metrics.handler())
	if n.cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.Handle("/", web.Handler())
	return mux
}

// errJoin is a join refusal with the code sent to the client.
type errJoin struct{ code, reason string }

func (e *errJoin) Error() string { return e.reason }

// admit reserves a place for a participant in room, creating the room if needed.
func (n *Node) admit(room string) (*Room, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.draining {
		return nil, &errJoin{signal.CodeDraining, "this node is draining and takes no new participants"}
	}
	if n.count >= n.cfg.MaxParticipants {
		return nil, &errJoin{signal.CodeNodeFull, fmt.Sprintf("node full (%d participants)", n.cfg.MaxParticipants)}
	}
	r, ok := n.rooms[room]
	if !ok {
		if len(n.rooms) >= n.cfg.MaxRooms {
			return nil, &errJoin{signal.CodeNodeFull, fmt.Sprintf("node full (%d rooms)", n.cfg.MaxRooms)}
		}
		r = newRoom(n, room)
		n.rooms[room] = r
		n.metrics.conferences.Set(float64(len(n.rooms)))
	}
	if r.size() >= n.cfg.MaxRoomSize {
		return nil, &errJoin{signal.CodeRoomFull, fmt.Sprintf("room %q is full (%d participants)", room, n.cfg.MaxRoomSize)}
	}
	n.count++
	n.metrics.participants.Set(float64(n.count))
	return r, nil
}

// release gives back a participant's place and drops the room when empty.
func (n *Node) release(r *Room) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.count--
	n.metrics.participants.Set(float64(n.count))
	if r.size() == 0 && n.rooms[r.name] == r {
		delete(n.rooms, r.name)
		n.metrics.conferences.Set(float64(len(n.rooms)))
		go r.dropRemotes()
	}
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
	return "http://" + n.httpLn.Addr().String()
}

// GossipAddr is the cascade's membership address (to list in other nodes'
// join), "" without a cascade.
func (n *Node) GossipAddr() string {
	if n.cluster == nil {
		return ""
	}
	return n.cluster.ml.Addr().String()
}

func (n *Node) roomList() []*Room {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]*Room, 0, len(n.rooms))
	for _, r := range n.rooms {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func (n *Node) room(name string) (*Room, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r, ok := n.rooms[name]
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
			rooms := n.roomList()
			for _, r := range rooms {
				r.decideSpeaker(now)
			}
			if i%2 == 0 {
				for _, r := range rooms {
					for _, p := range r.members() {
						p.allocate()
					}
					if n.cluster != nil && r.wantsChanged() {
						n.cluster.kickState()
					}
				}
			}
			if i%4 == 0 {
				secs := now.Sub(lastWall).Seconds()
				cpu := processCPU()
				n.cpuPercent.Store(math.Float64bits(100 * (cpu - lastCPU).Seconds() / secs))
				lastCPU, lastWall = cpu, now
				for _, r := range rooms {
					for _, p := range r.members() {
						p.tickRates(secs)
					}
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
