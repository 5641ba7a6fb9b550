package linkemu

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
)

// Config sets up a Link.
type Config struct {
	Up   Impairment // from the participant towards the network (writes)
	Down Impairment // from the network towards the participant (reads)
	// Seed makes the random loss and jitter reproducible.
	Seed int64
}

// DirStats counts what one direction of a link did.
type DirStats struct {
	Packets   uint64 // delivered
	Bytes     uint64 // delivered
	LostRand  uint64 // lost at random
	LostQueue uint64 // dropped behind the bandwidth cap
}

// Stats counts both directions.
type Stats struct {
	Up, Down DirStats
}

// Link is an emulated access link. It is a transport.Net (pass it to pion's
// SettingEngine.SetNet): every UDP socket opened through it shares the same
// two shapers, as all of a host's traffic shares one access link. Other
// networks (TCP, name resolution, interfaces) pass through to the host.
type Link struct {
	transport.Net

	mu   sync.Mutex // guards up and down
	up   *shaper
	down *shaper

	upStats, downStats dirCounters
}

type dirCounters struct {
	packets, bytes, lostRand, lostQueue atomic.Uint64
}

func (d *dirCounters) load() DirStats {
	return DirStats{
		Packets: d.packets.Load(), Bytes: d.bytes.Load(),
		LostRand: d.lostRand.Load(), LostQueue: d.lostQueue.Load(),
	}
}

// New returns a link over the host's network stack.
func New(cfg Config) (*Link, error) {
	if err := cfg.Up.Validate(); err != nil {
		return nil, fmt.Errorf("up: %w", err)
	}
	if err := cfg.Down.Validate(); err != nil {
		return nil, fmt.Errorf("down: %w", err)
	}
	host, err := stdnet.NewNet()
	if err != nil {
		return nil, fmt.Errorf("linkemu: host network: %w", err)
	}
	return &Link{
		Net:  host,
		up:   newShaper(cfg.Up, cfg.Seed),
		down: newShaper(cfg.Down, cfg.Seed+1),
	}, nil
}

// Set changes both directions at run time.
func (l *Link) Set(up, down Impairment) error {
	if err := up.Validate(); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	if err := down.Validate(); err != nil {
		return fmt.Errorf("down: %w", err)
	}
	l.mu.Lock()
	l.up.set(up)
	l.down.set(down)
	l.mu.Unlock()
	return nil
}

// SetDown changes only the direction towards the participant.
func (l *Link) SetDown(down Impairment) error {
	if err := down.Validate(); err != nil {
		return fmt.Errorf("down: %w", err)
	}
	l.mu.Lock()
	l.down.set(down)
	l.mu.Unlock()
	return nil
}

// SetUp changes only the direction from the participant.
func (l *Link) SetUp(up Impairment) error {
	if err := up.Validate(); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	l.mu.Lock()
	l.up.set(up)
	l.mu.Unlock()
	return nil
}

// Impairments returns the current settings.
func (l *Link) Impairments() (up, down Impairment) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.up.imp, l.down.imp
}

// Stats returns the counters of both directions.
func (l *Link) Stats() Stats {
	return Stats{Up: l.upStats.load(), Down: l.downStats.load()}
}

func (l *Link) admit(up bool, size int) (time.Time, bool) {
	s, c := l.down, &l.downStats
	if up {
		s, c = l.up, &l.upStats
	}
	l.mu.Lock()
	at, v := s.admit(time.Now(), size)
	l.mu.Unlock()
	switch v {
	case LostRand:
		c.lostRand.Add(1)
		return at, false
	case LostQueue:
		c.lostQueue.Add(1)
		return at, false
	}
	c.packets.Add(1)
	c.bytes.Add(uint64(size))
	return at, true
}

// ListenUDP opens an impaired UDP socket.
func (l *Link) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := l.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return l.wrap(c, nil)
}

// ListenPacket opens an impaired socket for UDP networks and a plain one otherwise.
func (l *Link) ListenPacket(network, address string) (net.PacketConn, error) {
	switch network {
	case "udp", "udp4", "udp6":
	default:
		return l.Net.ListenPacket(network, address)
	}
	addr, err := l.Net.ResolveUDPAddr(network, address)
	if err != nil {
		return nil, err
	}
	return l.ListenUDP(network, addr)
}

// DialUDP opens an impaired connected UDP socket.
func (l *Link) DialUDP(network string, laddr, raddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := l.Net.DialUDP(network, laddr, raddr)
	if err != nil {
		return nil, err
	}
	return l.wrap(c, raddr)
}

func (l *Link) wrap(c transport.UDPConn, raddr *net.UDPAddr) (*conn, error) {
	ic := &conn{
		link:  l,
		real:  c,
		raddr: raddr,
		in:    newDelayLine(),
		out:   newDelayLine(),
		done:  make(chan struct{}),
	}
	ic.wg.Add(2)
	go ic.readLoop()
	go ic.writeLoop()
	return ic, nil
}

// packet is a datagram waiting in a delay line.
type packet struct {
	buf  []byte
	addr *net.UDPAddr
	at   time.Time
}

var errClosed = net.ErrClosed

// delayLine is a FIFO of packets released at their times; times are
// monotonic (the shaper guarantees it), so the head is always due first.
type delayLine struct {
	mu       sync.Mutex
	q        []packet
	closed   bool
	deadline time.Time
	wake     chan struct{}
}

func newDelayLine() *delayLine {
	return &delayLine{wake: make(chan struct{}, 1)}
}

func (d *delayLine) notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *delayLine) push(p packet) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.q = append(d.q, p)
	d.mu.Unlock()
	d.notify()
}

func (d *delayLine) close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.notify()
}

func (d *delayLine) setDeadline(t time.Time) {
	d.mu.Lock()
	d.deadline = t
	d.mu.Unlock()
	d.notify()
}

// pop waits for the head packet to be due, the deadline to pass or the line
// to close.
func (d *delayLine) pop() (packet, error) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			return packet{}, errClosed
		}
		now := time.Now()
		wait := time.Hour
		if len(d.q) > 0 {
			if wait = d.q[0].at.Sub(now); wait <= 0 {
				p := d.q[0]
				d.q[0] = packet{}
				d.q = d.q[1:]
				d.mu.Unlock()
				return p, nil
			}
		}
		if !d.deadline.IsZero() {
			left := d.deadline.Sub(now)
			if left <= 0 {
				d.mu.Unlock()
				return packet{}, timeoutError{}
			}
			wait = min(wait, left)
		}
		d.mu.Unlock()
		timer.Reset(wait)
		select {
		case <-d.wake:
		case <-timer.C:
		}
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "linkemu: i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

var bufPool = sync.Pool{New: func() any { b := make([]byte, 1<<16); return &b }}

// conn is one impaired UDP socket: writes pass through the up shaper and a
// delay line before reaching the host socket; a reader goroutine passes
// datagrams from the host socket through the down shaper to ReadFrom.
type conn struct {
	link  *Link
	real  transport.UDPConn
	raddr *net.UDPAddr

	in, out *delayLine
	done    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

func (c *conn) readLoop() {
	defer c.wg.Done()
	for {
		bp := bufPool.Get().(*[]byte)
		n, addr, err := c.real.ReadFromUDP(*bp)
		if err != nil {
			bufPool.Put(bp)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			c.in.close()
			return
		}
		at, ok := c.link.admit(false, n)
		if !ok {
			bufPool.Put(bp)
			continue
		}
		buf := append([]byte(nil), (*bp)[:n]...)
		bufPool.Put(bp)
		c.in.push(packet{buf: buf, addr: addr, at: at})
	}
}

func (c *conn) writeLoop() {
	defer c.wg.Done()
	for {
		p, err := c.out.pop()
		if err != nil {
			return
		}
		// A failed send is a lost datagram, as on a real network.
		if p.addr == nil {
			_, _ = c.real.Write(p.buf)
		} else {
			_, _ = c.real.WriteToUDP(p.buf, p.addr)
		}
	}
}

func (c *conn) send(b []byte, addr *net.UDPAddr) (int, error) {
	select {
	case <-c.done:
		return 0, errClosed
	default:
	}
	at, ok := c.link.admit(true, len(b))
	if ok {
		c.out.push(packet{buf: append([]byte(nil), b...), addr: addr, at: at})
	}
	return len(b), nil
}

// Close stops both directions and closes the host socket.
func (c *conn) Close() error {
	var err error
	c.once.Do(func() {
		close(c.done)
		c.out.close()
		c.in.close()
		err = c.real.Close()
		c.wg.Wait()
	})
	return err
}

func (c *conn) LocalAddr() net.Addr { return c.real.LocalAddr() }

func (c *conn) RemoteAddr() net.Addr {
	if c.raddr == nil {
		return nil
	}
	return c.raddr
}

func (c *conn) SetDeadline(t time.Time) error {
	c.in.setDeadline(t)
	return nil
}

func (c *conn) SetReadDeadline(t time.Time) error {
	c.in.setDeadline(t)
	return nil
}

// SetWriteDeadline is accepted and ignored: writes never block.
func (c *conn) SetWriteDeadline(time.Time) error { return nil }

func (c *conn) SetReadBuffer(n int) error  { return c.real.SetReadBuffer(n) }
func (c *conn) SetWriteBuffer(n int) error { return c.real.SetWriteBuffer(n) }

func (c *conn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	p, err := c.in.pop()
	if err != nil {
		return 0, nil, err
	}
	return copy(b, p.buf), p.addr, nil
}

func (c *conn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.ReadFromUDP(b)
	if err != nil {
		return n, nil, err
	}
	return n, addr, nil
}

func (c *conn) Read(b []byte) (int, error) {
	n, _, err := c.ReadFromUDP(b)
	return n, err
}

// ReadMsgUDP delivers no out-of-band data.
func (c *conn) ReadMsgUDP(b, _ []byte) (n, oobn, flags int, addr *net.UDPAddr, err error) {
	n, addr, err = c.ReadFromUDP(b)
	return n, 0, 0, addr, err
}

func (c *conn) Write(b []byte) (int, error) {
	if c.raddr == nil {
		return 0, errors.New("linkemu: write on an unconnected socket")
	}
	return c.send(b, nil)
}

func (c *conn) WriteToUDP(b []byte, addr *net.UDPAddr) (int, error) {
	if addr == nil {
		return 0, errors.New("linkemu: write to a nil address")
	}
	return c.send(b, addr)
}

func (c *conn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, fmt.Errorf("linkemu: write to %T: %w", addr, transport.ErrNotUDPAddress)
	}
	return c.send(b, ua)
}

// WriteMsgUDP sends no out-of-band data.
func (c *conn) WriteMsgUDP(b, _ []byte, addr *net.UDPAddr) (n, oobn int, err error) {
	if addr == nil {
		n, err = c.Write(b)
	} else {
		n, err = c.WriteToUDP(b, addr)
	}
	return n, 0, err
}
