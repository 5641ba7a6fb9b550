package turn

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	pionturn "github.com/pion/turn/v5"
)

var (
	errForbiddenPeer = errors.New("turn: forbidden peer")
	errTCPRelay      = errors.New("turn: TCP relaying (RFC 6062) is not offered")
	errNoUser        = errors.New("turn: allocation without a user (EVEN-PORT) is not offered")
	errPortRequest   = errors.New("turn: requested relay port is not offered")
	errFamily        = errors.New("turn: address family not offered")
	errQuota         = errors.New("turn: allocation quota reached")
)

// relayGenerator makes relay sockets for pion: UDP only, bound to the
// relay IP, counted against their user's quota, and filtered by the peer
// policy in both directions.
type relayGenerator struct {
	s        *Server
	bind     netip.Addr // where relay sockets listen
	announce netip.Addr // what allocations report
}

func (g *relayGenerator) Validate() error { return nil }

func (g *relayGenerator) AllocatePacketConn(c pionturn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	switch {
	case c.UserID == "": // pion probing for an even port
		return nil, nil, errNoUser
	case c.RequestedPort != 0:
		return nil, nil, errPortRequest
	case (c.Network == "udp4") != g.bind.Is4():
		return nil, nil, fmt.Errorf("%w: %s", errFamily, c.Network)
	}
	if !g.s.quota.acquire(c.UserID) {
		// QuotaHandler refused all but concurrent requests already.
		g.s.refuseQuota(c.UserID)
		return nil, nil, errQuota
	}
	conn, err := net.ListenUDP(c.Network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(g.bind, 0)))
	if err != nil {
		g.s.quota.release(c.UserID)
		return nil, nil, fmt.Errorf("turn: relay socket: %w", err)
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	rc := &relayConn{conn: conn, s: g.s, user: c.UserID}
	return rc, &net.UDPAddr{IP: g.announce.AsSlice(), Port: port}, nil
}

func (g *relayGenerator) AllocateListener(pionturn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errTCPRelay
}

func (g *relayGenerator) AllocateConn(pionturn.AllocateConnConfig) (net.Conn, error) {
	return nil, errTCPRelay
}

// relayConn is one allocation's relay socket. It is the last line of the
// peer policy: a TURN permission covers a peer's IP with any port, so the
// exact address of every datagram is checked here.
type relayConn struct {
	conn *net.UDPConn
	s    *Server
	user string
	once sync.Once
}

func (c *relayConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ap, ok := addrPort(addr)
	if !ok || !c.s.policy.allowed(ap) {
		c.s.stats.sendsRefused.Add(1)
		c.s.netLog.Info("turn: datagram to forbidden peer dropped", "user", c.user, "peer", addr)
		return 0, errForbiddenPeer
	}
	return c.conn.WriteToUDPAddrPort(b, ap)
}

func (c *relayConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, ap, err := c.conn.ReadFromUDPAddrPort(b)
		if err != nil {
			return n, nil, err
		}
		if c.s.policy.allowed(ap) {
			return n, net.UDPAddrFromAddrPort(ap), nil
		}
		c.s.stats.inboundRefused.Add(1)
		c.s.netLog.Info("turn: datagram from forbidden peer dropped", "user", c.user, "peer", ap)
	}
}

func (c *relayConn) Close() error {
	c.once.Do(func() { c.s.quota.release(c.user) })
	return c.conn.Close()
}

func (c *relayConn) LocalAddr() net.Addr                { return c.conn.LocalAddr() }
func (c *relayConn) SetDeadline(t time.Time) error      { return c.conn.SetDeadline(t) }
func (c *relayConn) SetReadDeadline(t time.Time) error  { return c.conn.SetReadDeadline(t) }
func (c *relayConn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

// quota counts each user's relay sockets.
type quota struct {
	max int
	mu  sync.Mutex
	n   map[string]int // guarded by mu; users with at least one
}

// full reports whether user has max allocations already.
func (q *quota) full(user string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n[user] >= q.max
}

// acquire takes one of user's allocations, unless all are taken.
func (q *quota) acquire(user string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n[user] >= q.max {
		return false
	}
	q.n[user]++
	return true
}

func (q *quota) release(user string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n[user]--; q.n[user] <= 0 {
		delete(q.n, user)
	}
}
