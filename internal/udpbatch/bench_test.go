package udpbatch

import (
	"flag"
	"fmt"
	"net/netip"
	"testing"
)

// One op is one 1200-byte packet in every benchmark, so ns/op is ns/packet.
// On loopback the kernel also does the receiver's work inside the send
// syscall, which makes both variants slower than on a real interface.

const benchPacket = 1200

// benchDst sends to a sink instead of a loopback receiver, to measure the
// send path alone: run the benchmark in a private network namespace with a
// dummy interface (which drops what it is given), e.g.
//
//	unshare -n sh -c 'ip link set lo up; ip link add d0 type dummy;
//	  ip addr add 10.99.0.1/24 dev d0; ip link set d0 up;
//	  ./udpbatch.test -test.bench . -udpbatch.dst 10.99.0.2:9'
var benchDst = flag.String("udpbatch.dst", "", "benchmark destination instead of a loopback receiver")

func benchSetup(b *testing.B) (*Conn, func(*Conn, []byte)) {
	var to netip.AddrPort
	local := "127.0.0.1:0"
	if *benchDst != "" {
		local = "0.0.0.0:0"
		var err error
		if to, err = netip.ParseAddrPort(*benchDst); err != nil {
			b.Fatalf("-udpbatch.dst: %v", err)
		}
	} else {
		rx := listen(b, "udp4", "127.0.0.1:0")
		if err := rx.SetReadBuffer(4 << 20); err != nil {
			b.Fatalf("read buffer: %v", err)
		}
		go drain(rx)
		to = addrOf(b, rx)
	}
	c := newConn(b, "udp4", local)
	start := cpuTime()
	b.Cleanup(func() {
		// CPU time of the whole process (the loopback drain goroutine
		// included): what the node's profile measures, unlike wall time.
		if used := cpuTime() - start; used > 0 {
			b.ReportMetric(float64(used)/float64(b.N), "cpu-ns/op")
		}
	})
	return c, func(c *Conn, p []byte) {
		if _, err := c.WriteToAddrPort(p, to); err != nil {
			b.Errorf("write: %v", err)
		}
	}
}

// BenchmarkWrite is the baseline: one sendto per packet.
func BenchmarkWrite(b *testing.B) {
	c, write := benchSetup(b)
	p := make([]byte, benchPacket)
	b.ReportAllocs()
	b.SetBytes(benchPacket)
	for b.Loop() {
		write(c, p)
	}
	reportStats(b, c)
}

// BenchmarkHeldWrite sends the packets in Hold/Release groups of fanout, the
// way one incoming packet is forwarded to fanout receivers.
func BenchmarkHeldWrite(b *testing.B) {
	for _, fanout := range []int{1, 4, 24, 64} {
		b.Run(fmt.Sprint("fanout=", fanout), func(b *testing.B) {
			c, write := benchSetup(b)
			p := make([]byte, benchPacket)
			b.ReportAllocs()
			b.SetBytes(benchPacket)
			for i := 0; i < b.N; {
				c.Hold()
				for j := 0; j < fanout && i < b.N; j++ {
					write(c, p)
					i++
				}
				c.Release()
			}
			reportStats(b, c)
		})
	}
}

// BenchmarkWriteParallel and BenchmarkHeldWriteParallel model several
// fan-out goroutines sharing the socket.
func BenchmarkWriteParallel(b *testing.B) {
	c, write := benchSetup(b)
	b.ReportAllocs()
	b.SetBytes(benchPacket)
	b.RunParallel(func(pb *testing.PB) {
		p := make([]byte, benchPacket)
		for pb.Next() {
			write(c, p)
		}
	})
	reportStats(b, c)
}

func BenchmarkHeldWriteParallel(b *testing.B) {
	const fanout = 24
	c, write := benchSetup(b)
	b.ReportAllocs()
	b.SetBytes(benchPacket)
	b.RunParallel(func(pb *testing.PB) {
		p := make([]byte, benchPacket)
		more := true
		for more {
			c.Hold()
			for j := 0; j < fanout; j++ {
				if more = pb.Next(); !more {
					break
				}
				write(c, p)
			}
			c.Release()
		}
	})
	reportStats(b, c)
}

func reportStats(b *testing.B, c *Conn) {
	s := c.Stats()
	if s.Batches > 0 {
		b.ReportMetric(float64(s.Packets-s.Direct)/float64(s.Batches), "pkts/sendmmsg")
	}
	if s.Errors > 0 {
		b.Errorf("%d write errors", s.Errors)
	}
}
