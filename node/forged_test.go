package node_test

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/node/nodetest"
)

// TestForgedDTLSRecord sends one unauthenticated DTLS record in epoch 0 to
// the node's media port with a participant's address as its source, as an
// off-path attacker who knows (or guesses) that address can. Before the fix
// a single close_notify, fatal alert, application data record or record of
// an unknown type closed the participant's connection.
func TestForgedDTLSRecord(t *testing.T) {
	cases := []struct {
		name    string
		kind    byte
		payload []byte
	}{
		{"close_notify", 21, []byte{1, 0}},
		{"fatal alert", 21, []byte{2, 40}},
		{"application data", 23, []byte("not encrypted at all, just bytes")},
		{"unknown content type", 30, []byte{1, 2, 3, 4}},
		{"handshake in epoch 0", 22, []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	}
	n := nodetest.Start(t, nil)
	mediaPort := uint16(n.Snapshot().Node.MediaUDPPort)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			room := fmt.Sprintf("forged-%d-%d", tc.kind, len(tc.payload))
			a := join(t, n, room, "alice", publishing)
			b := join(t, n, room, "bob", nil)
			receivesAt(t, 20*time.Second, b, a, 0)

			src := selectedLocal(t, b)
			record := dtlsRecord(tc.kind, 0, 7, tc.payload)
			sendSpoofed(t, src, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), mediaPort), record)

			// Give the node time to act on it, then check that bob is still
			// there and still receives media.
			time.Sleep(1500 * time.Millisecond)
			if st := b.ConnectionState(); st != webrtc.PeerConnectionStateConnected {
				t.Fatalf("bob's connection is %s after one forged %s record", st, tc.name)
			}
			if _, ok := findParticipant(n, room, b.ID()); !ok {
				t.Fatalf("the node removed bob after one forged %s record", tc.name)
			}
			receivesAt(t, 10*time.Second, b, a, 0)
		})
	}
}

// selectedLocal is the client's address on its nominated ICE pair.
func selectedLocal(t *testing.T, c *client.Client) netip.AddrPort {
	t.Helper()
	report := c.Stats()
	for _, s := range report {
		pair, ok := s.(webrtc.ICECandidatePairStats)
		if !ok || !pair.Nominated {
			continue
		}
		local, ok := report[pair.LocalCandidateID].(webrtc.ICECandidateStats)
		if !ok {
			continue
		}
		addr, err := netip.ParseAddr(local.IP)
		if err != nil {
			t.Fatalf("local candidate address %q: %v", local.IP, err)
		}
		return netip.AddrPortFrom(addr, uint16(local.Port))
	}
	t.Fatal("the client has no nominated candidate pair")
	return netip.AddrPort{}
}

// dtlsRecord is one DTLS 1.2 record with no protection at all.
func dtlsRecord(kind byte, epoch uint16, seq uint64, payload []byte) []byte {
	b := make([]byte, 13+len(payload))
	b[0] = kind
	b[1], b[2] = 0xfe, 0xfd
	binary.BigEndian.PutUint16(b[3:], epoch)
	binary.BigEndian.PutUint64(b[3:], uint64(epoch)<<48|seq&(1<<48-1))
	binary.BigEndian.PutUint16(b[11:], uint16(len(payload)))
	copy(b[13:], payload)
	return b
}

// sendSpoofed sends one UDP datagram from src to dst through a raw socket,
// so that it carries an address the test does not own. Loopback only.
func sendSpoofed(t *testing.T, src, dst netip.AddrPort, payload []byte) {
	t.Helper()
	if !src.Addr().IsLoopback() || !dst.Addr().IsLoopback() {
		t.Fatalf("refusing to spoof %v -> %v: loopback only", src, dst)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_RAW)
	if err != nil {
		t.Skipf("raw sockets need CAP_NET_RAW: %v", err)
	}
	defer syscall.Close(fd)
	pkt := make([]byte, 20+8+len(payload))
	pkt[0] = 0x45
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	pkt[8] = 64
	pkt[9] = syscall.IPPROTO_UDP
	s4, d4 := src.Addr().As4(), dst.Addr().As4()
	copy(pkt[12:16], s4[:])
	copy(pkt[16:20], d4[:])
	binary.BigEndian.PutUint16(pkt[20:], src.Port())
	binary.BigEndian.PutUint16(pkt[22:], dst.Port())
	binary.BigEndian.PutUint16(pkt[24:], uint16(8+len(payload)))
	copy(pkt[28:], payload) // UDP checksum 0: none, allowed over IPv4
	to := &syscall.SockaddrInet4{Port: int(dst.Port()), Addr: d4}
	if err := syscall.Sendto(fd, pkt, 0, to); err != nil {
		t.Fatalf("send spoofed datagram: %v", err)
	}
}
