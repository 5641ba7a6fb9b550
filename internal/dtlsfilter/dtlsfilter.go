// Package dtlsfilter drops DTLS records on the media port that no honest
// peer sends: application data in epoch 0. DTLS carries application data
// only under the keys of epoch 1 and later, so such a record is forged by
// whoever can spoof a participant's address, and pion/dtls (v3.1.15) closes
// the whole connection on one. Alerts in epoch 0 after the handshake are
// ignored by pion/dtls itself since v3.1.15.
package dtlsfilter

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
)

// DTLS content types (RFC 6347, RFC 9146).
const (
	typeChangeCipherSpec = 20
	typeAlert            = 21
	typeHandshake        = 22
	typeApplicationData  = 23
	typeConnectionID     = 25
)

const recordHeader = 13 // type, version, epoch, sequence number, length

// Forged reports whether datagram b, as received on the media port, holds a
// DTLS record that must not reach the DTLS stack. Datagrams that are not
// DTLS (STUN, RTP, RTCP: RFC 7983 demultiplexes on the first byte) are never
// forged. A malformed DTLS datagram is left to the DTLS stack, which drops it.
func Forged(b []byte) bool {
	if len(b) == 0 || b[0] < 20 || b[0] > 63 {
		return false
	}
	for len(b) >= recordHeader {
		kind := b[0]
		epoch := binary.BigEndian.Uint16(b[3:5])
		if epoch == 0 {
			switch kind {
			case typeChangeCipherSpec, typeAlert, typeHandshake:
			default:
				// Application data, connection-id records and anything
				// unknown are never sent in the clear.
				return true
			}
		}
		n := recordHeader + int(binary.BigEndian.Uint16(b[11:13]))
		if n > len(b) {
			return false
		}
		b = b[n:]
	}
	return false
}

// Conn drops forged DTLS datagrams as they are read; everything else passes.
type Conn struct {
	net.PacketConn
	dropped atomic.Uint64
	onDrop  func(from net.Addr)
	ap      addrPortConn // pc's allocation-free reads and writes, nil without
}

// New wraps pc; onDrop, if not nil, is called with each dropped datagram's
// source (it should count and rate-limit its logging).
func New(pc net.PacketConn, onDrop func(from net.Addr)) *Conn {
	c := &Conn{PacketConn: pc, onDrop: onDrop}
	switch pc := pc.(type) {
	case *net.UDPConn:
		c.ap = udpConn{pc}
	case addrPortConn:
		c.ap = pc
	}
	return c
}

// udpConn gives net.UDPConn's allocation-free methods the names the other
// sockets use.
type udpConn struct{ *net.UDPConn }

func (u udpConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return u.ReadFromUDPAddrPort(b)
}

func (u udpConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	return u.WriteToUDPAddrPort(b, addr)
}

// ReadFrom reads the next datagram that is not forged.
func (c *Conn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil || !Forged(p[:n]) {
			return n, addr, err
		}
		c.dropped.Add(1)
		if c.onDrop != nil {
			c.onDrop(addr)
		}
	}
}

// addrPortConn is a socket with allocation-free reads and writes
// (net.UDPConn, udpbatch.Conn).
type addrPortConn interface {
	ReadFromAddrPort(b []byte) (int, netip.AddrPort, error)
	WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error)
}

var errNotUDP = errors.New("dtlsfilter: not a UDP address")

// ReadFromAddrPort is ReadFrom without an address allocated per datagram
// when the wrapped socket has it (pion's UDP mux prefers it); the address
// is built only for a dropped datagram's callback.
func (c *Conn) ReadFromAddrPort(p []byte) (int, netip.AddrPort, error) {
	ap := c.ap
	if ap == nil {
		n, addr, err := c.ReadFrom(p)
		if err != nil {
			return n, netip.AddrPort{}, err
		}
		u, ok := addr.(*net.UDPAddr)
		if !ok {
			return 0, netip.AddrPort{}, errNotUDP
		}
		return n, u.AddrPort(), nil
	}
	for {
		n, from, err := ap.ReadFromAddrPort(p)
		if err != nil || !Forged(p[:n]) {
			return n, from, err
		}
		c.dropped.Add(1)
		if c.onDrop != nil {
			c.onDrop(net.UDPAddrFromAddrPort(from))
		}
	}
}

// WriteToAddrPort writes through the wrapped socket's allocation-free
// write, or WriteTo without one.
func (c *Conn) WriteToAddrPort(p []byte, to netip.AddrPort) (int, error) {
	if c.ap != nil {
		return c.ap.WriteToAddrPort(p, to)
	}
	return c.WriteTo(p, net.UDPAddrFromAddrPort(to))
}

// Dropped is how many datagrams were dropped as forged.
func (c *Conn) Dropped() uint64 { return c.dropped.Load() }
