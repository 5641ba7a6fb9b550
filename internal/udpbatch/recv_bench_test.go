package udpbatch

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// BenchmarkRead reads bursts of 1200-byte datagrams. One op is one
// datagram, and each burst is sent with the timer stopped, so ns/op and
// allocs/op are the read path alone, per datagram. burst=1 is light
// traffic (every read finds the socket empty and waits for the poller);
// burst=64 is a socket that has 64 datagrams queued when it is read.
func BenchmarkRead(b *testing.B) {
	for _, burst := range []int{1, 64} {
		for _, mode := range benchReadModes {
			for _, api := range []string{"ReadFromAddrPort", "ReadFrom"} {
				name := fmt.Sprintf("burst=%d/%s/%s", burst, mode.name, api)
				b.Run(name, func(b *testing.B) {
					benchRead(b, burst, api == "ReadFrom", mode.opts...)
				})
			}
		}
	}
}

func benchRead(b *testing.B, burst int, readFrom bool, opts ...Option) {
	sock := listen(b, "udp4", "127.0.0.1:0")
	// Room for a whole burst whatever the default buffer size.
	if err := sock.SetReadBuffer(1 << 20); err != nil {
		b.Fatalf("read buffer: %v", err)
	}
	c, err := New(sock, opts...)
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	b.Cleanup(func() { c.Close() })
	// A guard against a lost datagram hanging the benchmark, set once.
	if err := c.SetReadDeadline(time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	tx := listen(b, "udp4", "127.0.0.1:0")
	to := c.LocalAddr().(*net.UDPAddr).AddrPort()
	p := make([]byte, benchPacket)
	buf := make([]byte, 8192) // what pion's UDP mux reads into
	read := func() (int, error) {
		n, _, err := c.ReadFromAddrPort(buf)
		return n, err
	}
	if readFrom {
		read = func() (int, error) {
			n, _, err := c.ReadFrom(buf)
			return n, err
		}
	}
	start := benchStats(c)
	b.ReportAllocs()
	b.SetBytes(benchPacket)
	b.ResetTimer()
	for i := 0; i < b.N; {
		b.StopTimer()
		k := min(burst, b.N-i)
		for range k {
			if _, err := tx.WriteToUDPAddrPort(p, to); err != nil {
				b.Fatalf("send: %v", err)
			}
		}
		b.StartTimer()
		for range k {
			if n, err := read(); err != nil || n != benchPacket {
				b.Fatalf("read: %d bytes, %v", n, err)
			}
		}
		i += k
	}
	b.StopTimer()
	reportReadStats(b, start, benchStats(c))
}

var benchReadModes = []struct {
	name string
	opts []Option
}{
	{"recvfrom", []Option{WithReadBatch(1)}},
	{"recvmmsg", nil},
}

func benchStats(c *Conn) Stats { return c.Stats() }

// reportReadStats gives the datagrams per read syscall during the run.
func reportReadStats(b *testing.B, start, end Stats) {
	if calls := end.ReadCalls - start.ReadCalls; calls > 0 {
		b.ReportMetric(float64(end.ReadPackets-start.ReadPackets)/float64(calls), "pkts/syscall")
	}
}
