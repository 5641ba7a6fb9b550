package rtcpreport

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/stats"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

var (
	videoInfo = interceptor.StreamInfo{SSRC: 0x1000, SSRCRetransmission: 0x1001, ClockRate: 90000}
	audioInfo = interceptor.StreamInfo{SSRC: 0x2000, ClockRate: 48000}
	remoteV   = interceptor.StreamInfo{SSRC: 0xa000, ClockRate: 90000}
	remoteA   = interceptor.StreamInfo{SSRC: 0xb000, ClockRate: 48000}
)

type nopWriter struct{}

func (nopWriter) Write(h *rtp.Header, payload []byte, _ interceptor.Attributes) (int, error) {
	return len(payload), nil
}

// nextReader returns next on each Read, as a transport read would.
type nextReader struct{ next []byte }

func (r *nextReader) Read(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
	return copy(b, r.next), a, nil
}

// fakeClock is the interceptor's clock in the tests.
type fakeClock struct {
	mu sync.Mutex
	at time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

func (c *fakeClock) set(d time.Duration) {
	c.mu.Lock()
	c.at = t0.Add(d)
	c.mu.Unlock()
}

func rtpBytes(t *testing.T, ssrc uint32, seq uint16, ts uint32) []byte {
	t.Helper()
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, SSRC: ssrc, SequenceNumber: seq, Timestamp: ts}, Payload: []byte{1, 2, 3}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInterceptorReports runs the interceptor's bindings with a synthetic
// clock and checks the exact compound packets of successive reports.
func TestInterceptorReports(t *testing.T) {
	clock := &fakeClock{at: t0}
	i := newInterceptor(time.Second, clock.now, 77, nil)

	// Nothing bound: nothing to say.
	if got := i.report(t0); got != nil {
		t.Fatalf("report with no streams: %s", layout(got))
	}

	video := i.BindLocalStream(&videoInfo, nopWriter{})
	audio := i.BindLocalStream(&audioInfo, nopWriter{})
	rv, ra := &nextReader{}, &nextReader{}
	readV := i.BindRemoteStream(&remoteV, rv)
	readA := i.BindRemoteStream(&remoteA, ra)
	rtcpIn := &nextReader{}
	readRTCP := i.BindRTCPReader(rtcpIn)
	buf := make([]byte, 1500)

	// Bound but silent: still nothing.
	if got := i.report(t0.Add(500 * time.Millisecond)); got != nil {
		t.Fatalf("report before any packet: %s", layout(got))
	}

	write := func(w interceptor.RTPWriter, at time.Duration, ssrc uint32, seq uint16, ts uint32, n int) {
		clock.set(at)
		if _, err := w.Write(&rtp.Header{Version: 2, SSRC: ssrc, SequenceNumber: seq, Timestamp: ts}, make([]byte, n), nil); err != nil {
			t.Fatal(err)
		}
	}
	read := func(r interceptor.RTPReader, src *nextReader, at time.Duration, ssrc uint32, seq uint16, ts uint32) {
		clock.set(at)
		src.next = rtpBytes(t, ssrc, seq, ts)
		if _, _, err := r.Read(buf, nil); err != nil {
			t.Fatal(err)
		}
	}

	// A video frame of two packets at 1 s, a retransmission on RTX; an
	// audio packet at 1.01 s.
	write(video, time.Second, videoInfo.SSRC, 100, 9000, 1000)
	write(video, time.Second+2*time.Millisecond, videoInfo.SSRC, 101, 9000, 800)
	write(video, time.Second+5*time.Millisecond, videoInfo.SSRCRetransmission, 7, 9000, 802)
	write(audio, time.Second+10*time.Millisecond, audioInfo.SSRC, 50, 4800, 80)
	// Remote video 1..10 without 5, at 90 kHz, arriving on time; remote
	// audio 1..3.
	for s := uint16(1); s <= 10; s++ {
		if s != 5 {
			read(readV, rv, time.Second+time.Duration(s)*10*time.Millisecond, remoteV.SSRC, s, 90000+uint32(s)*900)
		}
	}
	for s := uint16(1); s <= 3; s++ {
		read(readA, ra, time.Second+time.Duration(s)*20*time.Millisecond, remoteA.SSRC, s, uint32(s)*960)
	}
	// The remote video's sender reports at 1.2 s; read twice, as pion hands
	// a compound packet to each SSRC's reader.
	srNTP := toNTP(t0.Add(1200 * time.Millisecond))
	rtcpIn.next = marshal(t, &rtcp.SenderReport{SSRC: remoteV.SSRC, NTPTime: srNTP},
		&rtcp.ReceiverReport{SSRC: remoteV.SSRC, Reports: []rtcp.ReceptionReport{{SSRC: videoInfo.SSRC}}})
	clock.set(1200 * time.Millisecond)
	if _, _, err := readRTCP.Read(buf, nil); err != nil {
		t.Fatal(err)
	}
	clock.set(1300 * time.Millisecond)
	if _, _, err := readRTCP.Read(buf, nil); err != nil {
		t.Fatal(err)
	}

	now := t0.Add(1500 * time.Millisecond)
	got := i.report(now)
	if l := layout(got); l != "SR4096:2 SR8192:0" {
		t.Fatalf("layout %s", l)
	}
	wantV := &rtcp.SenderReport{
		SSRC: videoInfo.SSRC, NTPTime: toNTP(now), RTPTime: 9000 + 45000, PacketCount: 2, OctetCount: 1800,
		Reports: []rtcp.ReceptionReport{
			{SSRC: remoteV.SSRC, FractionLost: 25, TotalLost: 1, LastSequenceNumber: 10,
				LastSenderReport: uint32(srNTP >> 16), Delay: 19660}, // 0.3 s
			{SSRC: remoteA.SSRC, LastSequenceNumber: 3},
		},
	}
	wantA := &rtcp.SenderReport{SSRC: audioInfo.SSRC, NTPTime: toNTP(now), RTPTime: 4800 + 23520, PacketCount: 1, OctetCount: 80}
	assertSR(t, got[0][0], wantV)
	assertSR(t, got[0][1], wantA)

	// A second later only the video stream has been heard from; the video
	// sender reports extrapolate further from the same frame.
	for s := uint16(11); s <= 20; s++ {
		read(readV, rv, 2*time.Second+time.Duration(s)*10*time.Millisecond, remoteV.SSRC, s, 90000+uint32(s)*900)
	}
	now = t0.Add(2500 * time.Millisecond)
	got = i.report(now)
	if l := layout(got); l != "SR4096:1 SR8192:0" {
		t.Fatalf("second layout %s", l)
	}
	wantV.NTPTime, wantV.RTPTime = toNTP(now), 9000+135000
	wantV.Reports = []rtcp.ReceptionReport{{SSRC: remoteV.SSRC, TotalLost: 1, LastSequenceNumber: 20,
		LastSenderReport: uint32(srNTP >> 16), Delay: 85196}} // 1.3 s
	assertSR(t, got[0][0], wantV)

	// The video sender gone, the audio one carries the blocks; both gone,
	// receiver reports from the interceptor's own SSRC.
	i.UnbindLocalStream(&videoInfo)
	read(readA, ra, 3*time.Second, remoteA.SSRC, 4, 4*960)
	if l := layout(i.report(t0.Add(3500 * time.Millisecond))); l != "SR8192:1" {
		t.Errorf("after unbinding video: %s", l)
	}
	i.UnbindLocalStream(&audioInfo)
	read(readA, ra, 4*time.Second, remoteA.SSRC, 5, 5*960)
	if l := layout(i.report(t0.Add(4500 * time.Millisecond))); l != "RR77:1" {
		t.Errorf("receiving only: %s", l)
	}
	i.UnbindRemoteStream(&remoteA)
	i.UnbindRemoteStream(&remoteV)
	if got := i.report(t0.Add(5500 * time.Millisecond)); got != nil {
		t.Errorf("after unbinding everything: %s", layout(got))
	}
}

func assertSR(t *testing.T, p rtcp.Packet, want *rtcp.SenderReport) {
	t.Helper()
	got, ok := p.(*rtcp.SenderReport)
	if !ok {
		t.Fatalf("%T, want an SR", p)
	}
	if got.String() != want.String() {
		t.Errorf("SR\n%s\nwant\n%s", got, want)
	}
}

// TestIgnoresForeignRTP: packets on a remote stream's reader that are not
// RTP of its SSRC are not counted.
func TestIgnoresForeignRTP(t *testing.T) {
	i := newInterceptor(time.Second, time.Now, 1, nil)
	src := &nextReader{}
	r := i.BindRemoteStream(&remoteV, src)
	buf := make([]byte, 1500)
	for _, b := range [][]byte{rtpBytes(t, remoteV.SSRC+1, 1, 0), {0x80, 0x60, 0, 1}, {0x00, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0xa0, 0}} {
		src.next = b
		if _, _, err := r.Read(buf, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := i.report(time.Now()); got != nil {
		t.Errorf("report after foreign packets: %s", layout(got))
	}
}

// TestConcurrentSendAndReport: with writers on several goroutines and the
// reporter running, every packet is counted (run with -race).
func TestConcurrentSendAndReport(t *testing.T) {
	i := newInterceptor(time.Second, time.Now, 1, nil)
	w := i.BindLocalStream(&videoInfo, nopWriter{})
	const writers, each = 4, 2000
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			h := rtp.Header{Version: 2, SSRC: videoInfo.SSRC}
			payload := make([]byte, 10)
			for n := range each {
				h.SequenceNumber = uint16(g*each + n)
				h.Timestamp = uint32(n / 3)
				if _, err := w.Write(&h, payload, nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	stop := make(chan struct{})
	reported := make(chan struct{})
	go func() {
		defer close(reported)
		for {
			select {
			case <-stop:
				return
			default:
				i.report(time.Now())
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-reported
	got := i.report(time.Now())
	sr := got[0][0].(*rtcp.SenderReport)
	if sr.PacketCount != writers*each || sr.OctetCount != writers*each*10 {
		t.Errorf("counted %d packets, %d octets; want %d, %d", sr.PacketCount, sr.OctetCount, writers*each, writers*each*10)
	}
}

// captureWriter keeps what reaches the wire.
type captureWriter struct {
	mu   sync.Mutex
	pkts [][]rtcp.Packet
}

func (c *captureWriter) Write(pkts []rtcp.Packet, _ interceptor.Attributes) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pkts = append(c.pkts, pkts)
	return 0, nil
}

func (c *captureWriter) firstSR(ssrc uint32) (*rtcp.SenderReport, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pkts := range c.pkts {
		for _, p := range pkts {
			if sr, ok := p.(*rtcp.SenderReport); ok && sr.SSRC == ssrc {
				return sr, len(c.pkts)
			}
		}
	}
	return nil, len(c.pkts)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s in 10 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStatsComputesRTT: in a chain where pion's stats interceptor is bound
// before this one (innermost), as in the node, the loop's sender reports go
// out through the bound writer, and a receiver report echoing one gives
// the stats interceptor its RTT.
func TestStatsComputesRTT(t *testing.T) {
	sf, err := stats.NewInterceptor()
	if err != nil {
		t.Fatal(err)
	}
	var getter stats.Getter
	sf.OnNewPeerConnection(func(_ string, g stats.Getter) { getter = g })
	reg := &interceptor.Registry{}
	reg.Add(sf)
	reg.Add(&Factory{Interval: 20 * time.Millisecond})
	chain, err := reg.Build("pc")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := chain.Close(); err != nil {
			t.Error(err)
		}
	}()
	wire := &captureWriter{}
	chain.BindRTCPWriter(wire)
	w := chain.BindLocalStream(&videoInfo, nopWriter{})
	if _, err := w.Write(&rtp.Header{Version: 2, SSRC: videoInfo.SSRC, SequenceNumber: 1, Timestamp: 1}, make([]byte, 100), nil); err != nil {
		t.Fatal(err)
	}
	var sr *rtcp.SenderReport
	waitFor(t, "sender report on the wire", func() bool { sr, _ = wire.firstSR(videoInfo.SSRC); return sr != nil })

	src := &nextReader{next: marshal(t, &rtcp.ReceiverReport{SSRC: 5, Reports: []rtcp.ReceptionReport{{
		SSRC: videoInfo.SSRC, LastSequenceNumber: 1, LastSenderReport: uint32(sr.NTPTime >> 16), Delay: 1,
	}}})}
	r := chain.BindRTCPReader(src)
	if _, _, err := r.Read(make([]byte, 1500), nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "RTT in the stats", func() bool {
		st := getter.Get(videoInfo.SSRC)
		return st != nil && st.RemoteInboundRTPStreamStats.RoundTripTimeMeasurements > 0
	})
	if rtt := getter.Get(videoInfo.SSRC).RemoteInboundRTPStreamStats.RoundTripTime; rtt <= 0 {
		t.Errorf("RTT %v", rtt)
	}
	// One compound packet per interval, whatever the number of streams:
	// a second local stream and a remote one add no packets.
	a := chain.BindLocalStream(&audioInfo, nopWriter{})
	if _, err := a.Write(&rtp.Header{Version: 2, SSRC: audioInfo.SSRC, SequenceNumber: 1}, make([]byte, 10), nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a report with both sender reports", func() bool {
		wire.mu.Lock()
		defer wire.mu.Unlock()
		last := wire.pkts[len(wire.pkts)-1]
		return layout([][]rtcp.Packet{last}) == "SR4096:0 SR8192:0"
	})
}

// BenchmarkReceivePath is the cost the interceptor adds to each packet
// received.
func BenchmarkReceivePath(b *testing.B) {
	i := newInterceptor(time.Second, time.Now, 1, nil)
	src := &nextReader{}
	r := i.BindRemoteStream(&remoteV, src)
	pkt, err := (&rtp.Packet{Header: rtp.Header{Version: 2, SSRC: remoteV.SSRC}, Payload: make([]byte, 1100)}).Marshal()
	if err != nil {
		b.Fatal(err)
	}
	src.next = pkt
	buf := make([]byte, 1500)
	b.ReportAllocs()
	b.ResetTimer()
	for n := range b.N {
		pkt[2], pkt[3] = byte(n>>8), byte(n)
		if _, _, err := r.Read(buf, nil); err != nil {
			b.Fatal(err)
		}
	}
}
