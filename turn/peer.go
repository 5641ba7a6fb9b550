package turn

import (
	"net"
	"net/netip"
)

// peerPolicy decides which peer transport addresses a relay may talk to.
// It is the only defence against the classic TURN server-side request
// forgery (a client asking the relay to reach the node's loopback, its
// private network or a cloud metadata address), so it is applied twice:
// to CreatePermission and ChannelBind requests (gate.go), and to every
// datagram a relay socket sends or receives (relay.go).
type peerPolicy struct {
	allow func(netip.AddrPort) bool // Config.AllowPeer; nil: public unicast only
	self  []netip.Addr              // the relay's own addresses, never a peer without allow
}

// allowed reports whether a relay may exchange datagrams with ap.
//
// With Config.AllowPeer set it alone decides, except for addresses that
// are never a media endpoint (port 0, unspecified, multicast, broadcast).
// Without it only public unicast addresses other than the relay's own pass.
func (p *peerPolicy) allowed(ap netip.AddrPort) bool {
	a := ap.Addr().Unmap()
	if !a.IsValid() || ap.Port() == 0 || a.IsUnspecified() || a.IsMulticast() || a == broadcast {
		return false
	}
	ap = netip.AddrPortFrom(a, ap.Port())
	if p.allow != nil {
		return p.allow(ap)
	}
	for _, s := range p.self {
		if a == s {
			return false
		}
	}
	return isPublic(a)
}

// allowedAddr is allowed for the net.Addr pion passes around.
func (p *peerPolicy) allowedAddr(addr net.Addr) bool {
	ap, ok := addrPort(addr)
	return ok && p.allowed(ap)
}

var broadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// specialPrefixes are the special-purpose ranges (RFC 6890 and its IANA
// registries) that netip's predicates do not cover and that no media
// peer on the Internet uses. The IPv6 ones that embed an IPv4 address
// (NAT64, 6to4, Teredo, IPv4-compatible) are here because the embedded
// address could be a private one.
var specialPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated)
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local NAT64
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments, Teredo
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
}

// isPublic reports whether a is a global unicast address outside every
// special-purpose range.
func isPublic(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsGlobalUnicast() || a.IsPrivate() || a == broadcast {
		return false
	}
	for _, p := range specialPrefixes {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// addrPort converts the address types pion uses without allocating.
func addrPort(addr net.Addr) (netip.AddrPort, bool) {
	switch a := addr.(type) {
	case *net.UDPAddr:
		return a.AddrPort(), true
	case *net.TCPAddr:
		return a.AddrPort(), true
	}
	return netip.AddrPort{}, false
}
