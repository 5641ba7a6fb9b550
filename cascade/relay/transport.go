package relay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/linkemu"
)

// DefaultPort is the relay's UDP port, as Jitsi's Octo.
const DefaultPort = 4096

// Packet is a relayed datagram as the node sees it.
type Packet struct {
	Type       Type
	Layer      Layer
	Conference string
	Endpoint   string
	Payload    []byte
}

// Handler receives RTP, RTCP and message datagrams from authenticated
// peers. It runs on the transport's receive goroutine; p and p.Payload are
// only valid during the call.
type Handler func(from NodeID, p *Packet)

// Config configures a Transport.
type Config struct {
	Keys *Keys
	// Name is this node's name, sent in hellos so peers can name the link.
	Name    string
	Handler Handler
	Logger  *slog.Logger
	// PingInterval is how often each peer is pinged for RTT and loss, and
	// so how soon a dead peer shows as Silent; 0 means DefaultPingInterval.
	PingInterval time.Duration
	// Seed makes link emulation repeatable.
	Seed uint64
	// Now is the wall clock, replaceable in tests; nil means time.Now.
	Now func() time.Time
}

// Transport is one node's relay socket and its peer links.
type Transport struct {
	conn  net.PacketConn
	udp   *net.UDPConn // conn, when it is one: its AddrPort methods do not allocate
	keys  *Keys
	name  string
	h     Handler
	log   *slog.Logger
	now   func() time.Time
	start time.Time
	every time.Duration
	emu   *linkemu.Emulator

	mu    sync.RWMutex
	peers map[NodeID]*peer // guarded by mu

	bufs       sync.Pool
	drops      dropLog
	sendErrors atomic.Uint64
	seqBase    uint64

	closed atomic.Bool
	done   chan struct{}
	wg     sync.WaitGroup

	// Receive goroutine only.
	intern map[string]string
	rx     Packet
}

type route struct {
	addr  netip.AddrPort
	naddr net.Addr
	link  *linkemu.Link // nil: straight to the socket
	imp   linkemu.Params
}

type peer struct {
	id    NodeID
	route atomic.Pointer[route]
	seq   atomic.Uint64
	name  atomic.Pointer[string]

	out, in   counters
	lastHeard atomic.Int64 // unix nanos

	// Receive goroutine only.
	window ReplayWindow

	// Written by the receive goroutine, read by the ping goroutine.
	rxFirst, rxTop, rxCount atomic.Uint64

	pmu       sync.Mutex // guards the fields below
	pings     [pingRing]pingRecord
	pingNum   uint64
	rtt, srtt time.Duration
	minRTT    time.Duration
	pingLoss  float64
	rxLoss    float64
	rxPrevExp uint64
	rxPrevCnt uint64
	// The peer's latest report on this node's datagrams, when it came, and
	// what it says of the way there.
	far    Report
	farAt  time.Time
	oneWay time.Duration
	txLoss float64
}

const (
	pingRing   = 64
	pingWindow = 10 // pings the loss figure is computed over
	pingLen    = 16 // ping number and send time
)

type pingRecord struct {
	num      uint64
	sent     time.Duration // since Transport.start
	answered bool
}

// Listen opens a UDP socket on addr (e.g. ":4096") and starts a transport.
func Listen(addr string, cfg Config) (*Transport, error) {
	conn, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("relay: listen %s: %w", addr, err)
	}
	t, err := New(conn, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return t, nil
}

// New starts a transport on conn, which it owns and closes.
func New(conn net.PacketConn, cfg Config) (*Transport, error) {
	if cfg.Keys == nil {
		return nil, errors.New("relay: no keys")
	}
	if cfg.Handler == nil {
		cfg.Handler = func(NodeID, *Packet) {}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	t := &Transport{
		conn:  conn,
		keys:  cfg.Keys,
		name:  cfg.Name,
		h:     cfg.Handler,
		log:   cfg.Logger,
		now:   cfg.Now,
		start: time.Now(),
		every: cfg.PingInterval,
		emu:   linkemu.NewEmulator(cfg.Seed),
		peers: make(map[NodeID]*peer),
		// Sequences start at the wall clock in nanoseconds so that after a
		// restart they continue above the previous run's: no nonce is reused
		// and the peers' replay windows accept the new run at once.
		seqBase: uint64(cfg.Now().UnixNano()),
		done:    make(chan struct{}),
		intern:  make(map[string]string),
	}
	t.udp, _ = conn.(*net.UDPConn)
	t.bufs.New = func() any { b := make([]byte, 0, MaxDatagram); return &b }
	t.drops = dropLog{log: cfg.Logger, now: cfg.Now, interval: 10 * time.Second}
	t.wg.Add(2)
	go t.receive()
	go t.pinger()
	return t, nil
}

// LocalAddr returns the socket's address.
func (t *Transport) LocalAddr() net.Addr { return t.conn.LocalAddr() }

// Self returns this node's id.
func (t *Transport) Self() NodeID { return t.keys.self }

// Close stops the transport and closes its socket.
func (t *Transport) Close() error {
	if t.closed.Swap(true) {
		return nil
	}
	close(t.done)
	err := t.conn.Close()
	t.wg.Wait()
	t.emu.Close()
	if err != nil {
		return fmt.Errorf("relay: close: %w", err)
	}
	return nil
}

// AddPeer adds a peer or changes its address or impairment. Datagrams to it
// pass through an emulated link unless imp is zero.
func (t *Transport) AddPeer(id NodeID, addr netip.AddrPort, imp linkemu.Params) error {
	if id == 0 || id == t.keys.self {
		return fmt.Errorf("relay: add peer %d: %w", id, ErrBadReceiver)
	}
	if !addr.IsValid() {
		return fmt.Errorf("relay: add peer %d: invalid address %v", id, addr)
	}
	if t.closed.Load() {
		return fmt.Errorf("relay: add peer %d: %w", id, ErrClosed)
	}
	r := &route{addr: addr, naddr: net.UDPAddrFromAddrPort(addr), imp: imp}
	if !imp.IsZero() {
		link, err := t.emu.NewLink(imp, func(b []byte) { t.write(r, b) })
		if err != nil {
			return fmt.Errorf("relay: add peer %d: %w", id, err)
		}
		r.link = link
	}
	// A peer is published with its route: Stats and the receive path read
	// the route of every peer in the map.
	t.mu.Lock()
	p, existed := t.peers[id]
	if !existed {
		p = &peer{id: id}
		p.seq.Store(t.seqBase)
	}
	old := p.route.Swap(r)
	if !existed {
		t.peers[id] = p
	}
	t.mu.Unlock()
	if old != nil && old.link != nil {
		old.link.Close()
	}
	if !existed {
		t.hello(p, helloAnnounce)
	}
	return nil
}

// RemovePeer forgets a peer; its datagrams are dropped from now on.
func (t *Transport) RemovePeer(id NodeID) {
	t.mu.Lock()
	p := t.peers[id]
	delete(t.peers, id)
	t.mu.Unlock()
	if p != nil {
		if r := p.route.Load(); r != nil && r.link != nil {
			r.link.Close()
		}
	}
}

func (t *Transport) peer(id NodeID) *peer {
	t.mu.RLock()
	p := t.peers[id]
	t.mu.RUnlock()
	return p
}

// Send seals p for peer to and sends it. It does not allocate.
func (t *Transport) Send(to NodeID, p *Packet) error {
	if t.closed.Load() {
		return ErrClosed
	}
	pr := t.peer(to)
	if pr == nil {
		return ErrUnknownPeer
	}
	return t.send(pr, p.Type, p.Layer, p.Conference, p.Endpoint, p.Payload)
}

func (t *Transport) send(pr *peer, typ Type, layer Layer, conf, ep string, payload []byte) error {
	bp := t.bufs.Get().(*[]byte)
	defer t.bufs.Put(bp)
	h := Header{Type: typ, Layer: layer, Receiver: pr.id, Seq: pr.seq.Add(1)}
	b, err := Seal((*bp)[:0], t.keys, h, conf, ep, payload)
	if err != nil {
		return err
	}
	*bp = b[:0]
	pr.out.add(typ, layer, len(b))
	r := pr.route.Load()
	if r.link != nil {
		r.link.Send(b) // copies; the emulator writes later
		return nil
	}
	return t.write(r, b)
}

func (t *Transport) write(r *route, b []byte) error {
	var err error
	if t.udp != nil {
		_, err = t.udp.WriteToUDPAddrPort(b, r.addr)
	} else {
		_, err = t.conn.WriteTo(b, r.naddr)
	}
	if err != nil {
		t.sendErrors.Add(1)
		if !t.closed.Load() {
			return fmt.Errorf("relay: send to %v: %w", r.addr, err)
		}
	}
	return nil
}

// Hello payloads start with helloAnnounce or helloAnswer, then the node name.
// An announcement is always answered, so a node that (re)starts learns its
// peers' names even when it hears their pings first.
const (
	helloAnnounce = 0
	helloAnswer   = 1
)

func (t *Transport) hello(p *peer, kind byte) {
	b := append([]byte{kind}, t.name...)
	if err := t.send(p, TypeHello, 0, "", "", b); err != nil {
		t.log.Debug("relay: hello", "peer", p.id, "err", err)
	}
}

func (t *Transport) receive() {
	defer t.wg.Done()
	in := make([]byte, MaxDatagram+1) // one spare byte tells oversized from full
	plain := make([]byte, 0, MaxDatagram)
	for {
		var (
			n    int
			from netip.AddrPort
			err  error
		)
		if t.udp != nil {
			n, from, err = t.udp.ReadFromUDPAddrPort(in)
		} else {
			var a net.Addr
			n, a, err = t.conn.ReadFrom(in)
			if ua, ok := a.(*net.UDPAddr); ok {
				from = ua.AddrPort()
			}
		}
		if err != nil {
			if t.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			t.log.Warn("relay: read", "err", err)
			select {
			case <-t.done:
				return
			case <-time.After(10 * time.Millisecond): // do not spin on a broken socket
			}
			continue
		}
		if r, ok := t.handle(in[:n], plain[:0], from); !ok {
			t.drops.drop(r, from)
		}
	}
}

// handle processes one datagram, reporting why it was dropped if it was.
func (t *Transport) handle(d, plain []byte, from netip.AddrPort) (DropReason, bool) {
	h, err := ParseHeader(d)
	if err != nil {
		return reasonOf(err), false
	}
	if h.Receiver != t.keys.self || h.Sender == t.keys.self {
		return ErrMisdirected, false
	}
	pr := t.peer(h.Sender)
	if pr == nil {
		// Before any cryptography: a flood from strangers costs a map lookup.
		return ErrUnknownPeer, false
	}
	if !pr.window.Check(h.Seq) {
		return ErrReplay, false
	}
	h, body, err := Open(plain, t.keys, d)
	if err != nil {
		return reasonOf(err), false
	}
	pr.window.Accept(h.Seq)
	pr.noteSeq(h.Seq)
	pr.in.add(h.Type, h.Layer, len(d))
	pr.lastHeard.Store(t.now().UnixNano())

	switch h.Type {
	case TypeHello:
		t.onHello(pr, body.Payload)
	case TypePing:
		if len(body.Payload) == pingLen {
			var buf [pongLen]byte
			b := appendPong(buf[:0], body.Payload, pr.report(time.Since(t.start)))
			if err := t.send(pr, TypePong, 0, "", "", b); err != nil {
				t.log.Debug("relay: pong", "peer", pr.id, "err", err)
			}
		}
	case TypePong:
		if err := t.onPong(pr, body.Payload); err != nil {
			t.log.Debug("relay: bad pong", "peer", pr.id, "err", err)
			return ErrMalformed, false
		}
	default:
		// Reused: a fresh Packet would escape through the handler call.
		t.rx = Packet{
			Type:       h.Type,
			Layer:      h.Layer,
			Conference: t.internString(body.Conference),
			Endpoint:   t.internString(body.Endpoint),
			Payload:    body.Payload,
		}
		t.h(h.Sender, &t.rx)
	}
	return 0, true
}

// reasonOf maps an error from ParseHeader or Open to its counter. A plain
// type assertion: errors.As would allocate on every dropped datagram.
func reasonOf(err error) DropReason {
	if r, ok := err.(DropReason); ok && r < NumDropReasons {
		return r
	}
	return ErrAuth
}

// internString returns b as a string without allocating for ids seen
// before. Only authenticated ids get here; the bound is for a peer that
// cycles through endless ids.
func (t *Transport) internString(b []byte) string {
	if s, ok := t.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(t.intern) < 8192 {
		t.intern[s] = s
	}
	return s
}

func (p *peer) noteSeq(seq uint64) {
	top := p.rxTop.Load()
	switch {
	case p.rxCount.Load() == 0 || seq > top+1<<16:
		// First datagram, or the peer restarted (its sequence jumped by the
		// time it was down): start counting afresh rather than report the
		// jump as loss.
		p.rxFirst.Store(seq)
		p.rxTop.Store(seq)
		p.rxCount.Store(1)
		return
	case seq > top:
		p.rxTop.Store(seq)
	}
	p.rxCount.Add(1)
}

func (t *Transport) onHello(p *peer, b []byte) {
	if len(b) < 1 {
		return
	}
	if b[0] == helloAnnounce {
		t.hello(p, helloAnswer)
	}
	n := string(b[1:])
	if old := p.name.Load(); old != nil && *old == n {
		return
	}
	p.name.Store(&n)
	if NodeIDFromName(n) != p.id {
		t.log.Warn("relay: peer's name does not match its id", "peer", p.id, "name", n)
	}
	t.log.Debug("relay: hello", "peer", p.id, "name", n)
}

// report is this node's Report on the peer's datagrams, as of at (on this
// transport's clock since its start).
func (p *peer) report(at time.Duration) Report {
	var bytes uint64
	for i := range p.in.bytes {
		bytes += p.in.bytes[i].Load()
	}
	return Report{Top: p.rxTop.Load(), Count: p.rxCount.Load(), Bytes: bytes, At: at}
}

// onPong takes the answer to one of this node's pings: the round trip and,
// from a peer that reports, its view of this node's datagrams. A pong that
// does not parse is an error; one that answers no ping of ours in the
// ring (late, repeated) is ignored.
func (t *Transport) onPong(p *peer, b []byte) error {
	pg, err := parsePong(b)
	if err != nil {
		return err
	}
	now := t.now()
	rtt := time.Since(t.start) - pg.sent
	p.pmu.Lock()
	defer p.pmu.Unlock()
	rec := &p.pings[pg.num%pingRing]
	if rec.num != pg.num || rec.sent != pg.sent || rec.answered || rtt < 0 {
		return nil
	}
	rec.answered = true
	if pg.hasReport {
		p.noteReport(pg.report, pg.sent, now)
	}
	p.rtt = rtt
	if p.srtt == 0 {
		p.srtt = rtt
		p.minRTT = rtt
	} else {
		p.srtt += (rtt - p.srtt) / 8
		p.minRTT = min(p.minRTT, rtt)
	}
	return nil
}

// noteReport keeps the peer's latest report and the loss of this node's
// datagrams since the previous one; called with pmu held.
func (p *peer) noteReport(r Report, sent time.Duration, now time.Time) {
	prev := p.far
	if !p.farAt.IsZero() && r.Top > prev.Top && r.Count >= prev.Count {
		exp, got := r.Top-prev.Top, r.Count-prev.Count
		p.txLoss = 0
		if exp > got {
			p.txLoss = float64(exp-got) / float64(exp)
		}
	}
	p.far, p.farAt = r, now
	p.oneWay = r.At - sent
}

func (t *Transport) pinger() {
	defer t.wg.Done()
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	var buf [pingLen]byte
	for {
		select {
		case <-t.done:
			return
		case <-tick.C:
		}
		t.mu.RLock()
		peers := make([]*peer, 0, len(t.peers))
		for _, p := range t.peers {
			peers = append(peers, p)
		}
		t.mu.RUnlock()
		for _, p := range peers {
			t.ping(p, buf[:])
		}
	}
}

func (t *Transport) ping(p *peer, buf []byte) {
	if p.lastHeard.Load() == 0 {
		t.hello(p, helloAnnounce)
	}
	now := time.Since(t.start)

	p.pmu.Lock()
	// A pong later than this is counted lost: generous for any real link,
	// short enough that loss shows within a few seconds, and within what the
	// ring remembers.
	timeout := max(2*time.Second, 2*t.every, 3*p.srtt)
	timeout = min(timeout, time.Duration(pingRing-pingWindow-2)*t.every)
	p.pingNum++
	num := p.pingNum
	p.pings[num%pingRing] = pingRecord{num: num, sent: now}
	var sent, answered int
	for i := range p.pings {
		r := &p.pings[i]
		if r.num == 0 || now-r.sent < timeout || num-r.num > pingWindow+uint64(timeout/t.every)+1 {
			continue
		}
		sent++
		if r.answered {
			answered++
		}
	}
	if sent > 0 {
		p.pingLoss = 1 - float64(answered)/float64(sent)
	}
	exp := p.rxTop.Load() - p.rxFirst.Load() + 1
	cnt := p.rxCount.Load()
	if cnt == 0 {
		exp = 0
	}
	if exp > p.rxPrevExp && cnt >= p.rxPrevCnt {
		de, dc := exp-p.rxPrevExp, cnt-p.rxPrevCnt
		p.rxLoss = 0
		if de > dc {
			p.rxLoss = float64(de-dc) / float64(de)
		}
	}
	p.rxPrevExp, p.rxPrevCnt = exp, cnt
	p.pmu.Unlock()

	binary.BigEndian.PutUint64(buf, num)
	binary.BigEndian.PutUint64(buf[8:], uint64(now))
	if err := t.send(p, TypePing, 0, "", "", buf); err != nil {
		t.log.Debug("relay: ping", "peer", p.id, "err", err)
	}
}

// Stats returns a snapshot of every link and the drop counters.
func (t *Transport) Stats() Stats {
	var s Stats
	for i := range s.Drops {
		s.Drops[i] = t.drops.counts[i].Load()
	}
	s.SendErrors = t.sendErrors.Load()
	t.mu.RLock()
	peers := make([]*peer, 0, len(t.peers))
	for _, p := range t.peers {
		peers = append(peers, p)
	}
	t.mu.RUnlock()
	now := t.now()
	for _, p := range peers {
		ls := LinkStats{Peer: p.id}
		if n := p.name.Load(); n != nil {
			ls.Name = *n
		}
		r := p.route.Load()
		ls.Addr, ls.Impairment = r.addr, r.imp
		if r.link != nil {
			ls.Emulated = r.link.Stats()
		}
		if lh := p.lastHeard.Load(); lh != 0 {
			ls.LastHeard = time.Unix(0, lh)
			ls.Up = !t.silent(lh, now)
		}
		ls.Out, ls.OutLayerBytes = p.out.snapshot()
		ls.In, ls.InLayerBytes = p.in.snapshot()
		p.pmu.Lock()
		ls.RTT, ls.SmoothedRTT, ls.MinRTT = p.rtt, p.srtt, p.minRTT
		ls.PingLoss, ls.RxLoss = p.pingLoss, p.rxLoss
		ls.Far, ls.FarAt, ls.OneWay, ls.TxLoss = p.far, p.farAt, p.oneWay, p.txLoss
		p.pmu.Unlock()
		s.Links = append(s.Links, ls)
	}
	return s
}

// Link returns the stats of one peer's link.
func (t *Transport) Link(id NodeID) (LinkStats, bool) {
	for _, l := range t.Stats().Links {
		if l.Peer == id {
			return l, true
		}
	}
	return LinkStats{}, false
}
