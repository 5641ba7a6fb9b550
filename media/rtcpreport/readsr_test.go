package rtcpreport

import (
	"slices"
	"testing"

	"github.com/pion/rtcp"
)

func marshal(t testing.TB, pkts ...rtcp.Packet) []byte {
	t.Helper()
	raw, err := rtcp.Marshal(pkts)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestReadSRs(t *testing.T) {
	sr := func(ssrc uint32, ntp uint64, blocks int) *rtcp.SenderReport {
		return &rtcp.SenderReport{SSRC: ssrc, NTPTime: ntp, Reports: testBlocks(blocks)}
	}
	padded := marshal(t, sr(3, 0x33, 0))
	padded[0] |= 0x20 // padding bit; the padding is within the length
	padded = append(padded, 0, 0, 0, 4)
	padded[3] += 1
	short := marshal(t, sr(4, 0x44, 0))
	short[3] = 3 // 16 bytes: SSRC and NTP time but not the rest
	short = short[:16]
	badVersion := marshal(t, sr(5, 0x55, 0))
	badVersion[0] = 0x40
	tests := []struct {
		name   string
		in     []byte
		want   []senderInfo
		wantOK bool
	}{
		{"one SR", marshal(t, sr(1, 0x1122334455667788, 0)), []senderInfo{{1, 0x1122334455667788}}, true},
		{"SR with blocks", marshal(t, sr(1, 7, 3)), []senderInfo{{1, 7}}, true},
		{"compound", marshal(t, &rtcp.ReceiverReport{SSRC: 9, Reports: testBlocks(2)}, sr(1, 7, 0),
			&rtcp.PictureLossIndication{SenderSSRC: 1, MediaSSRC: 2}, sr(2, 8, 1)),
			[]senderInfo{{1, 7}, {2, 8}}, true},
		{"no SR", marshal(t, &rtcp.PictureLossIndication{SenderSSRC: 1, MediaSSRC: 2}), nil, true},
		{"padded SR", padded, []senderInfo{{3, 0x33}}, true},
		{"empty", nil, nil, false},
		{"short header", []byte{0x80, 200}, nil, false},
		{"length past the end", marshal(t, sr(1, 7, 0))[:20], nil, false},
		{"SR shorter than its fixed part", short, nil, false},
		{"bad version", badVersion, nil, false},
		{"good then bad appends nothing", append(marshal(t, sr(1, 7, 0)), 0x80, 200, 0, 9), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := readSRs(nil, tt.in)
			if ok != tt.wantOK || !slices.Equal(got, tt.want) {
				t.Errorf("readSRs = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestReadSRsNoAlloc(t *testing.T) {
	raw := marshal(t, &rtcp.SenderReport{SSRC: 1, NTPTime: 2}, &rtcp.ReceiverReport{SSRC: 3})
	allocs := testing.AllocsPerRun(100, func() {
		var buf [4]senderInfo
		if srs, ok := readSRs(buf[:0], raw); !ok || len(srs) != 1 {
			t.Fatal("not read")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per read", allocs)
	}
}

// FuzzReadSR: readSRs never panics, and whenever pion reads the compound
// packet, readSRs finds exactly pion's sender reports.
func FuzzReadSR(f *testing.F) {
	f.Add(marshal(f, &rtcp.SenderReport{SSRC: 1, NTPTime: 2, Reports: testBlocks(2)}))
	f.Add(marshal(f, &rtcp.ReceiverReport{SSRC: 1, Reports: testBlocks(1)}, &rtcp.SenderReport{SSRC: 2, NTPTime: 3}))
	f.Add(marshal(f, &rtcp.TransportLayerNack{SenderSSRC: 1, MediaSSRC: 2, Nacks: []rtcp.NackPair{{PacketID: 5}}}))
	f.Add([]byte{0x80, 200, 0, 1, 0, 0, 0, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := readSRs(nil, b)
		pkts, err := rtcp.Unmarshal(b)
		if err != nil {
			return
		}
		if !ok {
			t.Fatalf("pion reads %d packets, readSRs rejects it", len(pkts))
		}
		var want []senderInfo
		for _, p := range pkts {
			if sr, isSR := p.(*rtcp.SenderReport); isSR {
				want = append(want, senderInfo{sr.SSRC, sr.NTPTime})
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("readSRs = %v, pion %v", got, want)
		}
	})
}
