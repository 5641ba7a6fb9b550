//go:build linux

package udpbatch

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchReader serves reads from datagrams taken from the kernel in one
// recvmmsg call. Message 0 of each call lands straight in the caller's
// buffer, so a lone datagram costs what a recvfrom does (one syscall, no
// copy); the rest wait in preallocated slots for the next reads. Every
// pointer in hdrs is set up once in newBatchReader, except message 0's
// buffer, which is the caller's for the duration of one call.
type batchReader struct {
	family int
	laddr  net.Addr
	stats  *readStats
	closed *atomic.Bool

	mu sync.Mutex
	// Fields below are guarded by mu.
	next, n int // hdrs[next:n] hold datagrams not yet returned
	slots   [][]byte
	iovs    []unix.Iovec
	sa4     []unix.RawSockaddrInet4
	sa6     []unix.RawSockaddrInet6
	hdrs    []unix.Mmsghdr
	empty   [1]byte // message 0's buffer when the caller's is empty

	raw   syscall.RawConn
	fn    func(fd uintptr) bool // r.recvmmsg, bound once so a read allocates nothing
	vlen  int                   // how many datagrams the callback asks for
	got   int                   // its result
	errno syscall.Errno         // its error, 0 if none

	onEmpty func() // test hook: runs in the callback when the socket was found empty

	zoneMu sync.Mutex
	zones  map[uint32]string // guarded by zoneMu
}

// newBatchReader returns nil when n is 1: the Conn then reads straight from
// the socket.
func newBatchReader(conn *net.UDPConn, family, n, slot int, stats *readStats, closed *atomic.Bool) (*batchReader, error) {
	if n <= 1 {
		return nil, nil
	}
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &batchReader{
		family: family,
		laddr:  conn.LocalAddr(),
		stats:  stats,
		closed: closed,
		slots:  make([][]byte, n),
		iovs:   make([]unix.Iovec, n),
		hdrs:   make([]unix.Mmsghdr, n),
		raw:    raw,
	}
	r.fn = r.recvmmsg
	if family == unix.AF_INET {
		r.sa4 = make([]unix.RawSockaddrInet4, n)
	} else {
		r.sa6 = make([]unix.RawSockaddrInet6, n)
	}
	// One allocation for all slots; slot 0 is never used (message 0 goes
	// to the caller), so it stays empty.
	mem := make([]byte, (n-1)*slot)
	for i := range n {
		h := &r.hdrs[i].Hdr
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
		if family == unix.AF_INET {
			h.Name = (*byte)(unsafe.Pointer(&r.sa4[i]))
		} else {
			h.Name = (*byte)(unsafe.Pointer(&r.sa6[i]))
		}
		if i == 0 {
			continue
		}
		r.slots[i] = mem[(i-1)*slot : i*slot : i*slot]
		r.iovs[i].Base = &r.slots[i][0]
		r.iovs[i].SetLen(slot)
	}
	r.resetNames(n)
	return r, nil
}

// read returns the next datagram: a buffered one if any, else the first of
// a new batch, waiting for it as a recvfrom would. Datagrams already
// buffered are returned even past the read deadline: it bounds waiting for
// the kernel, and they are no longer in it.
func (r *batchReader) read(b []byte) (int, netip.AddrPort, error) {
	if r.closed.Load() {
		return 0, netip.AddrPort{}, r.opError(net.ErrClosed)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.next < r.n {
		i := r.next
		r.next++
		h := &r.hdrs[i]
		if h.Hdr.Flags&unix.MSG_TRUNC != 0 {
			r.stats.truncated.Add(1)
		}
		// Truncated to the caller's buffer, the rest discarded, as a
		// recvfrom into b would.
		n := copy(b, r.slots[i][:h.Len])
		return n, r.addr(i), nil
	}

	r.resetNames(r.n)
	r.next, r.n = 0, 0
	iov := &r.iovs[0]
	if len(b) > 0 {
		iov.Base = &b[0]
	} else {
		iov.Base = &r.empty[0]
	}
	iov.SetLen(len(b))
	r.vlen = len(r.hdrs)
	err := r.raw.Read(r.fn)
	iov.Base = nil // do not keep the caller's buffer alive
	if err != nil {
		// RawConn wraps the poller's error (closed, deadline) in an
		// OpError of its own; report it as net.UDPConn would.
		var oe *net.OpError
		if errors.As(err, &oe) {
			err = oe.Err
		}
		return 0, netip.AddrPort{}, r.opError(err)
	}
	if r.errno != 0 {
		return 0, netip.AddrPort{}, r.opError(os.NewSyscallError("recvmmsg", r.errno))
	}
	r.next, r.n = 1, r.got
	r.stats.note(r.got)
	return int(r.hdrs[0].Len), r.addr(0), nil
}

// recvmmsg runs inside RawConn.Read. MSG_WAITFORONE makes the kernel stop at
// the first datagram it would have to wait for, so a call returns what is
// queued and never holds one datagram back for more; returning false on
// EAGAIN makes the runtime poller wait until the socket is readable (or its
// deadline passes, or it is closed) and call it again.
//
// A socket found empty means the reader keeps up with the traffic: when the
// poller wakes it, most likely one datagram is queued, and asking for more
// would cost a failed receive in the kernel (a fifth more than the lone
// datagram's receive, measured here). So that call asks for one only; if a burst did
// arrive, the next read finds the rest queued and takes it all.
func (r *batchReader) recvmmsg(fd uintptr) bool {
	for {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd,
			uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(r.vlen), unix.MSG_WAITFORONE, 0, 0)
		switch {
		case e == unix.EINTR:
			continue
		case e == unix.EAGAIN:
			r.vlen = 1
			if r.onEmpty != nil {
				r.onEmpty()
			}
			return false
		case e == 0 && n == 0:
			// Not possible with vlen >= 1; never report zero datagrams
			// as one.
			continue
		}
		r.got, r.errno = int(n), e
		return true
	}
}

// resetNames restores the sockaddr lengths the kernel overwrote in the
// first n messages. Called with mu held.
func (r *batchReader) resetNames(n int) {
	size := uint32(unix.SizeofSockaddrInet4)
	if r.family != unix.AF_INET {
		size = unix.SizeofSockaddrInet6
	}
	for i := range n {
		r.hdrs[i].Hdr.Namelen = size
		r.hdrs[i].Hdr.Flags = 0
	}
}

// addr is message i's source, in the form net.UDPConn.ReadFromUDPAddrPort
// gives: an AF_INET6 socket reports IPv4 peers as IPv4-mapped addresses.
// Called with mu held.
func (r *batchReader) addr(i int) netip.AddrPort {
	if r.family == unix.AF_INET {
		sa := &r.sa4[i]
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), getPort(&sa.Port))
	}
	sa := &r.sa6[i]
	ip := netip.AddrFrom16(sa.Addr)
	if sa.Scope_id != 0 {
		ip = ip.WithZone(r.zoneName(sa.Scope_id))
	}
	return netip.AddrPortFrom(ip, getPort(&sa.Port))
}

// zoneName is the interface name of a scope id, or the number if there is
// no such interface, like the net package's. Only link-local sources have
// one, so the lookup's allocations stay off the media path.
func (r *batchReader) zoneName(id uint32) string {
	r.zoneMu.Lock()
	defer r.zoneMu.Unlock()
	if name, ok := r.zones[id]; ok {
		return name
	}
	name := strconv.FormatUint(uint64(id), 10)
	if ifi, err := net.InterfaceByIndex(int(id)); err == nil {
		name = ifi.Name
	}
	if r.zones == nil {
		r.zones = make(map[uint32]string)
	}
	r.zones[id] = name
	return name
}

func (r *batchReader) opError(err error) error {
	return &net.OpError{Op: "read", Net: "udp", Source: r.laddr, Err: err}
}

// getPort reads a port stored in network byte order.
func getPort(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}
