package peering

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/switchyard/switchyard/cascade/control"
	"github.com/switchyard/switchyard/cascade/membership"
	"github.com/switchyard/switchyard/cascade/relay"
	"github.com/switchyard/switchyard/linkemu"
	"github.com/switchyard/switchyard/media"
)

// Timing of the loops.
const (
	statePeriod = time.Second
	// stateStale is how long a peer's conference state lasts without a
	// refresh; membership normally notices a dead node sooner.
	stateStale = 5 * time.Second
	nackPeriod = 20 * time.Millisecond
)

// Errors a Host returns from Join.
var (
	// ErrNotHosted: this node has no such conference (nobody here joined it).
	ErrNotHosted = errors.New("peering: conference not hosted here")
	// ErrIDTaken: a local participant already has the id.
	ErrIDTaken = errors.New("peering: participant id taken")
)

// Host is what peering needs of the node it runs in: its conferences, seen
// from the cascade. Peering never calls it with its own lock held.
type Host interface {
	// Conferences lists the conferences with participants on this node.
	Conferences() []string
	// LocalState describes this node's own participants of conf and what
	// they publish; ok is false when the node does not host conf.
	LocalState(conf string) (participants []control.Participant, dominant string, ok bool)
	// Recording reports whether this node records conf.
	Recording(conf string) bool
	// Join makes r a member of conf here (ErrNotHosted, ErrIDTaken).
	Join(conf string, r *Remote) error
	// Leave takes r out of conf.
	Leave(conf string, r *Remote)
	// Published and Unpublished tell conf that one of r's tracks started
	// or ended.
	Published(conf string, r *Remote, up *media.UpTrack)
	Unpublished(conf string, r *Remote, up *media.UpTrack)
	// Updated tells conf that r's State changed.
	Updated(conf string, r *Remote)
	// Deliver hands r's endpoint message to one local participant (to) or
	// all ("").
	Deliver(conf string, r *Remote, to string, payload json.RawMessage)
	// Load is this node's load, as the cluster gossips it.
	Load() membership.Load
}

// Transport is the relay as peering uses it (*relay.Transport).
type Transport interface {
	Send(to relay.NodeID, p *relay.Packet) error
	AddPeer(id relay.NodeID, addr netip.AddrPort, l linkemu.Params) error
	RemovePeer(id relay.NodeID)
	Stats() relay.Stats
	Silent(id relay.NodeID, now time.Time) bool
	LocalAddr() net.Addr
	Close() error
}

// Members is the cluster membership as peering uses it (*membership.Membership).
type Members interface {
	Alive(name string) bool
	SetLoad(l membership.Load)
	SetDraining(d bool)
	Addr() netip.AddrPort
	Leave(timeout time.Duration) error
	Shutdown() error
}

// Config is a node's place in the cascade.
type Config struct {
	Self     string // this node's id
	Region   string
	Overload float64 // stress above which a node takes no more of its region (selection)
	// MaxParticipants scales the participant count into stress.
	MaxParticipants int
	// Links emulates the network towards other nodes, by node id.
	Links map[string]linkemu.Params
	// Observe and Batch configure the UpTracks of relayed participants as
	// the node's own (forwarding-delay metric, batched sends).
	Observe func(time.Duration)
	Batch   media.Batcher
	Logger  *slog.Logger
}

// Peering is this node's part in a cascade.
type Peering struct {
	cfg  Config
	host Host
	log  *slog.Logger
	self relay.NodeID
	tr   Transport
	ml   Members

	mu    sync.RWMutex
	peers map[relay.NodeID]*peer
	// remotes maps conference, then endpoint, to a participant of another
	// node; read on every relayed packet.
	remotes map[string]map[string]*Remote
	// outs are this node's published tracks as relayed, by conference,
	// then endpoint, then source.
	outs map[string]map[string]map[media.Source]*Outbound
	// wants are the layers of remote tracks this node needs, by conference,
	// as the node last set them.
	wants map[string][]control.Want

	controlIn chan controlIn
	kick      chan struct{}
	drops     [numDrops]atomic.Uint64
	dropLog   [numDrops]atomic.Int64
	redirects atomic.Uint64
	rx        rtp.Packet // relay goroutine only
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

type controlIn struct {
	from relay.NodeID
	conf string
	msg  []byte
}

// newPeering makes the state; the caller wires the transport and membership
// and then calls start.
func newPeering(cfg Config, host Host) *Peering {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Peering{
		cfg: cfg, host: host,
		log:       cfg.Logger,
		self:      relay.NodeIDFromName(cfg.Self),
		peers:     make(map[relay.NodeID]*peer),
		remotes:   make(map[string]map[string]*Remote),
		outs:      make(map[string]map[string]map[media.Source]*Outbound),
		wants:     make(map[string][]control.Want),
		controlIn: make(chan controlIn, 1024),
		kick:      make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
}

// start runs the control, state, NACK and link loops.
func (p *Peering) start() {
	p.wg.Add(4)
	go p.controlLoop()
	go p.stateLoop()
	go p.nackLoop()
	go p.linkLoop()
}

// NetConfig says where the cascade's sockets are.
type NetConfig struct {
	Secret      string // the cluster secret; keys gossip and relay
	RelayAddr   string
	GossipAddr  string
	AdvertiseIP string   // address others reach this node at, if not the bound one
	Join        []string // gossip addresses of other nodes
	SignalURL   string   // this node's base URL for clients
	// ProbeInterval and ProbeTimeout tune failure detection; zero takes
	// membership's defaults.
	ProbeInterval, ProbeTimeout time.Duration
}

// Start joins the cascade: the relay socket, the membership, the loops.
func Start(cfg Config, nc NetConfig, host Host) (*Peering, error) {
	p := newPeering(cfg, host)
	keys, err := relay.NewKeys(p.self, relay.Secret{Epoch: 1, Key: []byte(nc.Secret)})
	if err != nil {
		return nil, fmt.Errorf("cascade: relay keys: %w", err)
	}
	tr, err := relay.Listen(nc.RelayAddr, relay.Config{Keys: keys, Name: cfg.Self, Handler: p.onRelay, Logger: p.log})
	if err != nil {
		return nil, fmt.Errorf("cascade: %w", err)
	}
	p.tr = tr
	relayAddr := advertised(tr.LocalAddr(), nc.AdvertiseIP)
	host2, portText, err := net.SplitHostPort(nc.GossipAddr)
	if err != nil {
		_ = tr.Close()
		return nil, fmt.Errorf("cascade: gossip_addr: %w", err)
	}
	var port int
	_, _ = fmt.Sscan(portText, &port)
	ml, err := membership.Start(membership.Config{
		Name: cfg.Self,
		Meta: membership.Meta{Region: cfg.Region, RelayAddr: relayAddr, SignalURL: nc.SignalURL},
		// The secret keys the gossip too; membership derives its own key.
		Secret:        []byte(nc.Secret),
		BindAddr:      host2,
		BindPort:      port,
		AdvertiseAddr: nc.AdvertiseIP,
		Join:          nc.Join,
		ProbeInterval: nc.ProbeInterval,
		ProbeTimeout:  nc.ProbeTimeout,
		Logger:        p.log,
		OnChange:      p.onMember,
	})
	if err != nil {
		_ = tr.Close()
		return nil, fmt.Errorf("cascade: %w", err)
	}
	p.ml = ml
	p.start()
	p.log.Info("cascade started", "relay", relayAddr, "gossip", ml.Addr(), "join", nc.Join)
	return p, nil
}

// advertised is the address others reach a socket at: the bound one, with
// ip in place of an unspecified or overridden host.
func advertised(a net.Addr, ip string) netip.AddrPort {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}
	}
	if ip != "" {
		if addr, err := netip.ParseAddr(ip); err == nil {
			return netip.AddrPortFrom(addr, ap.Port())
		}
	}
	return ap
}

// Close leaves the cascade: gracefully (the others are told at once) or,
// as a node that dies would, without a word.
func (p *Peering) Close(graceful bool) {
	p.closeOnce.Do(func() {
		close(p.done)
		if graceful {
			if err := p.ml.Leave(time.Second); err != nil {
				p.log.Debug("leave", "err", err)
			}
		} else {
			_ = p.ml.Shutdown()
		}
		_ = p.tr.Close()
		p.wg.Wait()
	})
}

// GossipAddr is the membership socket's address.
func (p *Peering) GossipAddr() netip.AddrPort { return p.ml.Addr() }

// Changed asks for this node's state to go to the peers soon (a
// participant joined, left or published).
func (p *Peering) Changed() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// SetDraining tells the other nodes whether this one takes participants.
func (p *Peering) SetDraining(on bool) { p.ml.SetDraining(on) }

// Redirected counts a participant sent to another node at join.
func (p *Peering) Redirected() { p.redirects.Add(1) }

// peerName names a peer for logs.
func (p *Peering) peerName(id relay.NodeID) string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if pr := p.peers[id]; pr != nil {
		return pr.name
	}
	return fmt.Sprint(id)
}

// onMember follows the membership: links to new nodes, and forgetting dead ones.
func (p *Peering) onMember(ev membership.Event) {
	m := ev.Member
	if m.Name == p.cfg.Self {
		return
	}
	id := relay.NodeIDFromName(m.Name)
	switch ev.Kind {
	case membership.Joined, membership.Updated:
		p.mu.Lock()
		pr := p.peers[id]
		fresh := pr == nil
		if fresh {
			pr = &peer{id: id, name: m.Name, confs: make(map[string]*peerConf)}
			p.peers[id] = pr
		}
		moved := pr.relayAddr != m.Meta.RelayAddr
		pr.region, pr.signalURL, pr.relayAddr, pr.load = m.Meta.Region, m.Meta.SignalURL, m.Meta.RelayAddr, m.Meta.Load
		p.mu.Unlock()
		if moved {
			if err := p.tr.AddPeer(id, m.Meta.RelayAddr, p.cfg.Links[m.Name]); err != nil {
				p.log.Warn("cascade: cannot link to node", "peer", m.Name, "err", err)
			}
		}
		if fresh {
			p.log.Info("cascade: node joined", "peer", m.Name, "region", m.Meta.Region, "relay", m.Meta.RelayAddr)
			p.Changed()
		}
	case membership.Left, membership.Failed:
		p.log.Info("cascade: node gone", "peer", m.Name, "how", ev.Kind.String())
		p.forget(id)
	}
}

// forget drops everything a peer brought: its participants leave every
// conference, and nothing more is relayed to it.
func (p *Peering) forget(id relay.NodeID) {
	p.mu.Lock()
	pr := p.peers[id]
	delete(p.peers, id)
	confs := make([]string, 0, len(p.remotes))
	for conf := range p.remotes {
		confs = append(confs, conf)
	}
	p.mu.Unlock()
	p.tr.RemovePeer(id)
	if pr == nil {
		return
	}
	for _, conf := range confs {
		p.dropPeerConference(id, conf)
	}
}

// onRelay handles one authenticated datagram on the relay's goroutine:
// media is fed straight in, control goes to its own goroutine.
func (p *Peering) onRelay(from relay.NodeID, pkt *relay.Packet) {
	switch pkt.Type {
	case relay.TypeRTP:
		p.onRTP(from, pkt)
	case relay.TypeRTCP:
		p.onRTCP(from, pkt)
	case relay.TypeMessage:
		in := controlIn{from: from, conf: pkt.Conference, msg: slices.Clone(pkt.Payload)}
		select {
		case p.controlIn <- in:
		default:
			p.dropped(dropBacklog, from, pkt.Conference)
		}
	}
}

func (p *Peering) controlLoop() {
	defer p.wg.Done()
	for {
		select {
		case <-p.done:
			return
		case in := <-p.controlIn:
			m, err := control.Decode(in.msg)
			if err != nil {
				p.dropped(dropControl, in.from, err.Error())
				continue
			}
			p.onControl(in.from, in.conf, &m)
		}
	}
}

// onControl acts on one validated control message from a peer.
func (p *Peering) onControl(from relay.NodeID, conf string, m *control.Message) {
	p.mu.RLock()
	pr := p.peers[from]
	p.mu.RUnlock()
	if pr == nil {
		return // membership has not introduced it, or it is gone
	}
	switch m.Type {
	case control.TypeState:
		p.applyState(pr, conf, m)
	case control.TypeKeyframe:
		p.onKeyframe(pr, conf, m)
	case control.TypeEndpoint:
		p.onEndpoint(pr, conf, m)
	}
}

// onEndpoint delivers an endpoint message from a participant of a peer.
func (p *Peering) onEndpoint(pr *peer, conf string, m *control.Message) {
	r := p.remote(conf, m.From)
	if r == nil || r.from != pr.id {
		p.dropped(dropEndpoint, pr.id, m.From)
		return
	}
	p.host.Deliver(conf, r, m.To, m.Payload)
}

// SendMessage relays a local participant's endpoint message to the nodes
// hosting conf: to the one hosting `to`, or to all when to is "". It
// reports false when `to` is not a participant of another node.
func (p *Peering) SendMessage(conf, from, to string, payload json.RawMessage) bool {
	var dest []relay.NodeID
	if to == "" {
		for _, h := range p.hosts(conf) {
			dest = append(dest, h.id)
		}
	} else {
		r := p.remote(conf, to)
		if r == nil {
			return false
		}
		dest = append(dest, r.from)
	}
	b, err := control.Encode(&control.Message{Type: control.TypeEndpoint, From: from, To: to, Payload: payload})
	if err != nil {
		p.log.Debug("endpoint message not relayed", "conference", conf, "err", err)
		return true
	}
	for _, id := range dest {
		p.sendControl(id, conf, b)
	}
	return true
}

func (p *Peering) sendControl(to relay.NodeID, conf string, b []byte) {
	err := p.tr.Send(to, &relay.Packet{Type: relay.TypeMessage, Conference: conf, Payload: b})
	if err != nil {
		p.log.Debug("cascade: send control", "to", to, "err", err)
	}
}

// remote is the participant of another node with id endpoint in conf.
func (p *Peering) remote(conf, endpoint string) *Remote {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.remotes[conf][endpoint]
}

// hosts returns the peers that host a conference.
func (p *Peering) hosts(conf string) []*peer {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []*peer
	for _, pr := range p.peers {
		if pr.confs[conf] != nil {
			out = append(out, pr)
		}
	}
	return out
}

// Reasons the cascade drops what a peer sends, beyond the relay's own.
const (
	dropControl    = iota // control message that does not parse
	dropConference        // media for a conference this node does not host
	dropEndpoint          // media for an endpoint the peer did not announce
	dropForeignID         // a peer announced a participant id of another node
	dropBacklog           // control messages arriving faster than handled
	dropRTP               // relayed payload is not RTP or RTCP
	numDrops
)

var dropNames = [numDrops]string{"bad control", "unknown conference", "unknown endpoint",
	"foreign participant id", "control backlog", "bad rtp"}

// dropped counts what a peer sent that was refused, logging each reason at
// most every 10 s.
func (p *Peering) dropped(reason int, from relay.NodeID, detail string) {
	p.drops[reason].Add(1)
	now := time.Now().UnixNano()
	last := p.dropLog[reason].Load()
	if now-last > int64(10*time.Second) && p.dropLog[reason].CompareAndSwap(last, now) {
		level := slog.LevelWarn
		if reason == dropEndpoint || reason == dropConference {
			// Packets in flight when a participant leaves land here too.
			level = slog.LevelInfo
		}
		p.log.Log(context.Background(), level, "cascade: dropped from peer", "reason", dropNames[reason],
			"peer", p.peerName(from), "detail", detail, "suppressed_for", "10s")
	}
}
