package udpbatch

import (
	"net"
	"net/netip"
	"sync/atomic"
)

// DefaultReadBatch is how many datagrams one recvmmsg call may return when
// WithReadBatch is not given.
const DefaultReadBatch = 64

// DefaultReadSlot is the buffer kept per batched datagram when WithReadSlot
// is not given: pion's UDP mux reads into 8192 bytes, so with this size it
// sees every datagram exactly as it would reading the socket itself.
const DefaultReadSlot = 8192

// WithReadBatch sets how many datagrams one read syscall may take from the
// kernel (Linux; elsewhere every read is one syscall). 1 reads straight
// from the socket, one datagram per syscall; values below 1 mean
// DefaultReadBatch.
func WithReadBatch(n int) Option {
	return func(c *config) { c.readBatch = n }
}

// WithReadSlot sets the buffer size per batched datagram. A datagram larger
// than this that is not the first of its batch is cut to this size (and
// counted in Stats.ReadTruncated), where a plain read would give the reader
// as much as its own buffer holds. Values below 1 mean DefaultReadSlot.
func WithReadSlot(size int) Option {
	return func(c *config) { c.readSlot = size }
}

// readStats counts what the read side took from the kernel. It is updated
// once per syscall, not per datagram.
type readStats struct {
	packets, calls, largest, truncated atomic.Uint64
}

// note records one read syscall that returned n datagrams. Batched reads
// call it under the batch reader's mutex and unbatched ones always with 1,
// so the max needs no compare-and-swap.
func (s *readStats) note(n int) {
	s.packets.Add(uint64(n))
	s.calls.Add(1)
	if uint64(n) > s.largest.Load() {
		s.largest.Store(uint64(n))
	}
}

// ReadFromAddrPort reads the next datagram into b, like
// net.UDPConn.ReadFromUDPAddrPort: a datagram longer than b is cut to
// len(b) and the rest discarded. It allocates nothing.
func (c *Conn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	if c.reader == nil {
		n, addr, err := c.conn.ReadFromUDPAddrPort(b)
		if err == nil {
			c.reads.note(1)
		}
		return n, addr, err
	}
	return c.reader.read(b)
}

// ReadFrom implements net.PacketConn; the address is a *net.UDPAddr. It
// allocates the address, once per datagram: readers that can take a
// netip.AddrPort should call ReadFromAddrPort.
func (c *Conn) ReadFrom(b []byte) (int, net.Addr, error) {
	if c.reader == nil {
		n, addr, err := c.conn.ReadFrom(b)
		if err == nil {
			c.reads.note(1)
		}
		return n, addr, err
	}
	n, addr, err := c.reader.read(b)
	if err != nil {
		return n, nil, err
	}
	return n, newUDPAddr(addr), nil
}

// udpAddrBox holds a UDPAddr and its IP in one allocation, where
// net.UDPConn.ReadFrom makes two.
type udpAddrBox struct {
	addr net.UDPAddr
	ip   [16]byte
}

// newUDPAddr converts as net.UDPConn.ReadFrom would: a 4-byte IP from an
// AF_INET socket, 16 bytes (IPv4-mapped or not) from an AF_INET6 one.
func newUDPAddr(ap netip.AddrPort) *net.UDPAddr {
	box := &udpAddrBox{}
	ip := ap.Addr()
	if ip.Is4() {
		v4 := ip.As4()
		copy(box.ip[:], v4[:])
		box.addr.IP = box.ip[:4:4]
	} else {
		box.ip = ip.As16()
		box.addr.IP = box.ip[:]
		box.addr.Zone = ip.Zone()
	}
	box.addr.Port = int(ap.Port())
	return &box.addr
}
