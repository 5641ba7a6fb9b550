package relay

import (
	"context"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/linkemu"
)

// Counter is a packet and byte count.
type Counter struct {
	Packets uint64
	Bytes   uint64
}

// LinkStats describes one peer link as seen from this node. Bytes are
// sealed datagram bytes, as they cross the network.
type LinkStats struct {
	Peer NodeID
	Name string // from the peer's hello; empty until heard
	Addr netip.AddrPort
	// Up is true while the peer is not Silent.
	Up        bool
	LastHeard time.Time

	RTT         time.Duration // latest ping round trip
	SmoothedRTT time.Duration // RFC 6298-style average
	MinRTT      time.Duration
	// PingLoss is the fraction of the last pingWindow pings that got no pong
	// in time (both directions together).
	PingLoss float64
	// RxLoss is the fraction of the peer's datagrams to this node that went
	// missing during the last ping interval, from gaps in its sequence.
	RxLoss float64
	// Far is the peer's latest report on this node's datagrams (carried in
	// its pongs) and FarAt when it came; zero while none has (or the peer
	// does not report). OneWay is the peer's clock at that ping's arrival
	// minus this node's at its sending: the offset is arbitrary, a rise
	// over its minimum is queueing on the way to the peer. TxLoss is the
	// fraction of this node's datagrams the peer missed between its last
	// two reports.
	Far    Report
	FarAt  time.Time
	OneWay time.Duration
	TxLoss float64

	// Out and In are indexed by type slot: RTP, RTCP, message, control.
	Out, In [NumTypeSlots]Counter
	// OutLayerBytes and InLayerBytes are indexed by Layer tag.
	OutLayerBytes, InLayerBytes [NumLayers]uint64

	// Impairment is the emulated link towards the peer, if any.
	Impairment linkemu.Params
	Emulated   linkemu.Stats
}

// Stats is a snapshot of a transport.
type Stats struct {
	Links []LinkStats
	// Drops counts received datagrams dropped, indexed by DropReason.
	Drops [NumDropReasons]uint64
	// SendErrors counts datagrams the socket refused to send.
	SendErrors uint64
}

type counters struct {
	pkts, bytes [NumTypeSlots]atomic.Uint64
	layer       [NumLayers]atomic.Uint64
}

func (c *counters) add(t Type, l Layer, n int) {
	i := t.index()
	c.pkts[i].Add(1)
	c.bytes[i].Add(uint64(n))
	c.layer[l.slot()].Add(uint64(n))
}

func (c *counters) snapshot() (out [NumTypeSlots]Counter, layers [NumLayers]uint64) {
	for i := range out {
		out[i] = Counter{Packets: c.pkts[i].Load(), Bytes: c.bytes[i].Load()}
	}
	for i := range layers {
		layers[i] = c.layer[i].Load()
	}
	return out, layers
}

// dropLog counts drops per reason and logs each reason at most once per
// interval, with the number suppressed since, so a flood costs a counter
// increment per datagram and one log line per reason per interval.
type dropLog struct {
	log      *slog.Logger
	now      func() time.Time
	interval time.Duration
	counts   [NumDropReasons]atomic.Uint64
	next     [NumDropReasons]atomic.Int64 // unix nanos before which not to log
	quiet    [NumDropReasons]atomic.Uint64
}

func (d *dropLog) drop(r DropReason, from netip.AddrPort) {
	if r >= NumDropReasons {
		return
	}
	d.counts[r].Add(1)
	now := d.now().UnixNano()
	next := d.next[r].Load()
	if now < next || !d.next[r].CompareAndSwap(next, now+int64(d.interval)) {
		d.quiet[r].Add(1)
		return
	}
	level := slog.LevelWarn
	if r == ErrUnknownPeer {
		// A new node's first datagrams often arrive before the gossip
		// that introduces it.
		level = slog.LevelInfo
	}
	d.log.Log(context.Background(), level, "relay: dropped datagram", "reason", r.String(), "from", from, "suppressed", d.quiet[r].Swap(0))
}
