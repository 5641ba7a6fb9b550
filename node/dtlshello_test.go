package node_test

import (
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"

	"github.com/switchyard/switchyard/internal/srtpprofile"
)

// helloSniffer reads the SRTP protection profiles off DTLS handshakes as
// they cross the wire (DTLS 1.2 hellos are plaintext): those a ClientHello
// offers and the one a ServerHello selects (RFC 5764 use_srtp), whichever
// side chose and whatever either side's stack reports. Feed it one
// direction of one connection.
type helloSniffer struct {
	mu       sync.Mutex
	offered  [][]uint16 // per ClientHello (before and after a HelloVerifyRequest)
	selected []uint16   // per ServerHello
	partial  map[helloKey]*fragments
}

// helloKey names one handshake message being reassembled (a browser's
// ClientHello, with its post-quantum key share, spans two datagrams).
type helloKey struct {
	msgType byte
	seq     uint16
	length  int
}

type fragments struct {
	msg    []byte
	have   []bool
	filled int
}

// inspect reads one datagram; anything but a DTLS handshake is ignored.
func (s *helloSniffer) inspect(b []byte) {
	if len(b) == 0 || b[0] < 20 || b[0] > 63 { // not DTLS (RFC 7983)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(b) >= 13 {
		kind, epoch, n := b[0], binary.BigEndian.Uint16(b[3:]), int(binary.BigEndian.Uint16(b[11:]))
		if len(b) < 13+n {
			return
		}
		rec := b[13 : 13+n]
		b = b[13+n:]
		if kind != 22 || epoch != 0 {
			continue // not a handshake record in the clear
		}
		for len(rec) >= 12 {
			msgType, seq := rec[0], binary.BigEndian.Uint16(rec[4:])
			length, fragOff, fragLen := uint24(rec[1:]), uint24(rec[6:]), uint24(rec[9:])
			if len(rec) < 12+fragLen || fragOff+fragLen > length {
				break
			}
			frag := rec[12 : 12+fragLen]
			rec = rec[12+fragLen:]
			if msgType != 1 && msgType != 2 { // client_hello, server_hello
				continue
			}
			if msg := s.reassemble(helloKey{msgType, seq, length}, fragOff, frag); msg != nil {
				s.hello(msgType, msg)
			}
		}
	}
}

// reassemble adds a fragment of a message and returns the message once
// whole, once; called with mu held.
func (s *helloSniffer) reassemble(k helloKey, off int, frag []byte) []byte {
	if k.length == 0 {
		return nil // an empty hello carries nothing
	}
	if s.partial == nil {
		s.partial = make(map[helloKey]*fragments)
	}
	f := s.partial[k]
	if f == nil {
		f = &fragments{msg: make([]byte, k.length), have: make([]bool, k.length)}
		s.partial[k] = f
	}
	if f.filled == k.length {
		return nil // seen whole already: a retransmission
	}
	copy(f.msg[off:], frag)
	for i := off; i < off+len(frag); i++ {
		if !f.have[i] {
			f.have[i] = true
			f.filled++
		}
	}
	if f.filled < k.length {
		return nil
	}
	return f.msg
}

// hello records a whole hello's use_srtp; called with mu held.
func (s *helloSniffer) hello(msgType byte, body []byte) {
	p, ok := helloSRTP(body, msgType == 1)
	switch {
	case !ok:
	case msgType == 1:
		s.offered = append(s.offered, p)
	case len(p) == 1:
		s.selected = append(s.selected, p[0])
	}
}

func uint24(b []byte) int { return int(b[0])<<16 | int(b[1])<<8 | int(b[2]) }

// helloSRTP returns the profiles of a hello's use_srtp extension.
func helloSRTP(body []byte, client bool) ([]uint16, bool) {
	c := cursor{b: body}
	c.skip(2 + 32) // version, random
	c.skip(c.u8()) // session id
	if client {
		c.skip(c.u8())  // cookie
		c.skip(c.u16()) // cipher suites
		c.skip(c.u8())  // compression methods
	} else {
		c.skip(2 + 1) // cipher suite, compression method
	}
	exts := cursor{b: c.take(c.u16())}
	for !c.bad && !exts.bad && len(exts.b) >= 4 {
		typ, data := exts.u16(), exts.take(exts.u16())
		if typ != 14 { // use_srtp
			continue
		}
		d := cursor{b: data}
		list := cursor{b: d.take(d.u16())}
		var out []uint16
		for len(list.b) >= 2 {
			out = append(out, uint16(list.u16()))
		}
		return out, !d.bad
	}
	return nil, false
}

// cursor reads a TLS structure; a read past the end marks it bad.
type cursor struct {
	b   []byte
	bad bool
}

func (c *cursor) take(n int) []byte {
	if n > len(c.b) {
		c.bad, c.b = true, nil
		return nil
	}
	out := c.b[:n]
	c.b = c.b[n:]
	return out
}
func (c *cursor) skip(n int) { c.take(n) }
func (c *cursor) u8() int {
	if b := c.take(1); b != nil {
		return int(b[0])
	}
	return 0
}
func (c *cursor) u16() int {
	if b := c.take(2); b != nil {
		return int(binary.BigEndian.Uint16(b))
	}
	return 0
}

// hellos returns copies of what was seen.
func (s *helloSniffer) hellos() (offered [][]uint16, selected []uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.offered), slices.Clone(s.selected)
}

// checkNodeProfiles reads the handshakes of one connection, the node's
// datagrams to the peer and the peer's to the node, and fails unless the
// node offered its list, AEAD_AES_128_GCM first (when it was the DTLS
// client), and AEAD_AES_128_GCM was selected (by whichever side was the
// DTLS server). what names the connection; seen says what was offered and
// selected.
func checkNodeProfiles(fromNode, fromPeer *helloSniffer, what string) (seen string, err error) {
	nodeOffers, nodeSelected := fromNode.hellos()
	peerOffers, peerSelected := fromPeer.hellos()
	want := []uint16{0x0007, 0x0001} // AEAD_AES_128_GCM, AES_CM_128_HMAC_SHA1_80
	for _, o := range nodeOffers {
		if !slices.Equal(o, want) {
			return "", fmt.Errorf("%s: the node offered %s, want %s", what, profileNames(o), profileNames(want))
		}
	}
	var selected []uint16
	switch {
	case len(nodeOffers) > 0 && len(peerSelected) > 0 && len(nodeSelected) == 0:
		seen = fmt.Sprintf("the node (DTLS client) offered %s, the peer selected", profileNames(nodeOffers[0]))
		selected = peerSelected
	case len(peerOffers) > 0 && len(nodeSelected) > 0 && len(peerSelected) == 0:
		seen = fmt.Sprintf("the peer (DTLS client) offered %s, the node selected", profileNames(peerOffers[len(peerOffers)-1]))
		selected = nodeSelected
	default:
		return "", fmt.Errorf("%s: hellos with use_srtp: the node's %d ClientHellos and %d ServerHellos, the peer's %d and %d",
			what, len(nodeOffers), len(nodeSelected), len(peerOffers), len(peerSelected))
	}
	seen += " " + profileNames(selected)
	for _, p := range selected {
		if p != 0x0007 {
			return seen, fmt.Errorf("%s: %s; want AEAD_AES_128_GCM selected", what, seen)
		}
	}
	return seen, nil
}

func profileNames(ps []uint16) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = srtpprofile.Name(p)
	}
	return "[" + strings.Join(names, " ") + "]"
}

// sniffNet is the host's network with every UDP datagram a pion peer
// receives shown to one helloSniffer, and every one it sends to another
// (client.Options.Net).
type sniffNet struct {
	transport.Net
	in, out *helloSniffer
}

func newSniffNet(in, out *helloSniffer) (*sniffNet, error) {
	host, err := stdnet.NewNet()
	if err != nil {
		return nil, fmt.Errorf("host network: %w", err)
	}
	return &sniffNet{Net: host, in: in, out: out}, nil
}

func (n *sniffNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &sniffConn{UDPConn: c, in: n.in, out: n.out}, nil
}

func (n *sniffNet) ListenPacket(network, address string) (net.PacketConn, error) {
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

func (n *sniffNet) DialUDP(network string, laddr, raddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.DialUDP(network, laddr, raddr)
	if err != nil {
		return nil, err
	}
	return &sniffConn{UDPConn: c, in: n.in, out: n.out}, nil
}

type sniffConn struct {
	transport.UDPConn
	in, out *helloSniffer
}

func (c *sniffConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.UDPConn.ReadFrom(b)
	if n > 0 {
		c.in.inspect(b[:n])
	}
	return n, addr, err
}

func (c *sniffConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	n, addr, err := c.UDPConn.ReadFromUDP(b)
	if n > 0 {
		c.in.inspect(b[:n])
	}
	return n, addr, err
}

func (c *sniffConn) Read(b []byte) (int, error) {
	n, err := c.UDPConn.Read(b)
	if n > 0 {
		c.in.inspect(b[:n])
	}
	return n, err
}

func (c *sniffConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.out.inspect(b)
	return c.UDPConn.WriteTo(b, addr)
}

func (c *sniffConn) WriteToUDP(b []byte, addr *net.UDPAddr) (int, error) {
	c.out.inspect(b)
	return c.UDPConn.WriteToUDP(b, addr)
}

func (c *sniffConn) Write(b []byte) (int, error) {
	c.out.inspect(b)
	return c.UDPConn.Write(b)
}
