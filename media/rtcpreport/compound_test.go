package rtcpreport

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pion/rtcp"
)

// layout describes compound packets as "SR1:31 RR1:9 SR2:0 | SR3:0": each
// report's type, SSRC and block count, compound packets split by "|".
func layout(cs [][]rtcp.Packet) string {
	var parts []string
	for _, c := range cs {
		var ps []string
		for _, p := range c {
			switch r := p.(type) {
			case *rtcp.SenderReport:
				ps = append(ps, fmt.Sprintf("SR%d:%d", r.SSRC, len(r.Reports)))
			case *rtcp.ReceiverReport:
				ps = append(ps, fmt.Sprintf("RR%d:%d", r.SSRC, len(r.Reports)))
			default:
				ps = append(ps, fmt.Sprintf("%T", p))
			}
		}
		parts = append(parts, strings.Join(ps, " "))
	}
	return strings.Join(parts, " | ")
}

func testSRs(n int) []*rtcp.SenderReport {
	srs := make([]*rtcp.SenderReport, n)
	for i := range srs {
		srs[i] = &rtcp.SenderReport{SSRC: uint32(i + 1), NTPTime: 1, RTPTime: 2, PacketCount: 3, OctetCount: 4}
	}
	return srs
}

func testBlocks(n int) []rtcp.ReceptionReport {
	b := make([]rtcp.ReceptionReport, n)
	for i := range b {
		b[i] = rtcp.ReceptionReport{SSRC: uint32(1000 + i), LastSequenceNumber: uint32(i)}
	}
	return b
}

// TestPack: the layout of one interval's reports, and that each compound
// packet marshals, within the size limit, to what pion reads back.
func TestPack(t *testing.T) {
	tests := []struct {
		name        string
		srs, blocks int
		want        string
	}{
		{"nothing", 0, 0, ""},
		{"receiver only, one remote", 0, 1, "RR77:1"},
		{"receiver only, 31 remotes", 0, 31, "RR77:31"},
		{"receiver only, 32 remotes", 0, 32, "RR77:31 RR77:1"},
		{"receiver only, 40 remotes", 0, 40, "RR77:31 RR77:9"},
		{"sender, no remotes", 1, 0, "SR1:0"},
		{"one remote", 1, 1, "SR1:1"},
		{"31 remotes", 1, 31, "SR1:31"},
		{"32 remotes", 1, 32, "SR1:31 RR1:1"},
		{"40 remotes", 1, 40, "SR1:31 RR1:9"},
		{"three senders, 40 remotes", 3, 40, "SR1:31 RR1:9 SR2:0 SR3:0"},
		{"three senders, no remotes", 3, 0, "SR1:0 SR2:0 SR3:0"},
		// 28 + 31*24 + 8 + 31*24 passes 1100: two compound packets.
		{"70 remotes", 1, 70, "SR1:31 | RR1:31 RR1:8"},
		// 28 + 31*24 + 8 + 9*24 = 996 bytes, then 4 SRs of 28: the fifth
		// would pass 1100.
		{"split at the size limit", 10, 40, "SR1:31 RR1:9 SR2:0 SR3:0 SR4:0 | SR5:0 SR6:0 SR7:0 SR8:0 SR9:0 SR10:0"},
		{"many senders", 80, 0, manySRs(80)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blocks := testBlocks(tt.blocks)
			got := pack(testSRs(tt.srs), blocks, 77, MaxCompoundSize)
			if l := layout(got); l != tt.want {
				t.Errorf("layout\n got %s\nwant %s", l, tt.want)
			}
			var seen []uint32
			for _, c := range got {
				raw, err := rtcp.Marshal(c)
				if err != nil {
					t.Fatalf("marshal: %v", err)
				}
				if len(raw) > MaxCompoundSize {
					t.Errorf("compound packet of %d bytes, limit %d", len(raw), MaxCompoundSize)
				}
				size := 0
				for _, p := range c {
					size += reportSize(p)
				}
				if size != len(raw) {
					t.Errorf("reportSize says %d bytes, marshalled %d", size, len(raw))
				}
				back, err := rtcp.Unmarshal(raw)
				if err != nil {
					t.Fatalf("pion does not read it back: %v", err)
				}
				for _, p := range back {
					switch r := p.(type) {
					case *rtcp.SenderReport:
						for _, b := range r.Reports {
							seen = append(seen, b.SSRC)
						}
					case *rtcp.ReceiverReport:
						for _, b := range r.Reports {
							seen = append(seen, b.SSRC)
						}
					}
				}
			}
			if len(seen) != len(blocks) {
				t.Fatalf("%d blocks on the wire, want %d", len(seen), len(blocks))
			}
			for i, b := range blocks {
				if seen[i] != b.SSRC {
					t.Fatalf("block %d is of %d, want %d (in order)", i, seen[i], b.SSRC)
				}
			}
		})
	}
}

// manySRs is the layout of n sender reports without blocks: 39 of 28
// bytes fit 1100.
func manySRs(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		if i > 1 {
			if (i-1)%39 == 0 {
				b.WriteString(" | ")
			} else {
				b.WriteString(" ")
			}
		}
		fmt.Fprintf(&b, "SR%d:0", i)
	}
	return b.String()
}
