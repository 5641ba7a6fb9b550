package udpbatch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// Loopback delivers a datagram into the receiving socket's queue before the
// sending syscall returns, so the order in which a receiver reads packets
// from two senders is the order of their syscalls. The tests use a marker
// sent from a second, plain socket to observe whether held packets were
// sent before it, without any timing.

// guard keeps a broken test from hanging; it is never what a test asserts.
const guard = 10 * time.Second

func listen(t testing.TB, network, addr string) *net.UDPConn {
	t.Helper()
	ua, err := net.ResolveUDPAddr(network, addr)
	if err != nil {
		t.Fatalf("resolve %s %s: %v", network, addr, err)
	}
	c, err := net.ListenUDP(network, ua)
	if err != nil {
		t.Fatalf("listen %s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func haveIPv6(t testing.TB) {
	t.Helper()
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no ::1: %v", err)
	}
	c.Close()
}

func newConn(t testing.TB, network, addr string, opts ...Option) *Conn {
	t.Helper()
	c, err := New(listen(t, network, addr), opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func addrOf(t testing.TB, c *net.UDPConn) netip.AddrPort {
	t.Helper()
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// recv reads one datagram or fails the test.
func recv(t testing.TB, c *net.UDPConn) string {
	t.Helper()
	buf := make([]byte, 65536)
	if err := c.SetReadDeadline(time.Now().Add(guard)); err != nil {
		t.Fatalf("deadline: %v", err)
	}
	n, _, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(buf[:n])
}

func expect(t testing.TB, rx *net.UDPConn, want ...string) {
	t.Helper()
	for i, w := range want {
		if got := recv(t, rx); got != w {
			t.Fatalf("datagram %d: got %q, want %q", i, got, w)
		}
	}
}

func write(t testing.TB, c *Conn, s string, to netip.AddrPort) {
	t.Helper()
	n, err := c.WriteToAddrPort([]byte(s), to)
	if err != nil || n != len(s) {
		t.Fatalf("write %q: n=%d err=%v", s, n, err)
	}
}

type addrCase struct {
	name          string
	connNet, conn string
	rxNet, rx     string
	ipv6          bool
}

var addrCases = []addrCase{
	{name: "ipv4", connNet: "udp4", conn: "127.0.0.1:0", rxNet: "udp4", rx: "127.0.0.1:0"},
	{name: "ipv6", connNet: "udp6", conn: "[::1]:0", rxNet: "udp6", rx: "[::1]:0", ipv6: true},
	{name: "dual-stack to ipv4", connNet: "udp", conn: "[::]:0", rxNet: "udp4", rx: "127.0.0.1:0", ipv6: true},
	{name: "dual-stack to ipv6", connNet: "udp", conn: "[::]:0", rxNet: "udp6", rx: "[::1]:0", ipv6: true},
}

func TestHoldDefersUntilRelease(t *testing.T) {
	for _, tc := range addrCases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ipv6 {
				haveIPv6(t)
			}
			c := newConn(t, tc.connNet, tc.conn)
			rx := listen(t, tc.rxNet, tc.rx)
			marker := listen(t, tc.rxNet, tc.rx)
			to := addrOf(t, rx)
			mark := func() {
				if _, err := marker.WriteToUDPAddrPort([]byte("marker"), to); err != nil {
					t.Fatalf("marker: %v", err)
				}
			}

			write(t, c, "direct", to)
			mark()
			expect(t, rx, "direct", "marker")

			c.Hold()
			for i := range 5 {
				write(t, c, fmt.Sprint("held", i), to)
			}
			mark()
			if s := c.Stats(); s.Packets != 1 {
				t.Fatalf("before Release: %d packets sent, want 1 (the direct one)", s.Packets)
			}
			c.Release()
			expect(t, rx, "marker", "held0", "held1", "held2", "held3", "held4")

			s := c.Stats()
			want := Stats{Packets: 6, Direct: 1, Batches: 1, LargestBatch: 5}
			if s != want {
				t.Fatalf("stats %+v, want %+v", s, want)
			}
		})
	}
}

func TestNestedHoldsFlushOnEveryRelease(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0")
	rx := listen(t, "udp4", "127.0.0.1:0")
	to := addrOf(t, rx)

	c.Hold()
	c.Hold()
	write(t, c, "a", to)
	c.Release() // the other holder is still active, but a's delay is bounded by this span
	expect(t, rx, "a")
	write(t, c, "b", to)
	if s := c.Stats(); s.Packets != 1 {
		t.Fatalf("b sent while still held: %+v", s)
	}
	c.Release()
	expect(t, rx, "b")
	write(t, c, "c", to)
	expect(t, rx, "c")
	if s := c.Stats(); s.Direct != 1 {
		t.Fatalf("c should go out directly once nobody holds: %+v", s)
	}
}

func TestFullQueueFlushes(t *testing.T) {
	const queueLen = 4
	for _, n := range []int{1, 3, 4, 5, 8, 9, 13} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			c := newConn(t, "udp4", "127.0.0.1:0", WithQueueLen(queueLen))
			rx := listen(t, "udp4", "127.0.0.1:0")
			marker := listen(t, "udp4", "127.0.0.1:0")
			to := addrOf(t, rx)

			var want []string
			c.Hold()
			for i := range n {
				s := fmt.Sprint("p", i)
				write(t, c, s, to)
				want = append(want, s)
			}
			if _, err := marker.WriteToUDPAddrPort([]byte("marker"), to); err != nil {
				t.Fatalf("marker: %v", err)
			}
			early := n / queueLen * queueLen
			c.Release()
			got := append(append([]string{}, want[:early]...), "marker")
			got = append(got, want[early:]...)
			expect(t, rx, got...)
			s := c.Stats()
			if s.Packets != uint64(n) || s.LargestBatch > queueLen {
				t.Fatalf("stats %+v: want %d packets in batches of at most %d", s, n, queueLen)
			}
		})
	}
}

func TestBadDatagramDoesNotDropTheRest(t *testing.T) {
	oversize := strings.Repeat("x", 70000) // above the 65507-byte UDP limit: EMSGSIZE
	tests := []struct {
		name  string
		batch []string
	}{
		{"first", []string{oversize, "a", "b", "c"}},
		{"middle", []string{"a", "b", oversize, "c"}},
		{"last", []string{"a", "b", "c", oversize}},
		{"several", []string{oversize, "a", oversize, oversize, "b", "c", oversize}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			c := newConn(t, "udp4", "127.0.0.1:0",
				WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			rx := listen(t, "udp4", "127.0.0.1:0")
			to := addrOf(t, rx)

			var good []string
			c.Hold()
			for _, p := range tc.batch {
				write(t, c, p, to)
				if p != oversize {
					good = append(good, p)
				}
			}
			c.Release()
			write(t, c, "after", to)
			expect(t, rx, append(good, "after")...)

			s := c.Stats()
			bad := uint64(len(tc.batch) - len(good))
			if s.Errors != bad || s.Packets != uint64(len(good))+1 {
				t.Fatalf("stats %+v: want %d errors, %d packets", s, bad, len(good)+1)
			}
			if got := strings.Count(logs.String(), "message too long"); got != 1 {
				t.Fatalf("logged EMSGSIZE %d times, want once:\n%s", got, logs.String())
			}
		})
	}
}

func TestDirectErrorsReachTheWriter(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0")
	rx := listen(t, "udp4", "127.0.0.1:0")
	tests := []struct {
		name string
		b    []byte
		to   netip.AddrPort
	}{
		{"oversize", make([]byte, 70000), addrOf(t, rx)},
		{"ipv6 on ipv4 socket", []byte("x"), netip.MustParseAddrPort("[::1]:9")},
		{"zero address", []byte("x"), netip.AddrPort{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.WriteToAddrPort(tc.b, tc.to); err == nil {
				t.Fatal("write succeeded")
			}
		})
	}
	// Address errors are caught before queueing, so holding changes nothing.
	c.Hold()
	defer c.Release()
	if _, err := c.WriteToAddrPort([]byte("x"), netip.MustParseAddrPort("[::1]:9")); err == nil {
		t.Fatal("held write to IPv6 on an IPv4 socket succeeded")
	}
}

func TestWriteToNeedsUDPAddr(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0")
	rx := listen(t, "udp4", "127.0.0.1:0")
	if _, err := c.WriteTo([]byte("x"), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}); err == nil {
		t.Fatal("WriteTo a TCP address succeeded")
	}
	if _, err := c.WriteTo([]byte("udp"), rx.LocalAddr()); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	expect(t, rx, "udp")
}

func TestReadsPassThrough(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0")
	peer := listen(t, "udp4", "127.0.0.1:0")
	to := c.LocalAddr().(*net.UDPAddr).AddrPort()
	for _, s := range []string{"one", "two"} {
		if _, err := peer.WriteToUDPAddrPort([]byte(s), to); err != nil {
			t.Fatalf("peer write: %v", err)
		}
	}
	if err := c.SetReadDeadline(time.Now().Add(guard)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n, from, err := c.ReadFromAddrPort(buf)
	if err != nil || string(buf[:n]) != "one" || from != addrOf(t, peer) {
		t.Fatalf("ReadFromAddrPort: %q from %v, %v", buf[:n], from, err)
	}
	n, fromAddr, err := c.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "two" || fromAddr.String() != peer.LocalAddr().String() {
		t.Fatalf("ReadFrom: %q from %v, %v", buf[:n], fromAddr, err)
	}
}

func TestCloseFlushes(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0")
	rx := listen(t, "udp4", "127.0.0.1:0")
	to := addrOf(t, rx)
	c.Hold()
	write(t, c, "a", to)
	write(t, c, "b", to)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	expect(t, rx, "a", "b")
	if _, err := c.WriteToAddrPort([]byte("c"), to); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v, want net.ErrClosed", err)
	}
	c.Release()
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

func TestReleaseWithoutHoldPanics(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0")
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	c.Release()
}

func TestErrorLogIsRateLimited(t *testing.T) {
	now := time.Unix(1000, 0)
	var logs bytes.Buffer
	c := newConn(t, "udp4", "127.0.0.1:0",
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		withClock(func() time.Time { return now }))
	rx := listen(t, "udp4", "127.0.0.1:0")
	to := addrOf(t, rx)
	big := make([]byte, 70000)
	fail := func(times int) {
		t.Helper()
		c.Hold()
		for range times {
			write(t, c, string(big), to)
		}
		c.Release()
	}
	steps := []struct {
		advance  time.Duration
		failures int
		logged   int // log lines so far
	}{
		{0, 3, 1},
		{logInterval / 2, 2, 1},
		{logInterval, 1, 2}, // 10 s after the first line: logs again, with 4 suppressed
		{time.Second, 5, 2},
	}
	for i, st := range steps {
		now = now.Add(st.advance)
		fail(st.failures)
		if got := strings.Count(logs.String(), "\n"); got != st.logged {
			t.Fatalf("step %d: %d log lines, want %d:\n%s", i, got, st.logged, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "suppressed_since_last_log=4") {
		t.Fatalf("second line should report 4 suppressed:\n%s", logs.String())
	}
	if s := c.Stats(); s.Errors != 11 {
		t.Fatalf("errors %d, want 11", s.Errors)
	}
}

// TestConcurrentWritersAndHolders checks under -race that nothing is lost or
// reordered per writer when writers with and without holds share the
// socket, and when holds overlap writes of other goroutines. Rounds keep the
// in-flight volume below the receive buffer so the kernel drops nothing.
func TestConcurrentWritersAndHolders(t *testing.T) {
	const (
		writers   = 8
		rounds    = 25
		perRound  = 20
		queueLen  = 8
		packetLen = 64
	)
	c := newConn(t, "udp4", "127.0.0.1:0", WithQueueLen(queueLen))
	rx := listen(t, "udp4", "127.0.0.1:0")
	if err := rx.SetReadBuffer(4 << 20); err != nil {
		t.Fatalf("read buffer: %v", err)
	}
	to := addrOf(t, rx)

	next := make([]uint32, writers) // next sequence number expected per writer
	buf := make([]byte, 2048)
	for round := range rounds {
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := make([]byte, packetLen)
				// Writer 0 never holds; the others split their packets into
				// held runs of different lengths, so holds overlap everyone.
				run := w
				for i := 0; i < perRound; {
					if run > 0 {
						c.Hold()
					}
					for j := 0; j < max(run, 1) && i < perRound; j++ {
						binary.BigEndian.PutUint16(p[0:], uint16(w))
						binary.BigEndian.PutUint32(p[2:], uint32(round*perRound+i))
						if _, err := c.WriteToAddrPort(p, to); err != nil {
							t.Errorf("writer %d: %v", w, err)
						}
						i++
					}
					if run > 0 {
						c.Release()
					}
				}
			}()
		}
		wg.Wait()
		// Every Release and write has returned, so nothing is queued.
		if err := rx.SetReadDeadline(time.Now().Add(guard)); err != nil {
			t.Fatal(err)
		}
		for range writers * perRound {
			n, _, err := rx.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatalf("round %d: read: %v (stats %+v)", round, err, c.Stats())
			}
			if n != packetLen {
				t.Fatalf("round %d: %d-byte datagram", round, n)
			}
			w := binary.BigEndian.Uint16(buf)
			seq := binary.BigEndian.Uint32(buf[2:])
			if int(w) >= writers || seq != next[w] {
				t.Fatalf("round %d: writer %d sent seq %d, want %d", round, w, seq, next[w])
			}
			next[w]++
		}
	}
	s := c.Stats()
	if s.Packets != writers*rounds*perRound || s.Errors != 0 || s.LargestBatch > queueLen {
		t.Fatalf("stats %+v", s)
	}
	t.Logf("stats %+v", s)
}

func TestSteadyStateDoesNotAllocate(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0")
	rx := listen(t, "udp4", "127.0.0.1:0")
	go drain(rx)
	to := addrOf(t, rx)
	p := make([]byte, 1200)
	tests := []struct {
		name string
		fn   func()
	}{
		{"held fan-out of 24", func() {
			c.Hold()
			for range 24 {
				c.WriteToAddrPort(p, to)
			}
			c.Release()
		}},
		{"direct", func() { c.WriteToAddrPort(p, to) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if a := testing.AllocsPerRun(100, tc.fn); a != 0 {
				t.Fatalf("%v allocs per run", a)
			}
		})
	}
}

// drain reads until the socket is closed, so benchmarks never fill it.
func drain(c *net.UDPConn) {
	buf := make([]byte, 65536)
	for {
		if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
			return
		}
	}
}

// TestWritesQueueBehindAFlushInProgress stops a flush in the middle to check
// that a Release meanwhile does not wait for it and that an unheld write
// then does not overtake the packets it is about to send.
func TestWritesQueueBehindAFlushInProgress(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0")
	rx := listen(t, "udp4", "127.0.0.1:0")
	to := addrOf(t, rx)
	entered, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	unblock := sync.OnceFunc(func() { close(resume) })
	t.Cleanup(unblock) // before Close, which waits for the stopped flush
	c.beforeSend = func() {
		once.Do(func() {
			close(entered)
			<-resume
		})
	}

	c.Hold()
	write(t, c, "first", to)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Release() // becomes the sender and stops in beforeSend
	}()
	<-entered

	c.Hold()
	write(t, c, "held", to)
	c.Release() // returns at once: the stopped sender will send "held"
	write(t, c, "unheld", to)
	if s := c.Stats(); s.Packets != 0 {
		t.Fatalf("sent while the flush was stopped: %+v", s)
	}
	unblock()
	<-done
	expect(t, rx, "first", "held", "unheld")
	if s := c.Stats(); s.Direct != 0 || s.Packets != 3 {
		t.Fatalf("stats %+v", s)
	}
}
