package membership

import (
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/syncbuf"
)

// Junk at the gossip port must not turn into a log line per packet: an
// attacker could fill the disk. memberlist logs each bad datagram as an
// error.
func TestJunkTrafficLogBounded(t *testing.T) {
	var logs syncbuf.Buffer
	m, _ := start(t, "us-1", "us", clusterSecret, nil, func(c *Config) {
		fastDetection(c)
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	settle(&logs)
	base := logs.Len()
	gossip := net.UDPAddrFromAddrPort(m.Addr())

	rng := rand.New(rand.NewPCG(1, 2))
	udp, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, gossip)
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	const datagrams = 10_000
	buf := make([]byte, 200)
	for i := range datagrams {
		p := buf[:1+rng.IntN(len(buf)-1)]
		for j := range p {
			p[j] = byte(rng.Uint32())
		}
		switch i % 4 { // reach memberlist's label and decrypt checks too
		case 1:
			p[0] = 0 // unsupported encryption version
		case 2:
			p[0] = 244 // label header, random label
		}
		if _, err := udp.Write(p); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			time.Sleep(time.Millisecond) // let memberlist keep up rather than the kernel drop
		}
	}
	const conns = 50
	for range conns {
		c, err := net.DialTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, net.TCPAddrFromAddrPort(m.Addr()))
		if err != nil {
			t.Fatal(err)
		}
		p := buf[:1+rng.IntN(len(buf)-1)]
		for j := range p {
			p[j] = byte(rng.Uint32())
		}
		c.Write(p)
		c.CloseWrite()
		c.SetReadDeadline(time.Now().Add(time.Second))
		c.Read(buf) // memberlist may answer with an error before closing
		c.Close()
	}
	settle(&logs)
	written := logs.Len() - base
	t.Logf("%d bytes of log for %d junk datagrams and %d junk TCP connections", written, datagrams, conns)
	if written > 20_000 {
		t.Errorf("junk traffic wrote %d bytes of log; want at most 20000; the first lines:\n%s", written, head(logs.String()[base:], 2000))
	}

	// The node still gossips.
	eu, _ := start(t, "eu-1", "eu", clusterSecret, []string{m.Addr().String()}, fastDetection)
	waitFor(t, "eu-1 to join after the flood", func() bool {
		return slices.Equal(names(m.Members()), []string{"eu-1", "us-1"}) &&
			slices.Equal(names(eu.Members()), []string{"eu-1", "us-1"})
	})
}

// settle waits until nothing has been logged for a while.
func settle(b *syncbuf.Buffer) {
	n := -1
	for n != b.Len() {
		n = b.Len()
		time.Sleep(300 * time.Millisecond)
	}
}

func head(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func TestLogKey(t *testing.T) {
	tests := []struct{ msg, key string }{
		{"memberlist: Decrypt packet failed: unsupported encryption version 173 from=127.0.0.1:1", "memberlist: Decrypt packet failed"},
		{"memberlist: Decrypt packet failed: no installed keys could decrypt the message from=127.0.0.1:2", "memberlist: Decrypt packet failed"},
		{`memberlist: discarding packet with unacceptable label "\xe5E3": from=127.0.0.1:3`, "memberlist: discarding packet with unacceptable label"},
		{"memberlist: cannot decode label; packet has been truncated from=127.0.0.1:4", "memberlist: cannot decode label; packet has been truncated"},
		{"memberlist: Stream connection from=127.0.0.1:5", "memberlist: Stream connection"},
		{"memberlist: UDP packet too short (0 bytes) from=127.0.0.1:6", "memberlist: UDP packet too short"},
		{"memberlist: Got ping for unexpected node 'x' from=127.0.0.1:7", "memberlist: Got ping for unexpected node"},
		{"memberlist: msg type (9) not supported from=127.0.0.1:8", "memberlist: msg type"},
		{"memberlist: Got invalid checksum for UDP packet: 1a, 2b", "memberlist: Got invalid checksum for UDP packet"},
		{"memberlist: " + strings.Repeat("a", 100), "memberlist: " + strings.Repeat("a", maxKeyLen)},
		{"no prefix at all", "no prefix at all"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := logKey([]byte(tt.msg)); got != tt.key {
			t.Errorf("logKey(%q) = %q, want %q", tt.msg, got, tt.key)
		}
	}
}
