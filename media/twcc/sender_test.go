package twcc

import (
	"errors"
	"testing"

	"github.com/pion/rtcp"
)

// feedback builds a parsed feedback report: a run of one per status.
func feedback(t *testing.T, base uint16, statuses []uint16, deltasUs []int64) *rtcp.TransportLayerCC {
	t.Helper()
	fb := &rtcp.TransportLayerCC{BaseSequenceNumber: base, PacketStatusCount: uint16(len(statuses)), ReferenceTime: 10}
	for _, st := range statuses {
		fb.PacketChunks = append(fb.PacketChunks, &rtcp.RunLengthChunk{PacketStatusSymbol: st, RunLength: 1})
	}
	for _, d := range deltasUs {
		fb.RecvDeltas = append(fb.RecvDeltas, &rtcp.RecvDelta{Type: deltaType(d), Delta: d})
	}
	return fb
}

func deltaType(us int64) uint16 {
	if us > 63750 || us < 0 {
		return rtcp.TypeTCCPacketReceivedLargeDelta
	}
	return rtcp.TypeTCCPacketReceivedSmallDelta
}

const (
	rx   = rtcp.TypeTCCPacketReceivedSmallDelta
	lost = rtcp.TypeTCCPacketNotReceived
)

func TestStampWritesTheNumber(t *testing.T) {
	s := NewSender()
	for i := range 70000 {
		ext := s.Stamp(100, int64(i))
		if got := uint16(ext[0])<<8 | uint16(ext[1]); got != uint16(i) {
			t.Fatalf("packet %d: extension says %d", i, got)
		}
	}
}

func TestFeedback(t *testing.T) {
	tests := []struct {
		name     string
		sent     int // packets stamped before the feedback, sizes 100+i, sent at i ms
		base     uint16
		statuses []uint16
		deltas   []int64 // µs
		wantSeqs []int64
		wantRecv []bool
		wantArr  []int64 // ns after the reference time, for received packets
		wantErr  error
	}{
		{name: "all received", sent: 3, base: 0, statuses: []uint16{rx, rx, rx}, deltas: []int64{1000, 250, 500},
			wantSeqs: []int64{0, 1, 2}, wantRecv: []bool{true, true, true}, wantArr: []int64{1e6, 1.25e6, 1.75e6}},
		{name: "a loss in the middle", sent: 5, base: 2, statuses: []uint16{rx, lost, rx}, deltas: []int64{0, 2000},
			wantSeqs: []int64{2, 3, 4}, wantRecv: []bool{true, false, true}, wantArr: []int64{0, 0, 2e6}},
		{name: "numbers past 65535 unwrap", sent: 65540, base: 65534, statuses: []uint16{rx, rx, rx, rx}, deltas: []int64{0, 250, 250, 250},
			wantSeqs: []int64{65534, 65535, 65536, 65537}, wantRecv: []bool{true, true, true, true}, wantArr: []int64{0, 250e3, 500e3, 750e3}},
		{name: "a reordered arrival (negative delta)", sent: 2, base: 0, statuses: []uint16{rx, rtcp.TypeTCCPacketReceivedLargeDelta}, deltas: []int64{5000, -1000},
			wantSeqs: []int64{0, 1}, wantRecv: []bool{true, true}, wantArr: []int64{5e6, 4e6}},
		{name: "packets never sent are left out", sent: 2, base: 1, statuses: []uint16{rx, rx, rx}, deltas: []int64{0, 0, 0},
			wantSeqs: []int64{1}, wantRecv: []bool{true}, wantArr: []int64{0}},
		{name: "nothing sent yet", sent: 0, base: 0, statuses: []uint16{rx}, deltas: []int64{0}, wantErr: ErrFeedbackUnknown},
		{name: "only packets long gone", sent: ringSize + 10, base: 0, statuses: []uint16{rx}, deltas: []int64{0}, wantErr: ErrFeedbackUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSender()
			for i := range tt.sent {
				s.Stamp(100+i%1000, int64(i)*1e6)
			}
			got, err := s.Feedback(feedback(t, tt.base, tt.statuses, tt.deltas))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if len(got) != len(tt.wantSeqs) {
				t.Fatalf("%d results, want %d: %+v", len(got), len(tt.wantSeqs), got)
			}
			ref := int64(10 * 64e6)
			for i, p := range got {
				if p.Seq != tt.wantSeqs[i] || p.Received != tt.wantRecv[i] {
					t.Errorf("result %d: seq %d received %v, want %d %v", i, p.Seq, p.Received, tt.wantSeqs[i], tt.wantRecv[i])
				}
				if p.Received && p.Arrival-ref != tt.wantArr[i] {
					t.Errorf("result %d: arrival %d ns after the reference, want %d", i, p.Arrival-ref, tt.wantArr[i])
				}
				if p.SendTime != p.Seq*1e6 || p.Size != 100+int(p.Seq%1000) {
					t.Errorf("result %d: sent at %d size %d, want %d and %d", i, p.SendTime, p.Size, p.Seq*1e6, 100+p.Seq%1000)
				}
			}
		})
	}
}

func TestFeedbackMalformed(t *testing.T) {
	s := NewSender()
	s.Stamp(100, 0)
	s.Stamp(100, 1)
	// Two received packets but one delta: a parser that trusted the status
	// count would read past the deltas.
	fb := &rtcp.TransportLayerCC{BaseSequenceNumber: 0, PacketStatusCount: 2,
		PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rx, RunLength: 2}},
		RecvDeltas:   []*rtcp.RecvDelta{{Type: rx, Delta: 250}}}
	if _, err := s.Feedback(fb); !errors.Is(err, ErrFeedbackMalformed) {
		t.Fatalf("error %v, want malformed", err)
	}
}

func TestProbeMarks(t *testing.T) {
	s := NewSender()
	s.Stamp(100, 0)
	s.SetProbe(7)
	s.Stamp(100, 1)
	s.SetProbe(0)
	s.Stamp(100, 2)
	got, err := s.Feedback(feedback(t, 0, []uint16{rx, rx, rx}, []int64{0, 0, 0}))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{0, 7, 0} {
		if got[i].Probe != want {
			t.Errorf("packet %d in cluster %d, want %d", i, got[i].Probe, want)
		}
	}
}

func BenchmarkStamp(b *testing.B) {
	s := NewSender()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Stamp(1200, int64(i))
	}
}

func FuzzFeedback(f *testing.F) {
	b, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.TransportLayerCC{BaseSequenceNumber: 1, PacketStatusCount: 3,
		PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rx, RunLength: 3}},
		RecvDeltas:   []*rtcp.RecvDelta{{Type: rx, Delta: 250}, {Type: rx}, {Type: rx}}}})
	f.Add(b)
	f.Add([]byte{0x8f, 0xcd, 0x00, 0x01, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		pkts, err := rtcp.Unmarshal(data)
		if err != nil {
			return
		}
		s := NewSender()
		for i := range 100 {
			s.Stamp(100, int64(i))
		}
		for _, p := range pkts {
			if fb, ok := p.(*rtcp.TransportLayerCC); ok {
				res, err := s.Feedback(fb)
				if err == nil && len(res) == 0 {
					t.Fatal("no results and no error")
				}
				for _, r := range res {
					if r.Seq < 0 || r.Seq >= 100 {
						t.Fatalf("result for packet %d, never sent", r.Seq)
					}
				}
			}
		}
	})
}
