package node_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/node/nodetest"
)

// rtcpCountingNet is the host's network with every UDP socket counting the
// RTCP datagrams it reads: SRTCP leaves its first 8 bytes in the clear,
// and an RTCP packet type is 192-223 where RTP's marker and payload type
// are not (RFC 5761 4). Datagrams whose first packet is an SR or RR are
// also counted apart: those are the reports (the rest is feedback).
type rtcpCountingNet struct {
	transport.Net
	packets, bytes, reports atomic.Uint64
}

func (n *rtcpCountingNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &rtcpCountingConn{UDPConn: c, n: n}, nil
}

func (n *rtcpCountingNet) ListenPacket(network, address string) (net.PacketConn, error) {
	switch network {
	case "udp", "udp4", "udp6":
	default:
		return n.Net.ListenPacket(network, address)
	}
	addr, err := n.Net.ResolveUDPAddr(network, address)
	if err != nil {
		return nil, err
	}
	return n.ListenUDP(network, addr)
}

type rtcpCountingConn struct {
	transport.UDPConn
	n *rtcpCountingNet
}

func (c *rtcpCountingConn) count(b []byte) {
	if len(b) >= 8 && b[0]>>6 == 2 && b[1] >= 192 && b[1] <= 223 {
		c.n.packets.Add(1)
		c.n.bytes.Add(uint64(len(b)))
		if b[1] == 200 || b[1] == 201 {
			c.n.reports.Add(1)
		}
	}
}

func (c *rtcpCountingConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.UDPConn.ReadFrom(b)
	c.count(b[:n])
	return n, addr, err
}

func (c *rtcpCountingConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	n, addr, err := c.UDPConn.ReadFromUDP(b)
	c.count(b[:n])
	return n, addr, err
}

func (c *rtcpCountingConn) Read(b []byte) (int, error) {
	n, err := c.UDPConn.Read(b)
	c.count(b[:n])
	return n, err
}

// BenchmarkRTCPToSubscriber measures the RTCP the node sends one Go
// subscriber of 5 publishers (audio and video each): compound packets
// (datagrams) and bytes per second over 10 s, as the subscriber's socket
// reads them, and those of them that are reports; and the same for one
// publisher (reports about its streams, plus feedback such as
// transport-wide CC). A measurement, not a test; in the network namespace:
//
//	go test -run '^$' -bench RTCPToSubscriber -benchtime 1x ./node/
func BenchmarkRTCPToSubscriber(b *testing.B) {
	const publishers, window = 5, 10 * time.Second
	n := nodetest.Start(b, nil)
	joinB := func(name string, mut func(*client.Options)) *client.Client {
		o := client.Options{URL: wsURL(n), Room: "rtcp", Name: name, Region: "test"}
		if mut != nil {
			mut(&o)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := client.Join(ctx, o)
		if err != nil {
			b.Fatalf("%s joins: %v", name, err)
		}
		b.Cleanup(func() { _ = c.Close() })
		return c
	}
	host, err := stdnet.NewNet()
	if err != nil {
		b.Fatal(err)
	}
	counting := &rtcpCountingNet{Net: host}
	sub := joinB("sub", func(o *client.Options) { o.Net = counting })
	var pubs []*client.Client
	pubNet := &rtcpCountingNet{Net: host}
	for i := range publishers {
		pubs = append(pubs, joinB(fmt.Sprintf("pub%d", i), func(o *client.Options) {
			publishing(o)
			if i == 0 {
				o.Net = pubNet
			}
		}))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ready := 0
		for _, p := range pubs {
			if s := sub.Received()[p.ID()]; s.AudioPackets > 50 && s.VideoPackets > 50 {
				ready++
			}
		}
		if ready == publishers {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the subscriber receives %d of %d publishers", ready, publishers)
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.ResetTimer()
	for range b.N {
		p0, b0, r0 := counting.packets.Load(), counting.bytes.Load(), counting.reports.Load()
		pp0, pr0 := pubNet.packets.Load(), pubNet.reports.Load()
		start := time.Now()
		time.Sleep(window)
		secs := time.Since(start).Seconds()
		b.ReportMetric(float64(counting.packets.Load()-p0)/secs, "sub-rtcp-pkts/s")
		b.ReportMetric(float64(counting.reports.Load()-r0)/secs, "sub-report-pkts/s")
		b.ReportMetric(float64(counting.bytes.Load()-b0)/secs, "sub-rtcp-B/s")
		b.ReportMetric(float64(pubNet.packets.Load()-pp0)/secs, "pub-rtcp-pkts/s")
		b.ReportMetric(float64(pubNet.reports.Load()-pr0)/secs, "pub-report-pkts/s")
	}
}
