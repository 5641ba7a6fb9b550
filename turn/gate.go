package turn

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"

	"github.com/pion/stun/v4"
)

// maxPeers bounds the peer addresses kept from one request; any beyond
// it are refused.
const maxPeers = 8

// pendingPeers holds the XOR-PEER-ADDRESS values of the request a UDP
// socket or a TCP/TLS connection is handling.
//
// pion's PermissionHandler is given only the peer's IP, because TURN
// permissions are per IP, but Config.AllowPeer names an address and a
// port. pion handles the requests of one socket or connection one at a
// time, in the goroutine that read them (readLoop in pion/turn's
// server.go), and calls the handler once per XOR-PEER-ADDRESS in
// attribute order. So each request's peers are recorded as it is read,
// and the handler takes them in order: it sees the port after all.
type pendingPeers struct {
	mu     sync.Mutex
	client netip.AddrPort   // guarded by mu
	peers  []netip.AddrPort // guarded by mu; of the last request read
	next   int              // guarded by mu; index of the next peer to take
	arr    [maxPeers]netip.AddrPort
}

// record replaces the pending peers with those of msg, read from client.
// Messages other than CreatePermission and ChannelBind requests leave
// none.
func (p *pendingPeers) record(client netip.AddrPort, msg []byte) {
	p.mu.Lock()
	p.client = client
	p.peers = permissionPeers(msg, p.arr[:0])
	p.next = 0
	p.mu.Unlock()
}

// take returns the next pending peer if it was read from client and has
// the address ip.
func (p *pendingPeers) take(client netip.AddrPort, ip net.IP) (netip.AddrPort, bool) {
	want, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.AddrPort{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if client != p.client || p.next >= len(p.peers) {
		return netip.AddrPort{}, false
	}
	peer := p.peers[p.next]
	p.next++
	return peer, peer.Addr() == want.Unmap()
}

var errStop = errors.New("stop")

// permissionPeers appends to dst the XOR-PEER-ADDRESS values of msg if it
// is a CreatePermission or ChannelBind request, at most maxPeers of them.
// Only those two requests are looked into, so ordinary traffic costs a
// header check.
func permissionPeers(msg []byte, dst []netip.AddrPort) []netip.AddrPort {
	// The first two bits of a STUN message are zero; ChannelData has 01.
	if len(msg) == 0 || msg[0]&0xc0 != 0 || !stun.IsMessage(msg) {
		return dst
	}
	var t stun.MessageType
	t.ReadValue(binary.BigEndian.Uint16(msg))
	if t.Class != stun.ClassRequest ||
		(t.Method != stun.MethodCreatePermission && t.Method != stun.MethodChannelBind) {
		return dst
	}
	m := &stun.Message{Raw: msg} // Decode only reads Raw
	if err := m.Decode(); err != nil {
		return dst
	}
	_ = m.ForEach(stun.AttrXORPeerAddress, func(m *stun.Message) error {
		var x stun.XORMappedAddress
		if err := x.GetFromAs(m, stun.AttrXORPeerAddress); err != nil {
			return err
		}
		ip, ok := netip.AddrFromSlice(x.IP)
		if !ok || len(dst) == maxPeers || x.Port < 0 || x.Port > 0xffff {
			return errStop
		}
		dst = append(dst, netip.AddrPortFrom(ip.Unmap(), uint16(x.Port)))
		return nil
	})
	return dst
}

// datagramGate records the pending peers of a UDP listener, whose one
// reading goroutine handles every client in turn.
type datagramGate struct {
	net.PacketConn
	pending pendingPeers
}

func (g *datagramGate) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := g.PacketConn.ReadFrom(b)
	if err == nil {
		ap, _ := addrPort(addr)
		g.pending.record(ap, b[:n])
	}
	return n, addr, err
}

func (g *datagramGate) lookup(netip.AddrPort) *pendingPeers { return &g.pending }

// permissionHandler returns pion's PermissionHandler for a listener whose
// pending peers lookup finds.
func (s *Server) permissionHandler(lookup func(netip.AddrPort) *pendingPeers) func(net.Addr, net.IP) bool {
	return func(client net.Addr, ip net.IP) bool {
		from, _ := addrPort(client)
		var peer netip.AddrPort
		known := false
		if p := lookup(from); p != nil {
			peer, known = p.take(from, ip)
		}
		if known && s.policy.allowed(peer) {
			return true
		}
		s.stats.permissionsRefused.Add(1)
		if known {
			s.netLog.Info("turn: peer refused", "client", from, "peer", peer)
		} else {
			s.netLog.Info("turn: peer refused", "client", from, "peer_ip", ip)
		}
		return false
	}
}
