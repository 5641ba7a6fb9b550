// Package udpbatch wraps a UDP socket so that bursts of writes go to the kernel in one sendmmsg call.
//
// A Conn behaves like the *net.UDPConn it wraps until someone calls Hold.
// From then until the matching Release, writes from every goroutine are
// copied into a preallocated queue; Release hands the queue to the kernel in
// as few sendmmsg calls as possible (Linux; elsewhere one write per packet).
// The media path holds the socket around one packet's fan-out to all its
// receivers, turning N sendto calls into one syscall.
//
// Delay bound: a queued packet is sent no later than the Release of the holder
// that was active when it was written (or earlier, when the queue fills). So
// the longest delay any packet sees is the longest Hold→Release span of any
// holder, plus the time to send what was queued ahead of it. Writes made
// while nobody holds go out at once, so keep Hold spans short (one fan-out,
// no blocking calls in between).
//
// Errors of queued packets cannot be returned to their writers, which have
// already returned: such a packet is skipped, counted in Stats and logged
// (the first time per errno, then at most once per ten seconds), and the
// rest of the batch is still sent.
//
// Reads are batched too (Linux): when a read finds nothing buffered, one
// recvmmsg call takes every datagram the kernel has queued, up to
// WithReadBatch, and the following reads are served from preallocated
// slots without a syscall. The call waits only for the first datagram, so
// a lone datagram is not delayed.
package udpbatch

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultQueueLen is the queue size used when WithQueueLen is not given.
const DefaultQueueLen = 64

// slotSize is the buffer preallocated per queued packet: a WebRTC media
// packet fits, larger ones grow their slot once and keep it.
const slotSize = 1500

// maxBatches bounds the queues that can exist at once (one being filled, the
// rest waiting for or in the kernel). When all are in use, writers wait for
// the flush, which is the back-pressure a blocking sendto would give.
const maxBatches = 4

// logInterval is how often a recurring write error is logged again.
const logInterval = 10 * time.Second

// Option configures a Conn.
type Option func(*config)

type config struct {
	queueLen  int
	readBatch int
	readSlot  int
	logger    *slog.Logger
	now       func() time.Time
}

// WithQueueLen sets how many packets are queued before a flush is forced.
// Values below 1 mean DefaultQueueLen.
func WithQueueLen(n int) Option {
	return func(c *config) { c.queueLen = n }
}

// WithLogger sets the logger for write errors of queued packets.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// withClock lets tests drive the log rate limit.
func withClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// Stats counts what a Conn has sent and received.
type Stats struct {
	Packets      uint64 // datagrams accepted by the kernel
	Direct       uint64 // of Packets, those sent at once because nobody held the socket
	Batches      uint64 // sendmmsg calls that sent at least one datagram
	LargestBatch uint64 // most datagrams accepted by one sendmmsg call
	Errors       uint64 // datagrams the kernel refused, queued or direct

	ReadPackets   uint64 // datagrams taken from the kernel
	ReadCalls     uint64 // read syscalls that returned at least one datagram
	LargestRead   uint64 // most datagrams returned by one read syscall
	ReadTruncated uint64 // batched datagrams cut to the slot size (WithReadSlot)
}

// Conn is a UDP socket whose writes can be held and sent in batches and
// whose reads are served from batches. It implements net.PacketConn and
// pion/ice's AddrPortReaderWriter. All methods are safe for concurrent use.
type Conn struct {
	conn   *net.UDPConn
	family int // AF_INET or AF_INET6: decides the sockaddr built per packet
	cfg    config

	reader     *batchReader // nil: reads go straight to the socket
	reads      readStats
	readClosed atomic.Bool // set by Close: buffered datagrams are no longer returned

	mu   sync.Mutex
	cond sync.Cond // signalled (with mu) when a batch is freed or sending stops
	// Fields below are guarded by mu.
	holders int
	closed  bool
	sending bool     // one goroutine is in sendLoop; only it touches pending[0]
	cur     *batch   // being filled; nil while every batch is pending
	pending []*batch // FIFO of full or released batches, oldest first
	free    []*batch

	sender sender // platform state; used only by the goroutine in sendLoop

	beforeSend func() // test hook: runs in sendLoop before each batch

	packets, direct, batches, largest, errs atomic.Uint64

	logMu  sync.Mutex
	logged map[syscall.Errno]*errLog // guarded by logMu
}

type errLog struct {
	last       time.Time
	suppressed uint64
}

// New wraps conn. The Conn owns conn from now on: close the Conn, not conn.
func New(conn *net.UDPConn, opts ...Option) (*Conn, error) {
	cfg := config{queueLen: DefaultQueueLen, readBatch: DefaultReadBatch, readSlot: DefaultReadSlot,
		logger: slog.Default(), now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.queueLen < 1 {
		cfg.queueLen = DefaultQueueLen
	}
	if cfg.readBatch < 1 {
		cfg.readBatch = DefaultReadBatch
	}
	if cfg.readSlot < 1 {
		cfg.readSlot = DefaultReadSlot
	}
	c := &Conn{conn: conn, cfg: cfg}
	c.cond.L = &c.mu
	family, err := socketFamily(conn)
	if err != nil {
		return nil, fmt.Errorf("udpbatch: socket family: %w", err)
	}
	c.family = family
	if err := c.sender.init(conn); err != nil {
		return nil, fmt.Errorf("udpbatch: %w", err)
	}
	c.reader, err = newBatchReader(conn, family, cfg.readBatch, cfg.readSlot, &c.reads, &c.readClosed)
	if err != nil {
		return nil, fmt.Errorf("udpbatch: batched reads: %w", err)
	}
	c.cur = newBatch(cfg.queueLen, family)
	c.pending = make([]*batch, 0, maxBatches)
	c.free = make([]*batch, 0, maxBatches)
	for range maxBatches - 1 {
		c.free = append(c.free, newBatch(cfg.queueLen, family))
	}
	return c, nil
}

// Hold makes writes queue instead of going out, until the matching Release.
// Holds nest and may come from many goroutines; each needs its own Release.
func (c *Conn) Hold() {
	c.mu.Lock()
	c.holders++
	c.mu.Unlock()
}

// Release ends one Hold and sends everything queued so far, by every writer.
// The packets may instead be sent by a goroutine that is already flushing,
// right after its current batch, so Release does not wait behind it.
// Release without a matching Hold panics, like unlocking an unlocked mutex.
func (c *Conn) Release() {
	c.mu.Lock()
	if c.holders == 0 {
		c.mu.Unlock()
		panic("udpbatch: Release without Hold")
	}
	c.holders--
	c.submitLocked()
	run := c.claimSenderLocked()
	c.mu.Unlock()
	if run {
		c.sendLoop()
	}
}

// WriteToAddrPort sends b to addr, or queues a copy while the socket is held.
// Queued writes report success; their errors go to Stats and the log.
func (c *Conn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	if err := c.checkAddr(addr); err != nil {
		return 0, &net.OpError{Op: "write", Net: "udp", Source: c.conn.LocalAddr(), Err: err}
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, fmt.Errorf("udpbatch: write: %w", net.ErrClosed)
	}
	if c.holders == 0 && !c.sending {
		// Nothing queued (Release and sendLoop empty the queue before
		// holders and sending both reach zero), so nothing to overtake.
		c.mu.Unlock()
		n, err := c.conn.WriteToUDPAddrPort(b, addr)
		if err != nil {
			c.errs.Add(1)
			return n, err
		}
		c.packets.Add(1)
		c.direct.Add(1)
		return n, nil
	}
	for c.cur == nil {
		c.cond.Wait()
	}
	if c.closed {
		c.mu.Unlock()
		return 0, fmt.Errorf("udpbatch: write: %w", net.ErrClosed)
	}
	c.cur.add(b, addr)
	// Unheld writes queue only to stay behind a flush in progress: they go
	// with the next batch instead of waiting for a Release.
	if c.cur.n == len(c.cur.bufs) || c.holders == 0 {
		c.submitLocked()
	}
	run := c.claimSenderLocked()
	c.mu.Unlock()
	if run {
		c.sendLoop()
	}
	return len(b), nil
}

// WriteTo implements net.PacketConn; addr must be a *net.UDPAddr.
func (c *Conn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok || ua == nil {
		return 0, &net.OpError{Op: "write", Net: "udp", Source: c.conn.LocalAddr(), Addr: addr, Err: syscall.EINVAL}
	}
	return c.WriteToAddrPort(b, ua.AddrPort())
}

// Close sends what is queued, then closes the socket. Writes and reads
// after Close fail with net.ErrClosed, and a read waiting for a datagram
// returns with it.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("udpbatch: close: %w", net.ErrClosed)
	}
	c.closed = true
	c.readClosed.Store(true)
	c.submitLocked()
	run := c.claimSenderLocked()
	c.mu.Unlock()
	if run {
		c.sendLoop()
	}
	c.mu.Lock()
	for c.sending {
		c.cond.Wait()
	}
	c.mu.Unlock()
	return c.conn.Close()
}

// LocalAddr returns the socket's address (a *net.UDPAddr, as pion expects).
func (c *Conn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// SetDeadline sets the socket's read and write deadlines. A write deadline
// also limits how long a flush waits for buffer space; a read deadline
// limits how long a read waits for the kernel, not the return of datagrams
// already batched.
func (c *Conn) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// SetReadDeadline sets the socket's read deadline. Datagrams already taken
// from the kernel in a batch are still returned after it.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the socket's write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

// Stats returns the counters so far.
func (c *Conn) Stats() Stats {
	return Stats{
		Packets:      c.packets.Load(),
		Direct:       c.direct.Load(),
		Batches:      c.batches.Load(),
		LargestBatch: c.largest.Load(),
		Errors:       c.errs.Load(),

		ReadPackets:   c.reads.packets.Load(),
		ReadCalls:     c.reads.calls.Load(),
		LargestRead:   c.reads.largest.Load(),
		ReadTruncated: c.reads.truncated.Load(),
	}
}

// checkAddr rejects what the kernel would refuse for every packet, so that
// the writer hears about it instead of the log. It mirrors the conversions
// of net.UDPConn.WriteToUDPAddrPort.
func (c *Conn) checkAddr(addr netip.AddrPort) error {
	if !addr.IsValid() {
		return errInvalidAddr
	}
	if c.family == syscall.AF_INET && !addr.Addr().Unmap().Is4() {
		return errIPv6OnIPv4
	}
	return nil
}

var (
	errInvalidAddr = errors.New("invalid destination address")
	errIPv6OnIPv4  = errors.New("IPv6 destination on an IPv4 socket")
)

// submitLocked moves a non-empty cur to pending and takes a free batch as
// the new cur (nil if none is free: writers then wait for sendLoop).
// Called with mu held.
func (c *Conn) submitLocked() {
	if c.cur == nil || c.cur.n == 0 {
		return
	}
	c.pending = append(c.pending, c.cur)
	c.cur = nil
	if n := len(c.free); n > 0 {
		c.cur = c.free[n-1]
		c.free = c.free[:n-1]
	}
}

// claimSenderLocked reports whether the caller must run sendLoop: there is
// something pending and nobody else is sending it. Called with mu held.
func (c *Conn) claimSenderLocked() bool {
	if c.sending || len(c.pending) == 0 {
		return false
	}
	c.sending = true
	return true
}

// sendLoop sends pending batches oldest first until none is left. Only one
// goroutine runs it at a time, which keeps each writer's packets in order
// and keeps the syscall out of mu, so writers keep queueing meanwhile.
func (c *Conn) sendLoop() {
	c.mu.Lock()
	for len(c.pending) > 0 {
		bt := c.pending[0]
		c.mu.Unlock()
		if c.beforeSend != nil {
			c.beforeSend()
		}
		c.sendBatch(bt)
		bt.reset()
		c.mu.Lock()
		copy(c.pending, c.pending[1:])
		c.pending[len(c.pending)-1] = nil
		c.pending = c.pending[:len(c.pending)-1]
		if c.cur == nil {
			c.cur = bt
			c.cond.Broadcast()
		} else {
			c.free = append(c.free, bt)
		}
	}
	c.sending = false
	c.cond.Broadcast()
	c.mu.Unlock()
}

// noteSent records one successful sendmmsg (or fallback batch) of n packets.
// Called only from sendLoop, so the max needs no compare-and-swap.
func (c *Conn) noteSent(n int) {
	if n <= 0 {
		return
	}
	c.packets.Add(uint64(n))
	c.batches.Add(1)
	if uint64(n) > c.largest.Load() {
		c.largest.Store(uint64(n))
	}
}

// noteError counts a queued packet the kernel refused and logs it, the
// first time per errno and then at most once per logInterval.
func (c *Conn) noteError(err error, addr netip.AddrPort) {
	c.errs.Add(1)
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		errno = 0
	}
	now := c.cfg.now()
	c.logMu.Lock()
	if c.logged == nil {
		c.logged = make(map[syscall.Errno]*errLog)
	}
	l := c.logged[errno]
	if l == nil {
		l = &errLog{}
		c.logged[errno] = l
	} else if now.Sub(l.last) < logInterval {
		l.suppressed++
		c.logMu.Unlock()
		return
	}
	suppressed := l.suppressed
	l.last, l.suppressed = now, 0
	c.logMu.Unlock()
	c.cfg.logger.Warn("udpbatch: queued packet not sent",
		"dst", addr, "err", err, "suppressed_since_last_log", suppressed)
}
