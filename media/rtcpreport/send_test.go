package rtcpreport

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestToNTP(t *testing.T) {
	tests := []struct {
		name string
		at   time.Time
		want uint64
	}{
		{"unix epoch", time.Unix(0, 0), 2_208_988_800 << 32},
		{"half a second", time.Unix(0, 500_000_000), 2_208_988_800<<32 | 1<<31},
		{"a quarter", time.Unix(1, 250_000_000), (2_208_988_801)<<32 | 1<<30},
		// 2026-03-01 12:00:00 UTC is 1772366400 Unix seconds.
		{"2026", t0, (1_772_366_400 + 2_208_988_800) << 32},
		{"one ns truncates to 4", time.Unix(0, 1), 2_208_988_800<<32 | 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := toNTP(tt.at); got != tt.want {
				t.Errorf("toNTP = %#x, want %#x", got, tt.want)
			}
		})
	}
}

// TestSenderReport: the SR's fields from a stream's counters, its RTP time
// extrapolated from the latest frame to the report's NTP time.
func TestSenderReport(t *testing.T) {
	tests := []struct {
		name      string
		clockRate uint32
		c         sendCounters
		now       time.Time
		wantRTP   uint32
	}{
		{"at the frame", 90000, sendCounters{RTPTime: 1000, SentAt: t0}, t0, 1000},
		{"a second later, video", 90000, sendCounters{RTPTime: 1000, SentAt: t0}, t0.Add(time.Second), 91000},
		{"20 ms later, opus", 48000, sendCounters{RTPTime: 5, SentAt: t0}, t0.Add(20 * time.Millisecond), 965},
		{"rounds to nearest tick", 90000, sendCounters{RTPTime: 0, SentAt: t0}, t0.Add(16 * time.Microsecond), 1}, // 1.44 ticks
		{"timestamp wraps", 90000, sendCounters{RTPTime: 1<<32 - 10, SentAt: t0}, t0.Add(time.Millisecond), 80},
		{"frame after the report time", 90000, sendCounters{RTPTime: 1000, SentAt: t0.Add(time.Millisecond)}, t0, 910},
		{"long idle", 90000, sendCounters{RTPTime: 0, SentAt: t0}, t0.Add(30 * time.Hour), uint32(uint64(30*3600*90000) % (1 << 32))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.Packets, tt.c.Octets = 7, 7000
			got := senderReport(0xabc, tt.clockRate, tt.c, tt.now)
			want := &rtcp.SenderReport{SSRC: 0xabc, NTPTime: toNTP(tt.now), RTPTime: tt.wantRTP, PacketCount: 7, OctetCount: 7000}
			if got.SSRC != want.SSRC || got.NTPTime != want.NTPTime || got.RTPTime != want.RTPTime ||
				got.PacketCount != want.PacketCount || got.OctetCount != want.OctetCount || len(got.Reports) != 0 {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

// sendPkt is one packet written on a local stream in the tests.
type sendPkt struct {
	at      time.Duration // since base
	ssrc    uint32
	seq     uint16
	ts      uint32
	payload int
	padding bool // padding bit with the count as the payload's last byte
	padSize byte // padding pion appends (Header.PaddingSize)
}

// TestLocalStreamCounters: what the send path counts, and which packet
// anchors the RTP time.
func TestLocalStreamCounters(t *testing.T) {
	const ssrc, rtx = 1111, 2222
	tests := []struct {
		name        string
		pkts        []sendPkt
		report      time.Duration
		wantPackets uint32
		wantOctets  uint32
		wantRTP     uint32
		wantSentAt  time.Duration
	}{
		{
			name: "a frame's first packet anchors it",
			pkts: []sendPkt{
				{at: 10 * time.Millisecond, ssrc: ssrc, seq: 1, ts: 3000, payload: 1000},
				{at: 12 * time.Millisecond, ssrc: ssrc, seq: 2, ts: 3000, payload: 1000},
				{at: 15 * time.Millisecond, ssrc: ssrc, seq: 3, ts: 3000, payload: 500},
			},
			report: time.Second, wantPackets: 3, wantOctets: 2500, wantRTP: 3000, wantSentAt: 10 * time.Millisecond,
		},
		{
			name: "the next frame moves it",
			pkts: []sendPkt{
				{at: 10 * time.Millisecond, ssrc: ssrc, seq: 1, ts: 3000, payload: 100},
				{at: 43 * time.Millisecond, ssrc: ssrc, seq: 2, ts: 6000, payload: 100},
			},
			report: time.Second, wantPackets: 2, wantOctets: 200, wantRTP: 6000, wantSentAt: 43 * time.Millisecond,
		},
		{
			name: "RTX and padding on the RTX SSRC are not the stream's",
			pkts: []sendPkt{
				{at: 10 * time.Millisecond, ssrc: ssrc, seq: 1, ts: 3000, payload: 100},
				{at: 50 * time.Millisecond, ssrc: rtx, seq: 900, ts: 9000, payload: 102},
				{at: 60 * time.Millisecond, ssrc: rtx, seq: 901, ts: 9000, payload: 255, padding: true},
			},
			report: time.Second, wantPackets: 1, wantOctets: 100, wantRTP: 3000, wantSentAt: 10 * time.Millisecond,
		},
		{
			name: "a retransmission on the SSRC counts but does not anchor",
			pkts: []sendPkt{
				{at: 10 * time.Millisecond, ssrc: ssrc, seq: 10, ts: 3000, payload: 100},
				{at: 40 * time.Millisecond, ssrc: ssrc, seq: 11, ts: 6000, payload: 100},
				{at: 70 * time.Millisecond, ssrc: ssrc, seq: 10, ts: 3000, payload: 100},
			},
			report: time.Second, wantPackets: 3, wantOctets: 300, wantRTP: 6000, wantSentAt: 40 * time.Millisecond,
		},
		{
			name: "sequence wrap keeps anchoring",
			pkts: []sendPkt{
				{at: 10 * time.Millisecond, ssrc: ssrc, seq: 65535, ts: 3000, payload: 100},
				{at: 40 * time.Millisecond, ssrc: ssrc, seq: 0, ts: 6000, payload: 100},
			},
			report: time.Second, wantPackets: 2, wantOctets: 200, wantRTP: 6000, wantSentAt: 40 * time.Millisecond,
		},
		{
			name: "padding in the payload is not counted, appended padding is not in it",
			pkts: []sendPkt{
				{at: 10 * time.Millisecond, ssrc: ssrc, seq: 1, ts: 3000, payload: 300, padding: true}, // 255 of it padding
				{at: 20 * time.Millisecond, ssrc: ssrc, seq: 2, ts: 3000, payload: 300, padding: true, padSize: 40},
			},
			report: time.Second, wantPackets: 2, wantOctets: 45 + 300, wantRTP: 3000, wantSentAt: 10 * time.Millisecond,
		},
		{
			name: "the 32-bit µs clock wraps between packet and report",
			pkts: []sendPkt{
				{at: (1<<32 - 100) * time.Microsecond, ssrc: ssrc, seq: 1, ts: 3000, payload: 100},
			},
			report: (1<<32 + 400) * time.Microsecond, wantPackets: 1, wantOctets: 100, wantRTP: 3000,
			wantSentAt: (1<<32 - 100) * time.Microsecond,
		},
		{
			name: "and a packet after the wrap",
			pkts: []sendPkt{
				{at: (1<<32 + 100) * time.Microsecond, ssrc: ssrc, seq: 1, ts: 3000, payload: 100},
			},
			report: (1<<32 + 400) * time.Microsecond, wantPackets: 1, wantOctets: 100, wantRTP: 3000,
			wantSentAt: (1<<32 + 100) * time.Microsecond,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &localStream{ssrc: ssrc, clockRate: 90000}
			var clock time.Duration
			since := func() time.Duration { return clock }
			for _, p := range tt.pkts {
				clock = p.at
				payload := make([]byte, p.payload)
				if p.padding && p.padSize == 0 {
					payload[len(payload)-1] = 255
				}
				h := &rtp.Header{Version: 2, SSRC: p.ssrc, SequenceNumber: p.seq, Timestamp: p.ts, Padding: p.padding, PaddingSize: p.padSize}
				s.sent(h, payload, since)
			}
			c, ok := s.counters(t0, tt.report)
			if !ok {
				t.Fatal("no counters after packets")
			}
			want := sendCounters{Packets: tt.wantPackets, Octets: tt.wantOctets, RTPTime: tt.wantRTP, SentAt: t0.Add(tt.wantSentAt)}
			if c != want {
				t.Errorf("counters = %+v, want %+v", c, want)
			}
		})
	}
}

func TestLocalStreamNoPacketsNoReport(t *testing.T) {
	s := &localStream{ssrc: 1, clockRate: 90000}
	if _, ok := s.counters(t0, time.Second); ok {
		t.Error("a stream that has sent nothing has counters for an SR")
	}
	s.sent(&rtp.Header{SSRC: 2, SequenceNumber: 1}, nil, func() time.Duration { return 0 })
	if _, ok := s.counters(t0, time.Second); ok {
		t.Error("a packet of another SSRC made the stream a sender")
	}
}

func TestAnchorTime(t *testing.T) {
	tests := []struct {
		name  string
		us    uint32
		since time.Duration
		want  time.Duration
	}{
		{"just before", 1_000_000, 1500 * time.Millisecond, time.Second},
		{"µs truncation of since", 1_000_000, 1500*time.Millisecond + 700, time.Second},
		{"wrapped", 1<<32 - 5, (1<<32 + 5) * time.Microsecond, (1<<32 - 5) * time.Microsecond},
		{"written after since", 2_000_100, 2 * time.Second, 2*time.Second + 100*time.Microsecond},
		{"two wraps in", 7, (2<<32 + 10) * time.Microsecond, (2<<32 + 7) * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := anchorTime(tt.us, tt.since); got != tt.want {
				t.Errorf("anchorTime(%d, %v) = %v, want %v", tt.us, tt.since, got, tt.want)
			}
		})
	}
}

// TestRandomised: RFC 3550 6.3.1's spread, [0.5, 1.5) of the mean.
func TestRandomised(t *testing.T) {
	for _, tt := range []struct {
		u    float64
		want time.Duration
	}{{0, 500 * time.Millisecond}, {0.5, time.Second}, {0.999, 1499 * time.Millisecond}} {
		if got := randomised(time.Second, tt.u); got != tt.want {
			t.Errorf("randomised(1s, %v) = %v, want %v", tt.u, got, tt.want)
		}
	}
}

func TestRTPTicks(t *testing.T) {
	tests := []struct {
		d    time.Duration
		rate uint32
		want int64
	}{
		{time.Second, 90000, 90000},
		{-time.Second, 90000, -90000},
		{5 * time.Microsecond, 90000, 0},   // 0.45
		{6 * time.Microsecond, 90000, 1},   // 0.54
		{-6 * time.Microsecond, 90000, -1}, // symmetric
		{100 * time.Hour, 90000, 100 * 3600 * 90000},
		{time.Duration(1<<63 - 1), 90000, 830_103_483_316_930}, // no overflow
	}
	for _, tt := range tests {
		if got := rtpTicks(tt.d, tt.rate); got != tt.want {
			t.Errorf("rtpTicks(%v, %d) = %d, want %d", tt.d, tt.rate, got, tt.want)
		}
	}
}

// BenchmarkSendPath is the cost the interceptor adds to each packet sent,
// through the writer it binds: run with -benchmem, it must not allocate.
func BenchmarkSendPath(b *testing.B) {
	i := newInterceptor(time.Second, time.Now, 1, nil)
	w := i.BindLocalStream(&videoInfo, nopWriter{})
	h := &rtp.Header{Version: 2, SSRC: videoInfo.SSRC, PayloadType: 96}
	payload := make([]byte, 1100)
	b.ReportAllocs()
	b.ResetTimer()
	for n := range b.N {
		h.SequenceNumber = uint16(n)
		h.Timestamp = uint32(n/4) * 3000 // four packets a frame
		if _, err := w.Write(h, payload, nil); err != nil {
			b.Fatal(err)
		}
	}
}
