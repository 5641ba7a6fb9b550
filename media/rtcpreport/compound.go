package rtcpreport

import "github.com/pion/rtcp"

// MaxBlocks is the most report blocks one SR or RR carries: its count is
// five bits (RFC 3550 6.4.1).
const MaxBlocks = 31

// MaxCompoundSize is the most bytes of one compound packet before SRTCP:
// with SRTCP's index and tag (at most 20 bytes) and a TURN send
// indication's 36, a datagram stays within IPv6's minimum MTU of 1280
// after its IP and UDP headers.
const MaxCompoundSize = 1100

const (
	srSize    = 28 // header, SSRC, sender info
	rrSize    = 8  // header, SSRC
	blockSize = 24
)

// pack lays out one interval's reports (RFC 3550 6.1, 6.4.2): the first
// sender report carries up to MaxBlocks of blocks, further blocks follow in
// receiver reports of up to MaxBlocks each, then the other sender reports.
// With no sender report, receiver reports from ssrc carry the blocks. The
// packets are grouped into compound packets of at most maxSize bytes (one
// unless there are many streams); each group starts with an SR or RR, as
// every packet here is one. srs must carry no blocks; pack fills the first.
func pack(srs []*rtcp.SenderReport, blocks []rtcp.ReceptionReport, ssrc uint32, maxSize int) [][]rtcp.Packet {
	if len(srs) == 0 && len(blocks) == 0 {
		return nil
	}
	n := min(len(blocks), MaxBlocks)
	pkts := make([]rtcp.Packet, 0, len(srs)+1+(len(blocks)-n+MaxBlocks-1)/MaxBlocks)
	if len(srs) > 0 {
		ssrc = srs[0].SSRC
		srs[0].Reports = blocks[:n:n]
		pkts = append(pkts, srs[0])
	} else {
		pkts = append(pkts, &rtcp.ReceiverReport{SSRC: ssrc, Reports: blocks[:n:n]})
	}
	for rest := blocks[n:]; len(rest) > 0; {
		k := min(len(rest), MaxBlocks)
		pkts = append(pkts, &rtcp.ReceiverReport{SSRC: ssrc, Reports: rest[:k:k]})
		rest = rest[k:]
	}
	if len(srs) > 1 {
		for _, sr := range srs[1:] {
			pkts = append(pkts, sr)
		}
	}

	var out [][]rtcp.Packet
	start, size := 0, 0
	for i, p := range pkts {
		s := reportSize(p)
		if i > start && size+s > maxSize {
			out = append(out, pkts[start:i:i])
			start, size = i, 0
		}
		size += s
	}
	return append(out, pkts[start:])
}

// reportSize is the marshalled size of an SR or RR built by pack.
func reportSize(p rtcp.Packet) int {
	switch r := p.(type) {
	case *rtcp.SenderReport:
		return srSize + blockSize*len(r.Reports)
	case *rtcp.ReceiverReport:
		return rrSize + blockSize*len(r.Reports)
	}
	return p.MarshalSize()
}
