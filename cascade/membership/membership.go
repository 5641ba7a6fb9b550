package membership

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// DefaultPort is the gossip port (memberlist's own default).
const DefaultPort = 7946

// Config configures a node's membership.
type Config struct {
	// Name identifies the node in the cluster; it must be unique.
	Name string
	Meta Meta
	// Secret is the cluster secret; the gossip key is derived from it.
	Secret []byte

	// BindAddr and BindPort are the gossip socket (UDP and TCP); port 0
	// picks a free one. AdvertiseAddr is what others use to reach this node
	// when it differs from BindAddr.
	BindAddr      string
	BindPort      int
	AdvertiseAddr string
	AdvertisePort int

	// Join lists "host:port" of nodes to join; unreachable ones are retried
	// every RejoinInterval while this node is alone.
	Join           []string
	RejoinInterval time.Duration

	// Failure detection. Zero values take the defaults below, which notice
	// a dead node in about 3.5 s: up to one ProbeInterval until it is
	// probed, ProbeTimeout plus indirect probes, then SuspicionMult
	// ProbeIntervals of suspicion (for clusters under ten nodes).
	ProbeInterval time.Duration // default 1s
	ProbeTimeout  time.Duration // default 500ms; must exceed the longest RTT between nodes
	SuspicionMult int           // default 2

	Logger *slog.Logger
	// OnChange is called for every join, update and leave, in order, from
	// one goroutine. It may call Members.
	OnChange func(Event)
}

// Member is one node as gossiped.
type Member struct {
	Name string
	Addr netip.AddrPort // gossip address
	Meta Meta
	// Suspect is true while the member does not answer this node's direct
	// pings: it may be dead and not yet declared so (see probe.go).
	Suspect bool
}

// EventKind says what happened to a member.
type EventKind uint8

// Event kinds.
const (
	Joined EventKind = iota + 1
	Updated
	Left // left gracefully
	Failed
)

func (k EventKind) String() string {
	switch k {
	case Joined:
		return "joined"
	case Updated:
		return "updated"
	case Left:
		return "left"
	case Failed:
		return "failed"
	}
	return "unknown"
}

// Event is a change to the member list.
type Event struct {
	Kind   EventKind
	Member Member
}

// Membership is this node's view of the cluster.
type Membership struct {
	cfg  Config
	log  *slog.Logger
	list *memberlist.Memberlist
	addr netip.AddrPort // gossip address, fixed at start

	mu   sync.Mutex
	meta Meta   // guarded by mu
	enc  []byte // meta encoded, guarded by mu

	// view is built from memberlist's callbacks, which run under its lock:
	// the *Node values memberlist.Members returns are mutated in place later,
	// so reading them after the call would race.
	vmu     sync.RWMutex
	view    map[string]Member // guarded by vmu
	suspect map[string]bool   // members failing direct pings; guarded by vmu

	events  chan struct{} // wakes the dispatcher
	qmu     sync.Mutex
	queue   []Event // guarded by qmu
	updates chan struct{}
	done    chan struct{}
	wg      sync.WaitGroup
	stop    sync.Once
}

// DeriveGossipKey returns the 32-byte memberlist key (AES-256-GCM) for a
// cluster secret.
func DeriveGossipKey(secret []byte) ([]byte, error) {
	key, err := hkdf.Key(sha256.New, secret, []byte("switchyard gossip v1"), "memberlist keyring", 32)
	if err != nil {
		return nil, fmt.Errorf("membership: derive gossip key: %w", err)
	}
	return key, nil
}

// Start creates the node's membership and starts joining cfg.Join in the
// background; it does not wait for any other node to be up.
func Start(cfg Config) (*Membership, error) {
	if cfg.Name == "" {
		return nil, errors.New("membership: no node name")
	}
	if len(cfg.Secret) < 16 {
		return nil, errors.New("membership: cluster secret shorter than 16 bytes")
	}
	if err := checkMetaSize(&cfg.Meta); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Logger = cfg.Logger.With("node", cfg.Name)
	if cfg.RejoinInterval <= 0 {
		cfg.RejoinInterval = 5 * time.Second
	}
	cfg.ProbeInterval = cmpOr(cfg.ProbeInterval, time.Second)
	cfg.ProbeTimeout = cmpOr(cfg.ProbeTimeout, 500*time.Millisecond)
	cfg.SuspicionMult = cmpOr(cfg.SuspicionMult, 2)
	key, err := DeriveGossipKey(cfg.Secret)
	if err != nil {
		return nil, err
	}
	keyring, err := memberlist.NewKeyring(nil, key)
	if err != nil {
		return nil, fmt.Errorf("membership: keyring: %w", err)
	}

	m := &Membership{
		cfg:     cfg,
		log:     cfg.Logger,
		meta:    cfg.Meta,
		enc:     appendMeta(nil, &cfg.Meta),
		view:    make(map[string]Member),
		suspect: make(map[string]bool),
		events:  make(chan struct{}, 1),
		updates: make(chan struct{}, 1),
		done:    make(chan struct{}),
	}

	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Name
	mc.BindAddr = cmpOr(cfg.BindAddr, "0.0.0.0")
	mc.BindPort = cfg.BindPort
	mc.AdvertiseAddr = cfg.AdvertiseAddr
	mc.AdvertisePort = cfg.AdvertisePort
	if mc.AdvertisePort == 0 {
		mc.AdvertisePort = cfg.BindPort
	}
	mc.Keyring = keyring
	mc.GossipVerifyIncoming = true
	mc.GossipVerifyOutgoing = true
	mc.ProbeInterval = cfg.ProbeInterval
	mc.ProbeTimeout = cfg.ProbeTimeout
	mc.SuspicionMult = cfg.SuspicionMult
	// Stop gossiping about a dead node soon: nodes here are few and a dead
	// one is replaced rather than waited for.
	mc.GossipToTheDeadTime = 5 * time.Second
	// Lets a node that restarts at a new address take its name back.
	mc.DeadNodeReclaimTime = 5 * time.Second
	mc.Delegate = delegate{m}
	mc.Events = events{m}
	mc.Logger = newStdLogger(cfg.Logger)

	list, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("membership: start %s: %w", cfg.Name, err)
	}
	m.list = list
	local := list.LocalNode()
	m.addr = addrPort(local.Addr, local.Port)
	m.wg.Add(3)
	go m.dispatch()
	go m.refresh()
	go m.probe()

	if len(cfg.Join) > 0 {
		if _, err := m.Join(cfg.Join); err != nil {
			m.log.Warn("membership: join failed; retrying while alone", "join", cfg.Join, "err", err)
		}
		m.wg.Add(1)
		go m.rejoin()
	}
	return m, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Join contacts the given nodes, returning how many answered.
func (m *Membership) Join(addrs []string) (int, error) {
	n, err := m.list.Join(addrs)
	if err != nil {
		return n, fmt.Errorf("membership: join %v: %w", addrs, err)
	}
	return n, nil
}

func (m *Membership) rejoin() {
	defer m.wg.Done()
	t := time.NewTicker(m.cfg.RejoinInterval)
	defer t.Stop()
	for {
		select {
		case <-m.done:
			return
		case <-t.C:
		}
		if m.list.NumMembers() > 1 {
			continue
		}
		if _, err := m.Join(m.cfg.Join); err != nil {
			m.log.Debug("membership: rejoin", "err", err)
		}
	}
}

// Addr returns the gossip address others join. It is read once at start:
// memberlist rewrites its local node on every metadata update.
func (m *Membership) Addr() netip.AddrPort { return m.addr }

func addrPort(ip net.IP, port uint16) netip.AddrPort {
	a, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(a.Unmap(), port)
}

// Local returns this node as the others see it.
func (m *Membership) Local() Member {
	m.mu.Lock()
	meta := m.meta
	m.mu.Unlock()
	return Member{Name: m.cfg.Name, Addr: m.Addr(), Meta: meta}
}

// Members returns every node not declared dead or gone, this one included,
// sorted by name; those not answering pings have Suspect set. Nodes whose
// metadata cannot be read are left out.
func (m *Membership) Members() []Member {
	m.vmu.RLock()
	out := make([]Member, 0, len(m.view))
	for _, mb := range m.view {
		mb.Suspect = m.suspect[mb.Name]
		out = append(out, mb)
	}
	m.vmu.RUnlock()
	slices.SortFunc(out, func(a, b Member) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

func (m *Membership) member(n *memberlist.Node) (Member, error) {
	meta, err := parseMeta(n.Meta)
	if err != nil {
		return Member{}, fmt.Errorf("membership: member %s: %w", n.Name, err)
	}
	return Member{Name: n.Name, Addr: addrPort(n.Addr, n.Port), Meta: meta}, nil
}

// SetLoad publishes this node's load. It returns at once; the update is
// gossiped in the background, coalesced with later ones.
func (m *Membership) SetLoad(l Load) {
	m.mu.Lock()
	if m.meta.Load == l {
		m.mu.Unlock()
		return
	}
	m.meta.Load = l
	m.enc = appendMeta(m.enc[:0], &m.meta)
	m.mu.Unlock()
	select {
	case m.updates <- struct{}{}:
	default:
	}
}

// SetDraining marks the node as draining (or not) without touching the
// rest of its load.
func (m *Membership) SetDraining(d bool) {
	m.mu.Lock()
	l := m.meta.Load
	m.mu.Unlock()
	l.Draining = d
	m.SetLoad(l)
}

func (m *Membership) refresh() {
	defer m.wg.Done()
	for {
		select {
		case <-m.done:
			return
		case <-m.updates:
		}
		// UpdateNode waits until the change has been gossiped; the timeout
		// only bounds that wait, the update itself stands.
		if err := m.list.UpdateNode(2 * time.Second); err != nil {
			m.log.Debug("membership: update", "err", err)
		}
	}
}

// Leave tells the others this node is going, waiting up to timeout for the
// message to spread, then stops.
func (m *Membership) Leave(timeout time.Duration) error {
	m.mu.Lock()
	m.meta.Leaving = true
	m.enc = appendMeta(m.enc[:0], &m.meta)
	m.mu.Unlock()
	// Best effort: if the flag does not spread in time the others report a
	// failure instead of a leave, which they handle the same way.
	if err := m.list.UpdateNode(timeout / 2); err != nil {
		m.log.Debug("membership: announce leaving", "err", err)
	}
	err := m.list.Leave(timeout / 2)
	if serr := m.Shutdown(); err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("membership: leave: %w", err)
	}
	return nil
}

// Shutdown stops gossiping without telling anyone, as a crash would.
func (m *Membership) Shutdown() error {
	err := m.list.Shutdown()
	m.stopWorkers()
	if err != nil {
		return fmt.Errorf("membership: shutdown: %w", err)
	}
	return nil
}

func (m *Membership) stopWorkers() {
	m.stop.Do(func() { close(m.done) })
	m.wg.Wait()
}

// notify updates the view and queues an event. memberlist calls its
// delegates with its locks held, so user code runs on the dispatcher
// goroutine instead.
func (m *Membership) notify(kind EventKind, n *memberlist.Node) {
	mb, err := m.member(n)
	m.vmu.Lock()
	prev, known := m.view[n.Name]
	if kind == Failed && prev.Meta.Leaving {
		kind = Left
	}
	if kind != Updated {
		// Gone, or back with a new incarnation: suspicion starts afresh.
		delete(m.suspect, n.Name)
	}
	switch {
	case kind == Left || kind == Failed:
		delete(m.view, n.Name)
	case err != nil:
		// A node running a newer or broken build: keep it out of the view
		// rather than guess its load.
		delete(m.view, n.Name)
	default:
		m.view[n.Name] = mb
	}
	m.vmu.Unlock()
	if err != nil {
		m.log.Warn("membership: ignoring member", "err", err)
		if !known {
			return
		}
		kind, mb = Failed, Member{Name: n.Name}
	}
	if (kind == Left || kind == Failed) && !known {
		return
	}
	m.qmu.Lock()
	m.queue = append(m.queue, Event{Kind: kind, Member: mb})
	m.qmu.Unlock()
	select {
	case m.events <- struct{}{}:
	default:
	}
}

func (m *Membership) dispatch() {
	defer m.wg.Done()
	for {
		select {
		case <-m.done:
			return
		case <-m.events:
		}
		m.qmu.Lock()
		q := m.queue
		m.queue = nil
		m.qmu.Unlock()
		for _, e := range q {
			m.log.Debug("membership: "+e.Kind.String(), "member", e.Member.Name, "region", e.Member.Meta.Region)
			if m.cfg.OnChange != nil {
				m.cfg.OnChange(e)
			}
		}
	}
}

type delegate struct{ m *Membership }

func (d delegate) NodeMeta(limit int) []byte {
	d.m.mu.Lock()
	defer d.m.mu.Unlock()
	if len(d.m.enc) > limit { // checkMetaSize makes this unreachable
		return nil
	}
	return slices.Clone(d.m.enc)
}

func (delegate) NotifyMsg([]byte)                           {}
func (delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (delegate) LocalState(join bool) []byte                { return nil }
func (delegate) MergeRemoteState(buf []byte, join bool)     {}

type events struct{ m *Membership }

func (e events) NotifyJoin(n *memberlist.Node)   { e.m.notify(Joined, n) }
func (e events) NotifyUpdate(n *memberlist.Node) { e.m.notify(Updated, n) }

// NotifyLeave cannot use n.State: memberlist v0.7 keeps the real state in
// its own struct and leaves Node.State unset. notify tells the two apart by
// the Leaving flag instead.
func (e events) NotifyLeave(n *memberlist.Node) { e.m.notify(Failed, n) }
