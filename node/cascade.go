package node

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/switchyard/switchyard/cascade/control"
	"github.com/switchyard/switchyard/cascade/membership"
	"github.com/switchyard/switchyard/cascade/relay"
	"github.com/switchyard/switchyard/cascade/selection"
	"github.com/switchyard/switchyard/node/signal"
	"github.com/switchyard/switchyard/node/snapshot"
)

// Relay layer tags: video layer i travels as i+1, audio as tagAudio, so
// that relay bytes can be counted per layer.
const (
	tagAudio    relay.Layer = 4
	statePeriod             = time.Second
	// stateStale is how long a peer's conference state lasts without a
	// refresh; membership normally notices a dead node sooner.
	stateStale = 5 * time.Second
	nackPeriod = 20 * time.Millisecond
)

func videoTag(layer int) relay.Layer { return relay.Layer(layer + 1) }

// Reasons the cascade drops what a peer sends, beyond the relay's own.
const (
	dropControl    = iota // control message that does not parse
	dropConference        // media for a conference this node does not host
	dropEndpoint          // media for an endpoint the peer did not announce
	dropForeignID         // a peer announced a participant id of another node
	dropBacklog           // control messages arriving faster than handled
	dropRTP               // relayed payload is not RTP or RTCP
	numCascadeDrops
)

var cascadeDropNames = [numCascadeDrops]string{"bad control", "unknown conference", "unknown endpoint",
	"foreign participant id", "control backlog", "bad rtp"}

// cluster is this node's part in a cascade: membership, the relay socket,
// and what the other nodes host.
type cluster struct {
	n    *Node
	cfg  CascadeConfig
	log  *slog.Logger
	ml   *membership.Membership
	tr   *relay.Transport
	self relay.NodeID

	mu    sync.RWMutex
	peers map[relay.NodeID]*peerNode
	// remotes maps conference, then endpoint, to a participant of another
	// node; read on every relayed packet.
	remotes map[string]map[string]*remoteParticipant

	controlIn chan controlIn
	kick      chan struct{}
	drops     [numCascadeDrops]atomic.Uint64
	dropLog   [numCascadeDrops]atomic.Int64
	redirects atomic.Uint64
	rx        rtp.Packet // relay goroutine only
	done      chan struct{}
	wg        sync.WaitGroup
}

// peerNode is another node as this one knows it.
type peerNode struct {
	id        relay.NodeID
	name      string
	region    string
	signalURL string
	relayAddr netip.AddrPort
	load      membership.Load
	// confs are the conferences the peer hosts, with when it said so; its
	// wants are per conference.
	confs map[string]*peerConf // guarded by cluster.mu

	rttNs         atomic.Int64
	bitrateIn     atomic.Int64
	bitrateOut    atomic.Int64
	prevIn        uint64 // stateLoop only
	prevOut       uint64
	prevAt        time.Time
	nacksSent     atomic.Uint64
	nacksAnswered atomic.Uint64
	repaired      atomic.Uint64
	skipped       atomic.Uint64
}

type peerConf struct {
	heard time.Time
	wants map[wantKey]uint8
}

type wantKey struct{ publisher, kind string }

type controlIn struct {
	from relay.NodeID
	conf string
	msg  []byte
}

func startCluster(n *Node) (*cluster, error) {
	cfg := n.cfg.Cascade
	c := &cluster{
		n: n, cfg: cfg,
		log:       n.log.With("component", "cascade"),
		self:      relay.NodeIDFromName(n.cfg.ID),
		peers:     make(map[relay.NodeID]*peerNode),
		remotes:   make(map[string]map[string]*remoteParticipant),
		controlIn: make(chan controlIn, 1024),
		kick:      make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
	keys, err := relay.NewKeys(c.self, relay.Secret{Epoch: 1, Key: []byte(cfg.Secret)})
	if err != nil {
		return nil, fmt.Errorf("cascade: relay keys: %w", err)
	}
	c.tr, err = relay.Listen(cfg.RelayAddr, relay.Config{Keys: keys, Name: n.cfg.ID, Handler: c.onRelay, Logger: c.log})
	if err != nil {
		return nil, fmt.Errorf("cascade: %w", err)
	}
	relayAddr := advertised(c.tr.LocalAddr(), cfg.AdvertiseIP)
	host, portText, err := net.SplitHostPort(cfg.GossipAddr)
	if err != nil {
		_ = c.tr.Close()
		return nil, fmt.Errorf("cascade: gossip_addr: %w", err)
	}
	var port int
	_, _ = fmt.Sscan(portText, &port)
	c.ml, err = membership.Start(membership.Config{
		Name: n.cfg.ID,
		Meta: membership.Meta{Region: n.cfg.Region, RelayAddr: relayAddr, SignalURL: n.signalURL()},
		// The secret keys the gossip too; membership derives its own key.
		Secret:        []byte(cfg.Secret),
		BindAddr:      host,
		BindPort:      port,
		AdvertiseAddr: cfg.AdvertiseIP,
		Join:          cfg.Join,
		ProbeInterval: cfg.ProbeInterval,
		ProbeTimeout:  cfg.ProbeTimeout,
		Logger:        c.log,
		OnChange:      c.onMember,
	})
	if err != nil {
		_ = c.tr.Close()
		return nil, fmt.Errorf("cascade: %w", err)
	}
	c.wg.Add(3)
	go c.controlLoop()
	go c.stateLoop()
	go c.nackLoop()
	c.log.Info("cascade started", "relay", relayAddr, "gossip", c.ml.Addr(), "join", cfg.Join)
	return c, nil
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

// close leaves the cluster: gracefully (the others are told) or, for tests
// of failure, abruptly.
func (c *cluster) close(graceful bool) {
	select {
	case <-c.done:
		return
	default:
	}
	close(c.done)
	if graceful {
		if err := c.ml.Leave(time.Second); err != nil {
			c.log.Debug("leave", "err", err)
		}
	} else {
		_ = c.ml.Shutdown()
	}
	_ = c.tr.Close()
	c.wg.Wait()
}

func (c *cluster) dropped(reason int, from relay.NodeID, detail string) {
	c.drops[reason].Add(1)
	now := time.Now().UnixNano()
	last := c.dropLog[reason].Load()
	if now-last > int64(10*time.Second) && c.dropLog[reason].CompareAndSwap(last, now) {
		level := slog.LevelWarn
		if reason == dropEndpoint || reason == dropConference {
			// Packets in flight when a participant leaves land here too.
			level = slog.LevelInfo
		}
		c.log.Log(context.Background(), level, "cascade: dropped from peer", "reason", cascadeDropNames[reason],
			"peer", c.peerName(from), "detail", detail, "suppressed_for", "10s")
	}
}

func (c *cluster) peerName(id relay.NodeID) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if p := c.peers[id]; p != nil {
		return p.name
	}
	return fmt.Sprint(id)
}

// onMember follows the membership: links to new nodes, and forgetting dead ones.
func (c *cluster) onMember(ev membership.Event) {
	m := ev.Member
	if m.Name == c.n.cfg.ID {
		return
	}
	id := relay.NodeIDFromName(m.Name)
	switch ev.Kind {
	case membership.Joined, membership.Updated:
		c.mu.Lock()
		p := c.peers[id]
		fresh := p == nil
		if fresh {
			p = &peerNode{id: id, name: m.Name, confs: make(map[string]*peerConf)}
			c.peers[id] = p
		}
		moved := p.relayAddr != m.Meta.RelayAddr
		p.region, p.signalURL, p.relayAddr, p.load = m.Meta.Region, m.Meta.SignalURL, m.Meta.RelayAddr, m.Meta.Load
		c.mu.Unlock()
		if moved {
			if err := c.tr.AddPeer(id, m.Meta.RelayAddr, c.cfg.Links[m.Name]); err != nil {
				c.log.Warn("cascade: cannot link to node", "node", m.Name, "err", err)
			}
		}
		if fresh {
			c.log.Info("cascade: node joined", "node", m.Name, "region", m.Meta.Region, "relay", m.Meta.RelayAddr)
			c.kickState()
		}
	case membership.Left, membership.Failed:
		c.log.Info("cascade: node gone", "node", m.Name, "how", ev.Kind.String())
		c.forget(id)
	}
}

// forget drops everything a peer brought: its participants leave every
// room, and nothing more is relayed to it.
func (c *cluster) forget(id relay.NodeID) {
	c.mu.Lock()
	p := c.peers[id]
	delete(c.peers, id)
	c.mu.Unlock()
	c.tr.RemovePeer(id)
	if p == nil {
		return
	}
	for _, r := range c.n.roomList() {
		r.forgetNode(id)
	}
}

// onRelay handles one authenticated datagram on the relay's goroutine:
// media is fed straight in, control goes to its own goroutine.
func (c *cluster) onRelay(from relay.NodeID, p *relay.Packet) {
	switch p.Type {
	case relay.TypeRTP:
		c.onRTP(from, p)
	case relay.TypeRTCP:
		c.onRTCP(from, p)
	case relay.TypeMessage:
		in := controlIn{from: from, conf: p.Conference, msg: slices.Clone(p.Payload)}
		select {
		case c.controlIn <- in:
		default:
			c.dropped(dropBacklog, from, p.Conference)
		}
	}
}

func (c *cluster) lookupRemote(conf, endpoint string) *remoteParticipant {
	c.mu.RLock()
	rp := c.remotes[conf][endpoint]
	c.mu.RUnlock()
	return rp
}

func (c *cluster) onRTP(from relay.NodeID, p *relay.Packet) {
	rp := c.lookupRemote(p.Conference, p.Endpoint)
	if rp == nil || rp.from != from {
		c.dropped(dropEndpoint, from, p.Endpoint)
		return
	}
	if err := c.rx.Unmarshal(p.Payload); err != nil {
		c.dropped(dropRTP, from, err.Error())
		return
	}
	rp.feed(p.Layer, &c.rx, time.Now())
}

func (c *cluster) controlLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.done:
			return
		case in := <-c.controlIn:
			m, err := control.Decode(in.msg)
			if err != nil {
				c.dropped(dropControl, in.from, err.Error())
				continue
			}
			c.onControl(in.from, in.conf, &m)
		}
	}
}

func (c *cluster) onControl(from relay.NodeID, conf string, m *control.Message) {
	c.mu.Lock()
	p := c.peers[from]
	if p == nil {
		c.mu.Unlock()
		return // membership has not introduced it, or it is gone
	}
	var newHost bool
	if m.Type == control.TypeState {
		if len(m.Participants) == 0 {
			delete(p.confs, conf)
		} else {
			pc := p.confs[conf]
			newHost = pc == nil
			if newHost {
				pc = &peerConf{}
				p.confs[conf] = pc
			}
			pc.heard = time.Now()
			pc.wants = make(map[wantKey]uint8, len(m.Wants))
			for _, w := range m.Wants {
				pc.wants[wantKey{w.Publisher, w.Kind}] = w.Layers
			}
		}
	}
	c.mu.Unlock()
	r, ok := c.n.room(conf)
	if !ok {
		if m.Type != control.TypeState {
			c.dropped(dropConference, from, conf)
		}
		return
	}
	switch m.Type {
	case control.TypeState:
		r.syncRemote(c, p, m)
		if newHost {
			// A node that just started hosting the conference learns about
			// this side now rather than at the next period.
			c.sendState(r, []*peerNode{p})
		}
	case control.TypeKeyframe:
		r.remoteKeyframe(p, m)
	case control.TypeEndpoint:
		r.remoteMessage(c, from, m)
	}
}

// hosts returns the peers that host a conference.
func (c *cluster) hosts(conf string) []*peerNode {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []*peerNode
	for _, p := range c.peers {
		if p.confs[conf] != nil {
			out = append(out, p)
		}
	}
	return out
}

// wants returns what a peer needs of one publisher's track in a conference.
func (c *cluster) wants(p *peerNode, conf, publisher, kind string) uint8 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if pc := p.confs[conf]; pc != nil {
		return pc.wants[wantKey{publisher, kind}]
	}
	return 0
}

func (c *cluster) kickState() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// stateLoop sends every conference's state to every peer once a second and
// soon after a change, and expires peers' conferences that went quiet.
func (c *cluster) stateLoop() {
	defer c.wg.Done()
	t := time.NewTicker(statePeriod)
	defer t.Stop()
	announced := map[string]bool{}
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			c.expire()
			c.updateLoad()
		case <-c.kick:
			// Coalesce the changes of one moment into one message.
			time.Sleep(20 * time.Millisecond)
		}
		c.mu.RLock()
		all := make([]*peerNode, 0, len(c.peers))
		for _, p := range c.peers {
			all = append(all, p)
		}
		c.mu.RUnlock()
		now := map[string]bool{}
		for _, r := range c.n.roomList() {
			now[r.name] = true
			c.sendState(r, all)
		}
		for conf := range announced {
			if !now[conf] {
				// The room emptied: say so once.
				c.sendEmpty(conf, all)
			}
		}
		announced = now
	}
}

func (c *cluster) sendState(r *Room, to []*peerNode) {
	m := r.controlState(c)
	b, err := control.Encode(m)
	if err != nil {
		for i := range m.Participants {
			m.Participants[i].Measured = nil
		}
		if b, err = control.Encode(m); err != nil {
			c.log.Warn("cascade: conference state too large to relay", "room", r.name, "err", err)
			return
		}
	}
	for _, p := range to {
		c.sendControl(p.id, r.name, b)
	}
}

func (c *cluster) sendEmpty(conf string, to []*peerNode) {
	b, err := control.Encode(&control.Message{Type: control.TypeState})
	if err != nil {
		return
	}
	for _, p := range to {
		c.sendControl(p.id, conf, b)
	}
}

func (c *cluster) sendControl(to relay.NodeID, conf string, b []byte) {
	err := c.tr.Send(to, &relay.Packet{Type: relay.TypeMessage, Conference: conf, Payload: b})
	if err != nil {
		c.log.Debug("cascade: send control", "to", to, "err", err)
	}
}

func (c *cluster) expire() {
	now := time.Now()
	type gone struct {
		id   relay.NodeID
		conf string
	}
	var expired []gone
	c.mu.Lock()
	for _, p := range c.peers {
		for conf, pc := range p.confs {
			if now.Sub(pc.heard) > stateStale {
				delete(p.confs, conf)
				expired = append(expired, gone{p.id, conf})
			}
		}
	}
	c.mu.Unlock()
	for _, g := range expired {
		if r, ok := c.n.room(g.conf); ok {
			r.forgetNode(g.id)
		}
	}
	// Refresh the link RTTs the NACK retry interval uses.
	for _, l := range c.tr.Stats().Links {
		c.mu.RLock()
		p := c.peers[l.Peer]
		c.mu.RUnlock()
		if p == nil {
			continue
		}
		p.rttNs.Store(int64(l.SmoothedRTT))
		var in, out uint64
		for i := range l.In {
			in += l.In[i].Bytes
			out += l.Out[i].Bytes
		}
		if secs := now.Sub(p.prevAt).Seconds(); !p.prevAt.IsZero() && secs > 0 {
			p.bitrateIn.Store(int64(float64(in-p.prevIn) * 8 / secs))
			p.bitrateOut.Store(int64(float64(out-p.prevOut) * 8 / secs))
		}
		p.prevIn, p.prevOut, p.prevAt = in, out, now
	}
}

// stress is how busy this node is, 0..1, as bridge selection compares it.
func (n *Node) stress() float64 {
	n.mu.Lock()
	count := n.count
	n.mu.Unlock()
	return stressOf(membership.Load{Participants: count, CPU: n.cpuFraction()}, n.cfg.MaxParticipants)
}

func stressOf(l membership.Load, maxParticipants int) float64 {
	s := l.CPU
	if maxParticipants > 0 {
		s = max(s, float64(l.Participants)/float64(maxParticipants))
	}
	return min(s, 1)
}

func (c *cluster) updateLoad() {
	n := c.n
	n.mu.Lock()
	l := membership.Load{Participants: n.count, Conferences: len(n.rooms), Draining: n.draining}
	n.mu.Unlock()
	l.CPU = n.cpuFraction()
	for _, r := range n.roomList() {
		for _, p := range r.members() {
			p.rateMu.Lock()
			l.BitrateBps += p.bitrateUp + p.bitrateDown
			p.rateMu.Unlock()
		}
	}
	// Coarse steps, so that gossip carries changes that matter, not noise.
	l.BitrateBps = l.BitrateBps / 100_000 * 100_000
	l.CPU = math.Round(l.CPU*100) / 100
	c.ml.SetLoad(l)
}

// choose runs bridge selection for a participant from region joining conf.
// It returns the chosen node's signaling URL, or "" for this node.
func (c *cluster) choose(region, conf string, excludeSelf bool) (string, selection.Reason, bool) {
	self := selection.Node{Name: c.n.cfg.ID, Region: c.n.cfg.Region, Stress: c.n.stress(), Self: true,
		Draining: excludeSelf || c.n.isDraining()}
	if r, ok := c.n.room(conf); ok && r.size() > 0 {
		self.Hosts = true
	}
	nodes := []selection.Node{self}
	urls := map[string]string{}
	now := time.Now()
	c.mu.RLock()
	for _, p := range c.peers {
		if p.signalURL == "" {
			continue
		}
		// A node memberlist suspects, or whose relay went quiet, may be
		// dead: sending a participant there costs a failed join. The relay
		// notices within a second, memberlist's verdict takes about four.
		unreachable := !c.ml.Alive(p.name) || c.tr.Silent(p.id, now)
		nodes = append(nodes, selection.Node{Name: p.name, Region: p.region, Hosts: p.confs[conf] != nil,
			Draining: p.load.Draining, Unreachable: unreachable, Stress: stressOf(p.load, c.n.cfg.MaxParticipants)})
		urls[p.name] = p.signalURL
	}
	c.mu.RUnlock()
	chosen, why, ok := selection.Choose(nodes, region, c.cfg.Overload)
	if !ok || chosen.Self {
		return "", why, ok
	}
	return urls[chosen.Name], why, true
}

// fallback lists the other live nodes' WebSocket URLs for a client to
// rejoin through if this node goes away.
func (c *cluster) fallback() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []string
	now := time.Now()
	for _, p := range c.peers {
		if p.signalURL != "" && !p.load.Draining && !c.tr.Silent(p.id, now) {
			out = append(out, wsURL(p.signalURL))
		}
	}
	slices.Sort(out)
	return out
}

// wsURL turns a node's base URL into its signaling URL.
func wsURL(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	default:
		u.Scheme = "ws"
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/ws"
	return u.String()
}

func (p *peerNode) rttMs() float64 { return float64(p.rttNs.Load()) / 1e6 }

// layerNames names the relay's layer tags in snapshots.
var layerNames = map[relay.Layer]string{1: "q", 2: "h", 3: "f", tagAudio: "audio"}

// snapshot describes the relay and every peer for the API and the console.
func (c *cluster) snapshot() (*snapshot.Cascade, []snapshot.Peer) {
	st := c.tr.Stats()
	cs := &snapshot.Cascade{
		RelayAddr:  c.tr.LocalAddr().String(),
		GossipAddr: c.ml.Addr().String(),
		Drops:      map[string]uint64{},
		Redirects:  c.redirects.Load(),
	}
	for i, n := range st.Drops {
		if n > 0 {
			cs.Drops[relay.DropReason(i).String()] = n
		}
	}
	for i := range c.drops {
		if n := c.drops[i].Load(); n > 0 {
			cs.Drops[cascadeDropNames[i]] = n
		}
	}
	links := map[relay.NodeID]relay.LinkStats{}
	for _, l := range st.Links {
		links[l.Peer] = l
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	peers := make([]snapshot.Peer, 0, len(c.peers))
	for _, p := range c.peers {
		l := links[p.id]
		sp := snapshot.Peer{
			ID: p.name, Region: p.region, Addr: p.relayAddr.String(), SignalURL: p.signalURL,
			Alive: l.Up, Draining: p.load.Draining, Participants: p.load.Participants,
			Stress: stressOf(p.load, c.n.cfg.MaxParticipants),
			RTTMs:  float64(l.SmoothedRTT) / 1e6, LossPct: 100 * l.RxLoss,
			BitrateIn: p.bitrateIn.Load(), BitrateOut: p.bitrateOut.Load(),
			BytesOut: map[string]uint64{}, BytesIn: map[string]uint64{},
			SkippedBytes: p.skipped.Load(), NACKsSent: p.nacksSent.Load(),
			NACKsAnswer: p.nacksAnswered.Load(), Repaired: p.repaired.Load(),
			Conferences: []string{},
		}
		for tag, name := range layerNames {
			if b := l.OutLayerBytes[tag]; b > 0 {
				sp.BytesOut[name] = b
			}
			if b := l.InLayerBytes[tag]; b > 0 {
				sp.BytesIn[name] = b
			}
		}
		// Type slots 1 and 2 are RTCP and messages; RTP is counted by layer above.
		for i, name := range map[int]string{1: "rtcp", 2: "message"} {
			if b := l.Out[i].Bytes; b > 0 {
				sp.BytesOut[name] = b
			}
			if b := l.In[i].Bytes; b > 0 {
				sp.BytesIn[name] = b
			}
		}
		for conf := range p.confs {
			sp.Conferences = append(sp.Conferences, conf)
		}
		slices.Sort(sp.Conferences)
		if !l.Impairment.IsZero() {
			sp.Emulated = fmt.Sprintf("delay %v ±%v, loss %.1f%%", l.Impairment.Delay, l.Impairment.Jitter, 100*l.Impairment.Loss)
		}
		peers = append(peers, sp)
	}
	slices.SortFunc(peers, func(a, b snapshot.Peer) int { return strings.Compare(a.ID, b.ID) })
	return cs, peers
}

// Drain stops admitting participants and asks those present to move to
// another node (chosen as for a new participant); it returns when none is
// left or ctx ends. Without a cascade, participants are told the node is
// going away and left to leave.
func (n *Node) Drain(ctx context.Context) error {
	if err := n.SetDraining(true); err != nil {
		return err
	}
	for _, r := range n.roomList() {
		for _, p := range r.members() {
			msg := signal.Message{Type: signal.TypeError, Code: signal.CodeDraining, Reason: "this node is shutting down"}
			if c := n.cluster; c != nil {
				if target, _, _ := c.choose(p.region, r.name, true); target != "" {
					msg = signal.Message{Type: signal.TypeRedirect, URL: wsURL(target) + "?redirected=1", Reason: "node draining"}
				}
			}
			p.send(msg)
		}
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		n.mu.Lock()
		left := n.count + n.pending
		n.mu.Unlock()
		if left == 0 {
			n.log.Info("drained")
			return nil
		}
		select {
		case <-ctx.Done():
			n.log.Warn("drain timed out", "participants", left)
			return fmt.Errorf("node: drain: %d participants still here: %w", left, ctx.Err())
		case <-t.C:
		}
	}
}
