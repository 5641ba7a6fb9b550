package udpbatch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"
)

// These tests rely on loopback delivering a datagram into the receiving
// socket's queue before the sending syscall returns (see conn_test.go): a
// burst sent before a read is all queued when that read's recvmmsg runs.

// newReader is a Conn with a receive buffer large enough for every burst
// the tests send, so that no datagram is dropped.
func newReader(t testing.TB, network, addr string, opts ...Option) *Conn {
	t.Helper()
	sock := listen(t, network, addr)
	if err := sock.SetReadBuffer(1 << 20); err != nil {
		t.Fatalf("read buffer: %v", err)
	}
	c, err := New(sock, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetReadDeadline(time.Now().Add(guard)); err != nil {
		t.Fatal(err)
	}
	return c
}

func send(t testing.TB, from *net.UDPConn, p []byte, to netip.AddrPort) {
	t.Helper()
	if n, err := from.WriteToUDPAddrPort(p, to); err != nil || n != len(p) {
		t.Fatalf("send %d bytes: n=%d err=%v", len(p), n, err)
	}
}

// payload is datagram i: its index, then filler, size bytes in all (the
// index is cut off in datagrams shorter than 4 bytes).
func payload(i, size int) []byte {
	p := make([]byte, max(size, 4))
	binary.BigEndian.PutUint32(p, uint32(i))
	for j := 4; j < len(p); j++ {
		p[j] = byte(i + j)
	}
	return p[:size]
}

// TestBatchedReadsKeepOrderSizesAndSources sends bursts from two sockets
// and reads them back one by one with both read methods.
func TestBatchedReadsKeepOrderSizesAndSources(t *testing.T) {
	const rounds, perRound = 5, 40
	sizes := []int{1200, 0, 1, 100, 1500, 8000, 1200, 60}
	for _, batch := range []int{1, 2, 7, DefaultReadBatch} {
		t.Run(fmt.Sprint("batch=", batch), func(t *testing.T) {
			c := newReader(t, "udp4", "127.0.0.1:0", WithReadBatch(batch))
			to := c.LocalAddr().(*net.UDPAddr).AddrPort()
			senders := []*net.UDPConn{listen(t, "udp4", "127.0.0.1:0"), listen(t, "udp4", "127.0.0.1:0")}
			buf := make([]byte, 8192)
			for r := range rounds {
				var want [][]byte
				for j := range perRound {
					i := r*perRound + j
					p := payload(i, sizes[i%len(sizes)])
					send(t, senders[i%2], p, to)
					want = append(want, p)
				}
				for j, w := range want {
					i := r*perRound + j
					wantFrom := addrOf(t, senders[i%2])
					var n int
					var from netip.AddrPort
					if i%3 == 0 {
						var a net.Addr
						var err error
						n, a, err = c.ReadFrom(buf)
						if err != nil {
							t.Fatalf("datagram %d: ReadFrom: %v", i, err)
						}
						ua := a.(*net.UDPAddr)
						if len(ua.IP) != net.IPv4len {
							t.Fatalf("datagram %d: %d-byte IP from an AF_INET socket", i, len(ua.IP))
						}
						from = ua.AddrPort()
					} else {
						var err error
						if n, from, err = c.ReadFromAddrPort(buf); err != nil {
							t.Fatalf("datagram %d: ReadFromAddrPort: %v", i, err)
						}
					}
					if !bytes.Equal(buf[:n], w) {
						t.Fatalf("datagram %d: got %d bytes %x..., want %d bytes %x...",
							i, n, buf[:min(n, 8)], len(w), w[:min(len(w), 8)])
					}
					if from != wantFrom {
						t.Fatalf("datagram %d: from %v, want %v", i, from, wantFrom)
					}
				}
			}
			s := c.Stats()
			t.Logf("stats %+v", s)
			if s.ReadPackets != rounds*perRound || s.LargestRead > uint64(batch) || s.ReadTruncated != 0 {
				t.Fatalf("stats %+v", s)
			}
			if batch == 1 && s.ReadCalls != s.ReadPackets {
				t.Fatalf("unbatched: %d syscalls for %d datagrams", s.ReadCalls, s.ReadPackets)
			}
			if batch > 1 && batchedReads && s.ReadCalls >= s.ReadPackets {
				t.Fatalf("batch=%d: %d syscalls for %d datagrams: nothing batched", batch, s.ReadCalls, s.ReadPackets)
			}
		})
	}
}

// readResult is what one read returned, in comparable form.
type readResult struct {
	Data     string
	N        int
	From     netip.AddrPort // ReadFromAddrPort
	FromAddr string         // ReadFrom: the address's string and IP length
	IPLen    int
	Err      string
}

func readOne(c interface {
	ReadFrom([]byte) (int, net.Addr, error)
}, fromAddrPort func([]byte) (int, netip.AddrPort, error), buf []byte, useAddrPort bool) readResult {
	var r readResult
	var err error
	if useAddrPort {
		r.N, r.From, err = fromAddrPort(buf)
	} else {
		var a net.Addr
		r.N, a, err = c.ReadFrom(buf)
		if ua, ok := a.(*net.UDPAddr); ok {
			r.FromAddr, r.IPLen = ua.String(), len(ua.IP)
		}
	}
	if err != nil {
		r.Err = err.Error()
	}
	r.Data = string(buf[:r.N])
	return r
}

// TestReadsMatchUDPConn reads the same datagrams from a Conn and from a
// plain net.UDPConn into a buffer smaller than some of them, or none: lengths,
// bytes and source addresses (form included) must be the same, whether a
// datagram came first in its batch (read by the kernel into the caller's
// buffer) or later (copied from a slot).
func TestReadsMatchUDPConn(t *testing.T) {
	sizes := []int{3000, 300, 3000, 0, 50, 1000, 1001}
	for _, tc := range addrCases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ipv6 {
				haveIPv6(t)
			}
			c := newReader(t, tc.connNet, tc.conn)
			ref := listen(t, tc.connNet, tc.conn)
			if err := ref.SetReadDeadline(time.Now().Add(guard)); err != nil {
				t.Fatal(err)
			}
			tx := listen(t, tc.rxNet, tc.rx)
			port := func(pc net.PacketConn) netip.AddrPort {
				// The tests' sockets listen on loopback or on the
				// unspecified address: send to the sender's loopback.
				return netip.AddrPortFrom(addrOf(t, tx).Addr(), uint16(pc.LocalAddr().(*net.UDPAddr).Port))
			}
			for i, size := range sizes {
				p := payload(i, size)
				send(t, tx, p, port(c))
				send(t, tx, p, port(ref))
			}
			buf, refBuf := make([]byte, 1000), make([]byte, 1000)
			for i := range sizes {
				useAddrPort := i%2 == 1
				b, refB := buf, refBuf
				if i == 0 || i == 4 {
					// No buffer at all: the datagram is consumed, 0 bytes
					// returned, first in a batch and later in one.
					b, refB = nil, nil
				}
				got := readOne(c, c.ReadFromAddrPort, b, useAddrPort)
				want := readOne(ref, ref.ReadFromUDPAddrPort, refB, useAddrPort)
				if got != want {
					t.Fatalf("datagram %d (%d bytes):\n got %+v\nwant %+v", i, sizes[i], got, want)
				}
			}
			if s := c.Stats(); batchedReads && s.ReadCalls >= s.ReadPackets {
				t.Fatalf("stats %+v: nothing batched, the slots were not tested", s)
			}
		})
	}
}

// TestDatagramLargerThanSlot: the first datagram of a batch is read
// straight into the caller's buffer and keeps its length; a later one is
// cut to the slot size and counted.
func TestDatagramLargerThanSlot(t *testing.T) {
	if !batchedReads {
		t.Skip("reads are not batched on this platform")
	}
	const slot = 512
	c := newReader(t, "udp4", "127.0.0.1:0", WithReadSlot(slot))
	tx := listen(t, "udp4", "127.0.0.1:0")
	to := c.LocalAddr().(*net.UDPAddr).AddrPort()
	big, small := payload(1, 2000), payload(2, 100)
	send(t, tx, big, to)
	send(t, tx, big, to)
	send(t, tx, small, to)
	buf := make([]byte, 8192)
	for i, want := range [][]byte{big, big[:slot], small} {
		n, _, err := c.ReadFromAddrPort(buf)
		if err != nil || !bytes.Equal(buf[:n], want) {
			t.Fatalf("read %d: %d bytes, %v; want %d bytes", i, n, err, len(want))
		}
	}
	if s := c.Stats(); s.ReadTruncated != 1 || s.ReadCalls != 1 {
		t.Fatalf("stats %+v, want one syscall and one truncated datagram", s)
	}
}

// TestLoneDatagramIsNotHeldBack: a reader waiting on an empty socket gets
// a datagram as soon as it arrives, without waiting for a batch to fill.
func TestLoneDatagramIsNotHeldBack(t *testing.T) {
	c := newReader(t, "udp4", "127.0.0.1:0")
	tx := listen(t, "udp4", "127.0.0.1:0")
	to := c.LocalAddr().(*net.UDPAddr).AddrPort()
	buf := make([]byte, 100)
	for i := range 3 {
		got := make(chan string, 1)
		go func() {
			n, _, err := c.ReadFromAddrPort(buf)
			if err != nil {
				got <- err.Error()
				return
			}
			got <- string(buf[:n])
		}()
		want := fmt.Sprint("lone ", i)
		send(t, tx, []byte(want), to)
		select {
		case s := <-got:
			if s != want {
				t.Fatalf("read %q, want %q", s, want)
			}
		case <-time.After(guard):
			t.Fatalf("datagram %d not returned", i)
		}
	}
}

// TestReadDeadline: a waiting read ends at the deadline with the error a
// net.UDPConn gives (pion's mux tells it apart with os.IsTimeout); reads
// work again once the deadline is moved; datagrams already batched are
// still returned past it.
func TestReadDeadline(t *testing.T) {
	for _, batch := range []int{1, DefaultReadBatch} {
		t.Run(fmt.Sprint("batch=", batch), func(t *testing.T) {
			c := newReader(t, "udp4", "127.0.0.1:0", WithReadBatch(batch))
			tx := listen(t, "udp4", "127.0.0.1:0")
			to := c.LocalAddr().(*net.UDPAddr).AddrPort()
			buf := make([]byte, 100)

			if err := c.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			for _, read := range []func() error{
				func() error { _, _, err := c.ReadFromAddrPort(buf); return err },
				func() error { _, _, err := c.ReadFrom(buf); return err },
			} {
				err := read()
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() || !os.IsTimeout(err) || !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("read past the deadline: %v, want a timeout", err)
				}
			}

			if err := c.SetReadDeadline(time.Now().Add(guard)); err != nil {
				t.Fatal(err)
			}
			send(t, tx, []byte("a"), to)
			send(t, tx, []byte("b"), to)
			if n, _, err := c.ReadFromAddrPort(buf); err != nil || string(buf[:n]) != "a" {
				t.Fatalf("read after the deadline moved: %q, %v", buf[:n], err)
			}
			if err := c.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
				t.Fatal(err)
			}
			n, _, err := c.ReadFromAddrPort(buf)
			if batch > 1 && batchedReads {
				if err != nil || string(buf[:n]) != "b" {
					t.Fatalf("batched datagram past the deadline: %q, %v", buf[:n], err)
				}
				_, _, err = c.ReadFromAddrPort(buf)
			}
			if !os.IsTimeout(err) {
				t.Fatalf("read with the deadline past: %v, want a timeout", err)
			}
		})
	}
}

// TestCloseEndsReads: Close wakes a read waiting for a datagram, and
// datagrams already batched are not returned after it.
func TestCloseEndsReads(t *testing.T) {
	for _, batch := range []int{1, DefaultReadBatch} {
		t.Run(fmt.Sprint("batch=", batch), func(t *testing.T) {
			t.Run("waiting", func(t *testing.T) {
				c := newReader(t, "udp4", "127.0.0.1:0", WithReadBatch(batch))
				tx := listen(t, "udp4", "127.0.0.1:0")
				to := c.LocalAddr().(*net.UDPAddr).AddrPort()
				done := make(chan error, 1)
				read := make(chan struct{})
				go func() {
					buf := make([]byte, 100)
					// One datagram first, so the reader is known to be
					// running; the next read then waits on the empty
					// socket (or finds it closed: both end the same way).
					if _, _, err := c.ReadFromAddrPort(buf); err != nil {
						done <- err
						return
					}
					close(read)
					_, _, err := c.ReadFromAddrPort(buf)
					done <- err
				}()
				send(t, tx, []byte("x"), to)
				<-read
				time.Sleep(10 * time.Millisecond) // not asserted: lets the reader park
				if err := c.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				select {
				case err := <-done:
					if !errors.Is(err, net.ErrClosed) {
						t.Fatalf("read after Close: %v, want net.ErrClosed", err)
					}
				case <-time.After(guard):
					t.Fatal("Close did not end a waiting read")
				}
			})
			t.Run("buffered", func(t *testing.T) {
				c := newReader(t, "udp4", "127.0.0.1:0", WithReadBatch(batch))
				tx := listen(t, "udp4", "127.0.0.1:0")
				to := c.LocalAddr().(*net.UDPAddr).AddrPort()
				send(t, tx, []byte("1"), to)
				send(t, tx, []byte("2"), to)
				buf := make([]byte, 100)
				if _, _, err := c.ReadFromAddrPort(buf); err != nil {
					t.Fatal(err)
				}
				if err := c.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				if n, _, err := c.ReadFromAddrPort(buf); !errors.Is(err, net.ErrClosed) {
					t.Fatalf("read after Close: %q, %v; want net.ErrClosed", buf[:n], err)
				}
				if _, _, err := c.ReadFrom(buf); !errors.Is(err, net.ErrClosed) {
					t.Fatalf("ReadFrom after Close: %v, want net.ErrClosed", err)
				}
			})
		})
	}
}

// TestConcurrentReaders: several goroutines reading one Conn get every
// datagram exactly once (pion reads with one, but nothing stops more).
func TestConcurrentReaders(t *testing.T) {
	const readers, rounds, perRound = 4, 50, 40
	c := newReader(t, "udp4", "127.0.0.1:0")
	tx := listen(t, "udp4", "127.0.0.1:0")
	to := c.LocalAddr().(*net.UDPAddr).AddrPort()
	// Room for every datagram, so a reader never blocks on it.
	got := make(chan int, rounds*perRound)
	var wg sync.WaitGroup
	defer func() {
		c.Close()
		wg.Wait()
	}()
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1500)
			for {
				var n int
				var err error
				if r%2 == 0 {
					n, _, err = c.ReadFromAddrPort(buf)
				} else {
					n, _, err = c.ReadFrom(buf)
				}
				if err != nil {
					return
				}
				if n != 1200 {
					t.Errorf("read %d bytes", n)
					got <- -1
					continue
				}
				got <- int(binary.BigEndian.Uint32(buf))
			}
		}()
	}
	seen := make(map[int]bool)
	for r := range rounds {
		// One round at a time, so the socket buffer never overflows.
		for j := range perRound {
			send(t, tx, payload(r*perRound+j, 1200), to)
		}
		for range perRound {
			select {
			case i := <-got:
				if seen[i] || i < r*perRound || i >= (r+1)*perRound {
					t.Fatalf("round %d: datagram %d read twice or out of its round", r, i)
				}
				seen[i] = true
			case <-time.After(guard):
				t.Fatalf("round %d: datagrams missing", r)
			}
		}
	}
	t.Logf("stats %+v", c.Stats())
}

// TestBatchedReadsDoNotAllocate: ReadFromAddrPort allocates nothing and
// ReadFrom only the address it returns.
func TestBatchedReadsDoNotAllocate(t *testing.T) {
	const burst = 16
	c := newReader(t, "udp4", "127.0.0.1:0")
	tx := listen(t, "udp4", "127.0.0.1:0")
	to := c.LocalAddr().(*net.UDPAddr).AddrPort()
	p := make([]byte, 1200)
	buf := make([]byte, 8192)
	tests := []struct {
		name    string
		read    func() error
		perRead float64
	}{
		{"ReadFromAddrPort", func() error { _, _, err := c.ReadFromAddrPort(buf); return err }, 0},
		{"ReadFrom", func() error { _, _, err := c.ReadFrom(buf); return err }, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(50, func() {
				for range burst {
					if _, err := tx.WriteToUDPAddrPort(p, to); err != nil {
						t.Fatalf("send: %v", err)
					}
				}
				for range burst {
					if err := tc.read(); err != nil {
						t.Fatalf("read: %v", err)
					}
				}
			})
			if allocs > tc.perRead*burst {
				t.Fatalf("%v allocs per burst of %d, want at most %v", allocs, burst, tc.perRead*burst)
			}
		})
	}
}
