package dtlsfilter

import (
	"encoding/binary"
	"net"
	"testing"
	"time"
)

func record(kind byte, epoch uint16, payload ...byte) []byte {
	b := make([]byte, recordHeader+len(payload))
	b[0], b[1], b[2] = kind, 0xfe, 0xfd
	binary.BigEndian.PutUint16(b[3:], epoch)
	binary.BigEndian.PutUint16(b[11:], uint16(len(payload)))
	copy(b[recordHeader:], payload)
	return b
}

func join(rs ...[]byte) []byte {
	var b []byte
	for _, r := range rs {
		b = append(b, r...)
	}
	return b
}

func TestForged(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want bool
	}{
		{"empty", nil, false},
		{"STUN binding request", []byte{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42}, false},
		{"RTP", []byte{0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, false},
		{"ClientHello", record(typeHandshake, 0, 1, 0, 0, 0), false},
		{"alert in epoch 0 (pion ignores it after the handshake)", record(typeAlert, 0, 2, 40), false},
		{"change cipher spec", record(typeChangeCipherSpec, 0, 1), false},
		{"application data in epoch 1", record(typeApplicationData, 1, 9, 9, 9), false},
		{"alert in epoch 1", record(typeAlert, 1, 9, 9), false},
		{"application data in epoch 0", record(typeApplicationData, 0, 1, 2, 3), true},
		{"unknown type in epoch 0", record(30, 0, 1), true},
		{"first byte outside DTLS range (RFC 7983)", record(99, 0, 1), false},
		{"connection id record in epoch 0", record(typeConnectionID, 0, 1), true},
		{"flight: CCS then Finished in epoch 1", join(record(typeChangeCipherSpec, 0, 1), record(typeHandshake, 1, 5)), false},
		{"forged record behind a good one", join(record(typeHandshake, 0, 1), record(typeApplicationData, 0, 7)), true},
		{"truncated header", record(typeApplicationData, 0)[:8], false},
		{"length past the end", record(typeHandshake, 0, 1, 2)[:14], false},
	}
	for _, c := range cases {
		if got := Forged(c.in); got != c.want {
			t.Errorf("%s: Forged = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestConnDropsForged(t *testing.T) {
	a, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var drops int
	c := New(a, func(net.Addr) { drops++ })
	s, err := net.Dial("udp", a.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	good := record(typeHandshake, 0, 1, 0, 0, 0)
	for _, d := range [][]byte{record(typeApplicationData, 0, 1), record(30, 0), good} {
		if _, err := s.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 1500)
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if string(buf[:n]) != string(good) {
		t.Fatalf("read %x, want the genuine handshake record %x", buf[:n], good)
	}
	if c.Dropped() != 2 || drops != 2 {
		t.Fatalf("dropped %d (callback %d), want 2", c.Dropped(), drops)
	}
}

// TestReadFromAddrPortDrops checks the allocation-free read pion's UDP
// mux uses filters as ReadFrom does, and allocates nothing per datagram.
func TestReadFromAddrPortDrops(t *testing.T) {
	a, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var from net.Addr
	c := New(a, func(addr net.Addr) { from = addr })
	s, err := net.DialUDP("udp", nil, a.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	good := record(typeHandshake, 0, 1, 0, 0, 0)
	for _, d := range [][]byte{record(typeApplicationData, 0, 1), good} {
		if _, err := s.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 1500)
	n, src, err := c.ReadFromAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	if string(buf[:n]) != string(good) || src != s.LocalAddr().(*net.UDPAddr).AddrPort() {
		t.Fatalf("read %x from %v, want the genuine record from %v", buf[:n], src, s.LocalAddr())
	}
	if c.Dropped() != 1 || from == nil || from.String() != s.LocalAddr().String() {
		t.Fatalf("dropped %d, callback saw %v, want 1 from %v", c.Dropped(), from, s.LocalAddr())
	}
	rtp := []byte{0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := s.Write(rtp); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadFromAddrPort(buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Errorf("%.1f allocations per read and write, want 0", allocs)
	}
}

func FuzzForged(f *testing.F) {
	f.Add(record(typeApplicationData, 0, 1, 2))
	f.Add(join(record(typeHandshake, 0, 1), record(typeHandshake, 1, 2)))
	f.Add([]byte{0x80, 96, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		got := Forged(b)
		if got && (len(b) < recordHeader || b[0] < 20 || b[0] > 63) {
			t.Fatalf("called %x forged: not a DTLS record", b)
		}
	})
}

func BenchmarkForgedRTP(b *testing.B) {
	pkt := make([]byte, 1200)
	pkt[0] = 0x80
	for b.Loop() {
		Forged(pkt)
	}
}
