//go:build !linux

package udpbatch

import (
	"net"
	"net/netip"
	"syscall"
)

// batch is a plain queue of copies: without sendmmsg each packet is written
// on its own, so holding only defers the writes.
type batch struct {
	n     int
	bufs  [][]byte
	addrs []netip.AddrPort
}

func newBatch(size, _ int) *batch {
	bt := &batch{bufs: make([][]byte, size), addrs: make([]netip.AddrPort, size)}
	for i := range bt.bufs {
		bt.bufs[i] = make([]byte, 0, slotSize)
	}
	return bt
}

func (bt *batch) add(b []byte, addr netip.AddrPort) {
	bt.bufs[bt.n] = append(bt.bufs[bt.n][:0], b...)
	bt.addrs[bt.n] = addr
	bt.n++
}

func (bt *batch) reset() {
	for i := range bt.n {
		bt.addrs[i] = netip.AddrPort{}
	}
	bt.n = 0
}

type sender struct {
	conn *net.UDPConn
}

func (s *sender) init(conn *net.UDPConn) error {
	s.conn = conn
	return nil
}

func (c *Conn) sendBatch(bt *batch) {
	sent := 0
	for i := range bt.n {
		if _, err := c.sender.conn.WriteToUDPAddrPort(bt.bufs[i], bt.addrs[i]); err != nil {
			c.noteError(err, bt.addrs[i])
			continue
		}
		sent++
	}
	c.noteSent(sent)
}

// socketFamily reads the bound address: the net package reports a 4-byte IP
// only for AF_INET sockets.
func socketFamily(conn *net.UDPConn) (int, error) {
	if ua, ok := conn.LocalAddr().(*net.UDPAddr); ok && len(ua.IP) == net.IPv4len {
		return syscall.AF_INET, nil
	}
	return syscall.AF_INET6, nil
}
