package turn

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Timeouts for TCP and TLS connections; variables so tests can shorten
// them (Start copies them). A client that has allocated refreshes its allocation before its
// lifetime (10 minutes) ends, so a longer silence means it is gone.
var (
	helloTimeout = 10 * time.Second // for the TLS handshake and the first frame
	idleTimeout  = 11 * time.Minute // between later frames
)

// maxStreamConns bounds the open connections of one TCP or TLS listener.
const maxStreamConns = 4096

// streamBuffer is the read buffer of one connection; it holds any frame
// pion would accept (pion drops frames of inboundMTU bytes or more).
const streamBuffer = 2048

var (
	errNotTURN       = errors.New("not a STUN or ChannelData frame")
	errFrameTooLarge = errors.New("frame too large")
)

// streamListener hands pion connections that deliver one whole TURN
// frame per Read, so that each request's peers are recorded just before
// pion handles it (see pendingPeers).
type streamListener struct {
	net.Listener
	s     *Server
	slots chan struct{} // one token per open connection

	mu    sync.Mutex
	conns map[netip.AddrPort]*streamConn // guarded by mu; by client address
}

func newStreamListener(l net.Listener, s *Server) *streamListener {
	return &streamListener{
		Listener: l,
		s:        s,
		slots:    make(chan struct{}, maxStreamConns),
		conns:    make(map[netip.AddrPort]*streamConn),
	}
}

// Accept returns the next connection. It returns an error only when the
// listener is closed: pion's accept loop ends on any error and is never
// restarted, so a transient one (out of file descriptors) is waited out.
// The TLS handshake happens later, in the connection's own goroutine, so
// a slow or bogus client cannot hold up the others.
func (l *streamListener) Accept() (net.Conn, error) {
	backoff := 5 * time.Millisecond
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			l.s.netLog.Warn("turn: accept failed", "listener", l.Addr(), "err", err)
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		select {
		case l.slots <- struct{}{}:
		default:
			l.s.stats.connsRefused.Add(1)
			l.s.netLog.Info("turn: connection refused: too many open", "listener", l.Addr(), "client", c.RemoteAddr())
			c.Close()
			continue
		}
		client, _ := addrPort(c.RemoteAddr())
		sc := &streamConn{Conn: c, l: l, r: bufio.NewReaderSize(c, streamBuffer), client: client}
		l.mu.Lock()
		l.conns[client] = sc
		l.mu.Unlock()
		return sc, nil
	}
}

// lookup finds the pending peers of the connection from client.
func (l *streamListener) lookup(client netip.AddrPort) *pendingPeers {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c := l.conns[client]; c != nil {
		return &c.pending
	}
	return nil
}

// closeAll closes every open connection; pion's Close leaves them open.
func (l *streamListener) closeAll() {
	l.mu.Lock()
	conns := make([]*streamConn, 0, len(l.conns))
	for _, c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// streamConn is one TCP or TLS connection from a client.
type streamConn struct {
	net.Conn
	l       *streamListener
	r       *bufio.Reader
	client  netip.AddrPort
	pending pendingPeers
	started bool // a frame was read; only the reading goroutine touches it
	once    sync.Once
}

// Read reads exactly one frame into b, or fails, which makes pion close
// the connection.
func (c *streamConn) Read(b []byte) (int, error) {
	timeout := c.l.s.idleTimeout
	if !c.started {
		timeout = c.l.s.helloTimeout
	}
	if err := c.Conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return 0, fmt.Errorf("turn: set deadline: %w", err)
	}
	n, err := readFrame(c.r, b)
	if err != nil {
		if !errors.Is(err, net.ErrClosed) {
			c.l.s.netLog.Debug("turn: connection closed", "client", c.RemoteAddr(), "err", err)
		}
		return 0, err
	}
	c.started = true
	c.pending.record(c.client, b[:n])
	return n, nil
}

func (c *streamConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		if c.l.conns[c.client] == c {
			delete(c.l.conns, c.client)
		}
		c.l.mu.Unlock()
		<-c.l.slots
	})
	return c.Conn.Close()
}

// readFrame copies the next STUN message or ChannelData message (with its
// padding, RFC 8656 section 12.5) from r into dst. A frame that does not
// fit in dst is an error: pion would drop it anyway.
func readFrame(r *bufio.Reader, dst []byte) (int, error) {
	h, err := r.Peek(4)
	if err != nil {
		return 0, err
	}
	length := int(binary.BigEndian.Uint16(h[2:4]))
	var size int
	switch h[0] >> 6 {
	case 0: // STUN: a 20-byte header the length leaves out
		if h, err = r.Peek(20); err != nil {
			return 0, err
		}
		if binary.BigEndian.Uint32(h[4:8]) != magicCookie {
			return 0, errNotTURN
		}
		size = 20 + length
	case 1: // ChannelData
		size = 4 + (length+3)&^3
	default:
		return 0, errNotTURN
	}
	if size >= len(dst) || size > r.Size() {
		return 0, fmt.Errorf("%w: %d bytes", errFrameTooLarge, size)
	}
	f, err := r.Peek(size)
	if err != nil {
		return 0, err
	}
	n := copy(dst, f)
	_, _ = r.Discard(n) // cannot fail: the bytes are buffered
	return n, nil
}

const magicCookie = 0x2112a442
