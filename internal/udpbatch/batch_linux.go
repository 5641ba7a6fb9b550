//go:build linux

package udpbatch

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batch is a queue of packets laid out as sendmmsg wants it. Every pointer
// in hdrs points into the batch's own arrays, built once in newBatch, so
// adding a packet only copies bytes and sets lengths.
type batch struct {
	n      int
	family int
	bufs   [][]byte
	addrs  []netip.AddrPort // for error logs
	iovs   []unix.Iovec
	sa4    []unix.RawSockaddrInet4
	sa6    []unix.RawSockaddrInet6
	hdrs   []unix.Mmsghdr
}

func newBatch(size, family int) *batch {
	bt := &batch{
		family: family,
		bufs:   make([][]byte, size),
		addrs:  make([]netip.AddrPort, size),
		iovs:   make([]unix.Iovec, size),
		hdrs:   make([]unix.Mmsghdr, size),
	}
	if family == unix.AF_INET {
		bt.sa4 = make([]unix.RawSockaddrInet4, size)
	} else {
		bt.sa6 = make([]unix.RawSockaddrInet6, size)
	}
	for i := range size {
		bt.bufs[i] = make([]byte, 0, slotSize)
		h := &bt.hdrs[i].Hdr
		h.Iov = &bt.iovs[i]
		h.SetIovlen(1)
		if family == unix.AF_INET {
			bt.sa4[i].Family = unix.AF_INET
			h.Name = (*byte)(unsafe.Pointer(&bt.sa4[i]))
			h.Namelen = unix.SizeofSockaddrInet4
		} else {
			bt.sa6[i].Family = unix.AF_INET6
			h.Name = (*byte)(unsafe.Pointer(&bt.sa6[i]))
			h.Namelen = unix.SizeofSockaddrInet6
		}
	}
	return bt
}

// add copies b and addr into the next slot. The caller has checked addr
// against the socket family and that the batch is not full.
func (bt *batch) add(b []byte, addr netip.AddrPort) {
	i := bt.n
	buf := append(bt.bufs[i][:0], b...)
	bt.bufs[i] = buf
	bt.addrs[i] = addr
	// Base must point somewhere valid even for an empty datagram.
	bt.iovs[i].Base = &buf[:1][0]
	bt.iovs[i].SetLen(len(buf))
	port := addr.Port()
	if bt.family == unix.AF_INET {
		sa := &bt.sa4[i]
		sa.Addr = addr.Addr().Unmap().As4()
		putPort(&sa.Port, port)
	} else {
		sa := &bt.sa6[i]
		sa.Addr = addr.Addr().As16()
		putPort(&sa.Port, port)
		sa.Scope_id = zoneID(addr.Addr().Zone())
	}
	bt.n++
}

func (bt *batch) reset() {
	for i := range bt.n {
		bt.addrs[i] = netip.AddrPort{}
	}
	bt.n = 0
}

// putPort stores port in network byte order, as sockaddr_in wants it.
func putPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// zoneID turns an IPv6 zone into a scope id. Zones appear only on
// link-local addresses, so the lookup's allocation stays off the media path.
func zoneID(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n)
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	return 0
}

// sender holds the state of the one goroutine in sendLoop. The RawConn
// callback is a method value bound once, so a flush allocates nothing.
type sender struct {
	raw  syscall.RawConn
	fn   func(fd uintptr) bool
	hdrs []unix.Mmsghdr // messages for the callback to send
	sent int            // its result
	err  syscall.Errno  // its error, 0 if none
}

func (s *sender) init(conn *net.UDPConn) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("raw socket: %w", err)
	}
	s.raw = raw
	s.fn = s.sendmmsg
	return nil
}

// sendmmsg runs inside RawConn.Write: returning false on EAGAIN makes the
// runtime poller wait until the socket is writable and call it again.
func (s *sender) sendmmsg(fd uintptr) bool {
	for {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd,
			uintptr(unsafe.Pointer(&s.hdrs[0])), uintptr(len(s.hdrs)), 0, 0, 0)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		s.sent, s.err = int(r), e
		return true
	}
}

// sendBatch hands bt to the kernel. sendmmsg stops at the first datagram it
// cannot send: if that is the first one it returns the error, otherwise the
// count so far. So an error always belongs to hdrs[off]; skip that one and
// go on with the rest.
func (c *Conn) sendBatch(bt *batch) {
	s := &c.sender
	for off := 0; off < bt.n; {
		s.hdrs = bt.hdrs[off:bt.n]
		s.sent, s.err = 0, 0
		if err := s.raw.Write(s.fn); err != nil {
			// The socket is closed or past its write deadline: nothing
			// left in this batch can go out.
			for i := off; i < bt.n; i++ {
				c.noteError(err, bt.addrs[i])
			}
			break
		}
		if s.err != 0 {
			c.noteError(s.err, bt.addrs[off])
			off++
			continue
		}
		c.noteSent(s.sent)
		if s.sent <= 0 {
			// The kernel neither sent nor failed; never spin on it.
			c.noteError(errNoProgress, bt.addrs[off])
			off++
			continue
		}
		off += s.sent
	}
	s.hdrs = nil
}

var errNoProgress = errors.New("sendmmsg sent nothing")

// socketFamily asks the kernel, because a socket's LocalAddr does not tell a
// dual-stack AF_INET6 socket bound to an IPv4-mapped address from AF_INET.
func socketFamily(conn *net.UDPConn) (int, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("raw socket: %w", err)
	}
	var family int
	var serr error
	if err := raw.Control(func(fd uintptr) {
		family, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
	}); err != nil {
		return 0, fmt.Errorf("control: %w", err)
	}
	if serr != nil {
		return 0, fmt.Errorf("getsockopt SO_DOMAIN: %w", serr)
	}
	if family != unix.AF_INET && family != unix.AF_INET6 {
		return 0, fmt.Errorf("not an IP socket (family %d)", family)
	}
	return family, nil
}
