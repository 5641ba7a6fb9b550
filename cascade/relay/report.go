package relay

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Report is what a node tells a peer, in each pong, about the peer's
// datagrams to it, so that the peer sees its own direction of the link:
// how many were lost, how fast they arrived, and (from At against the ping's
// send time) how long they queued on the way. The counts are cumulative, so
// a lost pong costs nothing but a tick.
type Report struct {
	// Top is the highest sequence number received from the peer and Count
	// the datagrams received from it, since the reporter started counting
	// (its first datagram from the peer, or the peer's restart); Top minus
	// the first sequence plus one is what it expected.
	Top, Count uint64
	// Bytes are the sealed bytes received from the peer.
	Bytes uint64
	// At is the reporter's clock when the ping arrived: time since its
	// transport started. Only differences between reports mean anything.
	At time.Duration
}

// reportLen is the size of a Report on the wire: four 8-byte big-endian
// integers, after the 16 bytes of the ping a pong echoes.
const reportLen = 32

// pongLen is a pong with its report. A pong of pingLen bytes carries none
// (a node that does not report).
const pongLen = pingLen + reportLen

// appendPong builds the pong to ping: the ping echoed, then r.
func appendPong(dst, ping []byte, r Report) []byte {
	dst = append(dst, ping...)
	dst = binary.BigEndian.AppendUint64(dst, r.Top)
	dst = binary.BigEndian.AppendUint64(dst, r.Count)
	dst = binary.BigEndian.AppendUint64(dst, r.Bytes)
	return binary.BigEndian.AppendUint64(dst, uint64(r.At))
}

// pong is a parsed pong payload.
type pong struct {
	num       uint64
	sent      time.Duration // the pinger's clock at the ping, echoed
	report    Report
	hasReport bool
}

// parsePong reads a pong's payload: the echoed ping number and send time,
// then, from nodes that report, a Report.
func parsePong(b []byte) (pong, error) {
	if len(b) != pingLen && len(b) != pongLen {
		return pong{}, fmt.Errorf("relay: pong of %d bytes, want %d or %d", len(b), pingLen, pongLen)
	}
	p := pong{num: binary.BigEndian.Uint64(b), sent: time.Duration(binary.BigEndian.Uint64(b[8:]))}
	if p.sent < 0 {
		return pong{}, fmt.Errorf("relay: pong with negative send time %d", int64(p.sent))
	}
	if len(b) == pingLen {
		return p, nil
	}
	r := b[pingLen:]
	p.report = Report{
		Top:   binary.BigEndian.Uint64(r),
		Count: binary.BigEndian.Uint64(r[8:]),
		Bytes: binary.BigEndian.Uint64(r[16:]),
		At:    time.Duration(binary.BigEndian.Uint64(r[24:])),
	}
	if p.report.At < 0 {
		return pong{}, fmt.Errorf("relay: pong report with negative time %d", int64(p.report.At))
	}
	p.hasReport = true
	return p, nil
}
