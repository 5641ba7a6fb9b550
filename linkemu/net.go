package linkemu

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
)

// NetConfig sets up a Net.
type NetConfig struct {
	Up   Params // from the participant towards the network (writes)
	Down Params // from the network towards the participant (reads)
	// Seed makes the random loss and jitter reproducible.
	Seed uint64
}

// NetStats counts both directions of a Net.
type NetStats struct {
	Up, Down Stats
}

// Net is an emulated access link. It is a transport.Net (pass it to pion's
// SettingEngine.SetNet): every UDP socket opened through it shares the same
// two directions, as all of a host's traffic shares one access link. Other
// networks (TCP, name resolution, interfaces) pass through to the host.
type Net struct {
	transport.Net

	mu   sync.Mutex // guards up and down
	up   shaper
	down shaper

	upStats, downStats counters
}

// NewNet returns an emulated access link over the host's network stack.
func NewNet(cfg NetConfig) (*Net, error) {
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
	return &Net{
		Net:  host,
		up:   newShaper(cfg.Up, newRand(cfg.Seed, 1)),
		down: newShaper(cfg.Down, newRand(cfg.Seed, 2)),
	}, nil
}

// Set changes both directions for datagrams offered from now on.
func (n *Net) Set(up, down Params) error {
	if err := up.Validate(); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	if err := down.Validate(); err != nil {
		return fmt.Errorf("down: %w", err)
	}
	n.mu.Lock()
	n.up.p, n.down.p = up, down
	n.mu.Unlock()
	return nil
}

// SetDown changes only the direction towards the participant.
func (n *Net) SetDown(down Params) error {
	if err := down.Validate(); err != nil {
		return fmt.Errorf("down: %w", err)
	}
	n.mu.Lock()
	n.down.p = down
	n.mu.Unlock()
	return nil
}

// SetUp changes only the direction from the participant.
func (n *Net) SetUp(up Params) error {
	if err := up.Validate(); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	n.mu.Lock()
	n.up.p = up
	n.mu.Unlock()
	return nil
}

// Params returns the current settings of both directions.
func (n *Net) Params() (up, down Params) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.up.p, n.down.p
}

// Stats returns the counters of both directions. Delivered counts datagrams
// handed to the host socket (up) or to a reader (down).
func (n *Net) Stats() NetStats {
	return NetStats{Up: n.upStats.load(), Down: n.downStats.load()}
}

// admit runs a datagram of size bytes through one direction.
func (n *Net) admit(up bool, size int) (time.Time, bool) {
	s, c := &n.down, &n.downStats
	if up {
		s, c = &n.up, &n.upStats
	}
	n.mu.Lock()
	at, v := s.admit(time.Now(), size)
	n.mu.Unlock()
	c.count(v)
	return at, v == Queued
}

// ListenUDP opens an impaired UDP socket.
func (n *Net) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return n.wrap(c, nil)
}

// ListenPacket opens an impaired socket for UDP networks and a plain one otherwise.
func (n *Net) ListenPacket(network, address string) (net.PacketConn, error) {
	switch network {
	case "udp", "udp4", "udp6":
	default:
		return n.Net.ListenPacket(network, address)
	}
	addr, err := n.Net.ResolveUDPAddr(network, address)
	if err != nil {
		return nil, err
	}
	return n.ListenUDP(network, addr)
}

// DialUDP opens an impaired connected UDP socket.
func (n *Net) DialUDP(network string, laddr, raddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.DialUDP(network, laddr, raddr)
	if err != nil {
		return nil, err
	}
	return n.wrap(c, raddr)
}

func (n *Net) wrap(c transport.UDPConn, raddr *net.UDPAddr) (*conn, error) {
	ic := &conn{
		link:  n,
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

// delayLine holds packets until their arrival times, earliest first.
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
	// Arrival times only go backwards with Params.Reorder, so the insertion
	// point is almost always the end.
	i := len(d.q)
	for i > 0 && d.q[i-1].at.After(p.at) {
		i--
	}
	d.q = slices.Insert(d.q, i, p)
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
	link  *Net
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
		c.link.upStats.delivered.Add(1)
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
	c.link.downStats.delivered.Add(1)
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
