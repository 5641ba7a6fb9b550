package turn

import (
	"bufio"
	"net"
	"net/netip"
	"testing"

	"github.com/pion/stun/v4"
)

func TestPeerPolicy(t *testing.T) {
	media := netip.MustParseAddrPort("127.0.0.1:5000")
	exact := &peerPolicy{allow: func(ap netip.AddrPort) bool { return ap == media }}
	anyPort := &peerPolicy{allow: func(ap netip.AddrPort) bool { return ap.Addr() == media.Addr() }}
	open := &peerPolicy{self: []netip.Addr{netip.MustParseAddr("203.0.114.7")}}
	for _, tc := range []struct {
		peer                 string
		exact, anyPort, open bool
	}{
		{"127.0.0.1:5000", true, true, false},
		{"[::ffff:127.0.0.1]:5000", true, true, false}, // mapped is the same address
		{"127.0.0.1:22", false, true, false},
		{"127.0.0.1:0", false, false, false}, // port 0 never
		{"127.0.0.2:5000", false, false, false},
		{"0.0.0.0:5000", false, false, false},
		{"255.255.255.255:5000", false, false, false},
		{"224.0.0.251:5353", false, false, false},
		{"8.8.8.8:3478", false, false, true},
		{"[2606:4700::1111]:443", false, false, true},
		{"203.0.114.7:5000", false, false, false}, // the relay itself
		{"10.1.2.3:5000", false, false, false},
		{"172.16.0.1:5000", false, false, false},
		{"192.168.1.1:5000", false, false, false},
		{"169.254.169.254:80", false, false, false},
		{"100.64.0.1:5000", false, false, false},
		{"198.18.0.1:5000", false, false, false},
		{"192.0.0.8:5000", false, false, false},
		{"240.0.0.1:5000", false, false, false},
		{"[::1]:5000", false, false, false},
		{"[fe80::1]:5000", false, false, false},
		{"[fd00::1]:5000", false, false, false},
		{"[ff02::1]:5000", false, false, false},
		{"[::]:5000", false, false, false},
		{"[64:ff9b::a00:1]:5000", false, false, false}, // NAT64 of 10.0.0.1
		{"[2002:a00:1::1]:5000", false, false, false},  // 6to4 of 10.0.0.1
		{"[2001::1]:5000", false, false, false},        // Teredo
		{"[::a00:1]:5000", false, false, false},        // IPv4-compatible 10.0.0.1
		{"[2001:db8::1]:5000", false, false, false},
	} {
		ap := netip.MustParseAddrPort(tc.peer)
		for _, c := range []struct {
			name string
			p    *peerPolicy
			want bool
		}{{"exact", exact, tc.exact}, {"any port", anyPort, tc.anyPort}, {"no AllowPeer", open, tc.open}} {
			if got := c.p.allowed(ap); got != c.want {
				t.Errorf("%s: allowed(%v) = %v, want %v", c.name, ap, got, c.want)
			}
		}
	}
	if exact.allowedAddr(&net.IPAddr{IP: net.IPv4(127, 0, 0, 1)}) {
		t.Error("an address without a port is allowed")
	}
}

func TestPermissionPeers(t *testing.T) {
	build := func(method stun.Method, class stun.MessageClass, peers ...string) []byte {
		setters := []stun.Setter{stun.TransactionID, stun.NewType(method, class)}
		for _, p := range peers {
			ap := netip.MustParseAddrPort(p)
			setters = append(setters, &xorPeer{IP: ap.Addr().AsSlice(), Port: int(ap.Port())})
		}
		return stun.MustBuild(setters...).Raw
	}
	many := make([]string, maxPeers+2)
	for i := range many {
		many[i] = "127.0.0.1:5000"
	}
	for _, tc := range []struct {
		name string
		msg  []byte
		want int
	}{
		{"create permission", build(stun.MethodCreatePermission, stun.ClassRequest, "127.0.0.1:5000", "10.0.0.1:22"), 2},
		{"channel bind", build(stun.MethodChannelBind, stun.ClassRequest, "127.0.0.1:5000"), 1},
		{"success response", build(stun.MethodCreatePermission, stun.ClassSuccessResponse, "127.0.0.1:5000"), 0},
		{"send indication", build(stun.MethodSend, stun.ClassIndication, "127.0.0.1:5000"), 0},
		{"too many", build(stun.MethodCreatePermission, stun.ClassRequest, many...), maxPeers},
		{"channel data", []byte{0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4}, 0},
		{"truncated", build(stun.MethodCreatePermission, stun.ClassRequest, "127.0.0.1:5000")[:27], 0},
		{"empty", nil, 0},
	} {
		got := permissionPeers(tc.msg, nil)
		if len(got) != tc.want {
			t.Errorf("%s: %d peers %v, want %d", tc.name, len(got), got, tc.want)
		}
	}
	got := permissionPeers(build(stun.MethodCreatePermission, stun.ClassRequest, "127.0.0.1:5000", "[::1]:22"), nil)
	want := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:5000"), netip.MustParseAddrPort("[::1]:22")}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("peers %v, want %v", got, want)
	}
}

// xorPeer writes an XOR-PEER-ADDRESS attribute.
type xorPeer stun.XORMappedAddress

func (a *xorPeer) AddTo(m *stun.Message) error {
	return (*stun.XORMappedAddress)(a).AddToAs(m, stun.AttrXORPeerAddress)
}

func TestPendingPeersTakeInOrder(t *testing.T) {
	client := netip.MustParseAddrPort("127.0.0.1:40000")
	msg := stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodCreatePermission, stun.ClassRequest),
		&xorPeer{IP: net.IPv4(127, 0, 0, 1), Port: 5000}, &xorPeer{IP: net.IPv4(127, 0, 0, 1), Port: 22}).Raw
	var p pendingPeers
	p.record(client, msg)
	if _, ok := p.take(netip.MustParseAddrPort("127.0.0.1:40001"), net.IPv4(127, 0, 0, 1)); ok {
		t.Error("another client took a pending peer")
	}
	for _, want := range []string{"127.0.0.1:5000", "127.0.0.1:22"} {
		got, ok := p.take(client, net.IPv4(127, 0, 0, 1))
		if !ok || got != netip.MustParseAddrPort(want) {
			t.Errorf("take = %v %v, want %v", got, ok, want)
		}
	}
	if _, ok := p.take(client, net.IPv4(127, 0, 0, 1)); ok {
		t.Error("took a peer the request did not name")
	}
	p.record(client, msg)
	if _, ok := p.take(client, net.IPv4(10, 0, 0, 1)); ok {
		t.Error("took a peer with another IP")
	}
	p.record(client, []byte("not a request"))
	if _, ok := p.take(client, net.IPv4(127, 0, 0, 1)); ok {
		t.Error("a later message left the earlier peers pending")
	}
}

// repeatReader returns frame over and over, as a busy TCP client would.
type repeatReader struct{ frame []byte }

func (r repeatReader) Read(b []byte) (int, error) { return copy(b, r.frame), nil }

// Media passes the gate on every packet: recording a request's peers,
// framing a TCP stream and checking a datagram's peer must not allocate.
func TestPerPacketAllocs(t *testing.T) {
	media := netip.MustParseAddrPort("127.0.0.1:5000")
	policy := &peerPolicy{allow: func(ap netip.AddrPort) bool { return ap == media }}
	client := netip.MustParseAddrPort("127.0.0.1:40000")
	send := stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodSend, stun.ClassIndication),
		&xorPeer{IP: media.Addr().AsSlice(), Port: int(media.Port())},
		stun.RawAttribute{Type: stun.AttrData, Value: make([]byte, 1000)}).Raw
	channelData := append([]byte{0x40, 0x00, 0x04, 0x00}, make([]byte, 1024)...)
	peer := net.UDPAddrFromAddrPort(media)
	var pending pendingPeers
	r := bufio.NewReaderSize(repeatReader{channelData}, streamBuffer)
	dst := make([]byte, 1600)
	allocs := testing.AllocsPerRun(1000, func() {
		pending.record(client, send)
		pending.record(client, channelData)
		if n, err := readFrame(r, dst); err != nil || n != len(channelData) {
			t.Fatalf("readFrame = %d, %v", n, err)
		}
		if !policy.allowedAddr(peer) {
			t.Fatal("media refused")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per packet, want 0", allocs)
	}
}
