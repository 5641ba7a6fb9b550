package rtcpreport

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
)

type recvPkt struct {
	seq         uint16
	ts, arrival uint32
}

// seqs is packets with these sequence numbers and no jitter.
func seqs(s ...uint16) []recvPkt {
	out := make([]recvPkt, len(s))
	for i, q := range s {
		out[i] = recvPkt{seq: q, ts: uint32(i) * 960, arrival: uint32(i) * 960}
	}
	return out
}

// seqRange is packets from..to inclusive (wrapping), but for those in skip.
func seqRange(from, to uint16, skip ...uint16) []recvPkt {
	var s []uint16
	for q := from; ; q++ {
		lost := false
		for _, k := range skip {
			lost = lost || k == q
		}
		if !lost {
			s = append(s, q)
		}
		if q == to {
			break
		}
	}
	return seqs(s...)
}

// TestReceiveStats: the report block's fields from the packets received
// (RFC 3550 A.1, A.3, A.8). before, when set, is a first interval already
// reported, so that the fraction lost covers pkts alone.
func TestReceiveStats(t *testing.T) {
	tests := []struct {
		name         string
		clockRate    uint32
		before, pkts []recvPkt
		wantExtMax   uint32
		wantLost     uint32
		wantFraction uint8
		wantJitter   uint32
	}{
		{name: "in order", pkts: seqRange(100, 109), wantExtMax: 109},
		{name: "one lost in eleven", pkts: seqRange(100, 110, 105), wantExtMax: 110, wantLost: 1, wantFraction: 23},             // 256/11
		{name: "wrap with a loss at it", pkts: seqRange(65533, 2, 65535), wantExtMax: 1<<16 + 2, wantLost: 1, wantFraction: 42}, // 256/6
		{name: "reordered", pkts: seqs(1, 2, 4, 3, 5), wantExtMax: 5},
		{name: "reordered across the wrap", pkts: seqs(65534, 0, 65535, 1), wantExtMax: 1<<16 + 1},
		{name: "late packet before the first", pkts: seqs(10, 9, 11), wantExtMax: 11},
		{name: "duplicates never make loss negative", pkts: seqs(1, 2, 2, 2, 3), wantExtMax: 3},
		{name: "a lone far jump is not counted", pkts: seqs(1, 2, 3, 40000, 4, 5), wantExtMax: 5},
		{name: "two in a row after a jump restart the sequence", pkts: seqs(1, 2, 3, 40000, 40001, 40002), wantExtMax: 40002},
		{name: "a gap within the dropout is loss", pkts: seqs(1, 2, 2002), wantExtMax: 2002, wantLost: 1999, wantFraction: 255},
		{
			name:   "fraction covers the interval, cumulative the whole",
			before: seqRange(1, 10, 3), pkts: seqRange(11, 20, 12, 13, 14, 15, 16),
			wantExtMax: 20, wantLost: 6, wantFraction: 128,
		},
		{
			name: "wrap in the second interval", before: seqRange(65530, 65535),
			pkts: seqRange(0, 9, 0, 1), wantExtMax: 1<<16 + 9, wantLost: 2, wantFraction: 51, // 2/10
		},
		{
			name: "jitter: constant transit", clockRate: 90000,
			pkts:       []recvPkt{{1, 0, 100}, {2, 3000, 3100}, {3, 6000, 6100}},
			wantExtMax: 3,
		},
		{
			// A.8: J += (|D| - J)/16 with J kept times 16: 0, 100, 194; 194/16 = 12.
			name: "jitter: two steps of 100", clockRate: 48000,
			pkts:       []recvPkt{{1, 0, 0}, {2, 960, 1060}, {3, 1920, 1920}},
			wantExtMax: 3, wantJitter: 12,
		},
		{
			// Transit differences are signed: a packet early by 100 counts as
			// a late one does.
			name: "jitter: early and late", clockRate: 48000,
			pkts:       []recvPkt{{1, 0, 500}, {2, 960, 1360}, {3, 1920, 2420}},
			wantExtMax: 3, wantJitter: 12,
		},
		{
			name: "jitter: reordered packets by arrival", clockRate: 90000,
			pkts:       []recvPkt{{1, 0, 0}, {3, 6000, 6000}, {2, 3000, 6000}},
			wantExtMax: 3, wantJitter: 187, // |D| = 3000: 3000>>4
		},
		{
			name: "jitter ignores a timestamp jump", clockRate: 48000,
			pkts:       []recvPkt{{1, 0, 0}, {2, 960, 960}, {3, 10_000_000, 1920}, {4, 10_000_960, 2880}},
			wantExtMax: 4,
		},
		{
			name: "jitter through a timestamp wrap", clockRate: 90000,
			pkts:       []recvPkt{{1, 1<<32 - 3000, 0}, {2, 0, 3000}, {3, 3000, 6160}},
			wantExtMax: 3, wantJitter: 10, // |D| = 160
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := receiveStats{clockRate: tt.clockRate}
			for _, p := range tt.before {
				r.update(p.seq, p.ts, p.arrival)
			}
			if len(tt.before) > 0 {
				if _, ok := r.block(9); !ok {
					t.Fatal("no block for the first interval")
				}
			}
			for _, p := range tt.pkts {
				r.update(p.seq, p.ts, p.arrival)
			}
			got, ok := r.block(9)
			if !ok {
				t.Fatal("no block after packets")
			}
			want := rtcp.ReceptionReport{
				SSRC: 9, LastSequenceNumber: tt.wantExtMax, TotalLost: tt.wantLost,
				FractionLost: tt.wantFraction, Jitter: tt.wantJitter,
			}
			if got != want {
				t.Errorf("block = %+v\nwant    %+v", got, want)
			}
			if _, ok := r.block(9); ok {
				t.Error("a block again with nothing heard since")
			}
		})
	}
}

// TestCumulativeLostClamp: more losses than 24 signed bits hold stay at
// the field's maximum.
func TestCumulativeLostClamp(t *testing.T) {
	r := receiveStats{}
	r.update(0, 0, 0)
	// 3000 forward each time: 2999 lost per step, 3000 steps.
	seq := uint16(0)
	for range 3000 {
		seq += maxDropout - 1
		r.update(seq, 0, 0)
	}
	b, _ := r.block(1)
	if b.TotalLost != maxCumulativeLost {
		t.Errorf("TotalLost = %d, want %d", b.TotalLost, maxCumulativeLost)
	}
	if _, err := (&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{b}}).Marshal(); err != nil {
		t.Errorf("block does not marshal: %v", err)
	}
}

// TestRemoteStreamLSR: LSR and DLSR from the latest SR of the source.
func TestRemoteStreamLSR(t *testing.T) {
	const ntp = 0x1122_3344_5566_7788
	tests := []struct {
		name      string
		srs       []time.Duration // arrivals of the same SR, from t0
		other     bool            // then a newer SR at 2 s
		report    time.Duration
		wantLSR   uint32
		wantDelay uint32
	}{
		{name: "no SR", report: time.Second},
		{name: "one SR", srs: []time.Duration{0}, report: 1500 * time.Millisecond, wantLSR: 0x3344_5566, wantDelay: 98304},
		{name: "the same SR read twice keeps its arrival", srs: []time.Duration{0, 300 * time.Millisecond},
			report: time.Second, wantLSR: 0x3344_5566, wantDelay: 65536},
		{name: "a newer SR replaces it", srs: []time.Duration{0}, other: true,
			report: 2250 * time.Millisecond, wantLSR: 0x3344_5567, wantDelay: 16384},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &remoteStream{ssrc: 5}
			for _, at := range tt.srs {
				s.senderReport(ntp, t0.Add(at))
			}
			if tt.other {
				s.senderReport(ntp+1<<16, t0.Add(2*time.Second))
			}
			s.received(1, 0, 0)
			b, ok := s.block(t0.Add(tt.report))
			if !ok {
				t.Fatal("no block")
			}
			if b.LastSenderReport != tt.wantLSR || b.Delay != tt.wantDelay {
				t.Errorf("LSR %#x DLSR %d, want %#x %d", b.LastSenderReport, b.Delay, tt.wantLSR, tt.wantDelay)
			}
		})
	}
}

func TestDLSR(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want uint32
	}{
		{0, 0},
		{-time.Second, 0},
		{time.Second, 65536},
		{15258 * time.Nanosecond, 0}, // just under 1/65536 s
		{15259 * time.Nanosecond, 1},
		{65535 * time.Second, 65535 << 16},
		{100000 * time.Hour, 1<<32 - 1},
	}
	for _, tt := range tests {
		if got := dlsr(tt.d); got != tt.want {
			t.Errorf("dlsr(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}
