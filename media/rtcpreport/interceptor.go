package rtcpreport

import (
	"encoding/binary"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// DefaultInterval is the mean time between two reports.
const DefaultInterval = time.Second

// Factory makes the Interceptor of each PeerConnection.
type Factory struct {
	// Interval is the mean time between reports; DefaultInterval if 0.
	Interval time.Duration
	// Log, if set, gets the first failed write of each connection, at debug
	// level (writes fail while a connection closes).
	Log *slog.Logger
}

// NewInterceptor implements interceptor.Factory.
func (f *Factory) NewInterceptor(string) (interceptor.Interceptor, error) {
	iv := f.Interval
	if iv <= 0 {
		iv = DefaultInterval
	}
	return newInterceptor(iv, time.Now, rand.Uint32(), f.Log), nil
}

// Interceptor keeps one PeerConnection's send and receive statistics and
// writes its reports. Its streams are kept in the order they were bound, so
// the first SR is the oldest local stream's.
type Interceptor struct {
	interceptor.NoOp

	interval time.Duration
	now      func() time.Time
	base     time.Time            // the origin of the streams' times
	since    func() time.Duration // now - base, for the send path
	ssrc     uint32               // of the receiver reports while nothing is sent
	log      *slog.Logger

	mu      sync.Mutex // guards the stream lists and the loop's state
	locals  []*localStream
	remotes []*remoteStream
	running bool
	closed  bool
	done    chan struct{}
	wg      sync.WaitGroup

	// The reporter's scratch lists.
	scratchL []*localStream
	scratchR []*remoteStream
}

func newInterceptor(interval time.Duration, now func() time.Time, ssrc uint32, log *slog.Logger) *Interceptor {
	i := &Interceptor{interval: interval, now: now, base: now(), ssrc: ssrc, log: log, done: make(chan struct{})}
	i.since = func() time.Duration { return i.now().Sub(i.base) }
	return i
}

// BindLocalStream counts the stream's packets for its sender reports.
func (i *Interceptor) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	s := &localStream{ssrc: info.SSRC, clockRate: info.ClockRate}
	i.mu.Lock()
	i.locals = append(i.locals, s)
	i.mu.Unlock()
	since := i.since
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		s.sent(h, payload, since)
		return w.Write(h, payload, a)
	})
}

// UnbindLocalStream stops reporting the stream.
func (i *Interceptor) UnbindLocalStream(info *interceptor.StreamInfo) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.locals = slices.DeleteFunc(i.locals, func(s *localStream) bool { return s.ssrc == info.SSRC })
}

// BindRemoteStream counts the stream's packets for its report blocks.
func (i *Interceptor) BindRemoteStream(info *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	s := &remoteStream{ssrc: info.SSRC, rx: receiveStats{clockRate: info.ClockRate}}
	i.mu.Lock()
	i.remotes = append(i.remotes, s)
	i.mu.Unlock()
	rate := info.ClockRate
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := r.Read(b, a)
		// The fixed header is all it needs (RFC 3550 5.1); no parse.
		if err == nil && n >= 12 && b[0]>>6 == 2 && binary.BigEndian.Uint32(b[8:]) == s.ssrc {
			s.received(binary.BigEndian.Uint16(b[2:]), binary.BigEndian.Uint32(b[4:]), rtpTime(i.since(), rate))
		}
		return n, a, err
	})
}

// UnbindRemoteStream stops reporting the stream.
func (i *Interceptor) UnbindRemoteStream(info *interceptor.StreamInfo) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.remotes = slices.DeleteFunc(i.remotes, func(s *remoteStream) bool { return s.ssrc == info.SSRC })
}

// BindRTCPReader notes the sender reports of remote streams, for LSR and
// DLSR.
func (i *Interceptor) BindRTCPReader(r interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := r.Read(b, a)
		if err != nil {
			return n, a, err
		}
		var buf [4]senderInfo
		srs, ok := readSRs(buf[:0], b[:n])
		if ok && len(srs) > 0 {
			i.senderReports(srs, i.now())
		}
		return n, a, nil
	})
}

// senderReports records received SRs with the remote streams they are of.
func (i *Interceptor) senderReports(srs []senderInfo, now time.Time) {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, sr := range srs {
		for _, s := range i.remotes {
			if s.ssrc == sr.SSRC {
				s.senderReport(sr.NTP, now)
			}
		}
	}
}

// BindRTCPWriter starts the reports, written to w. pion binds one writer
// per PeerConnection; a second one is passed through unused.
func (i *Interceptor) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.running || i.closed {
		return w
	}
	i.running = true
	i.wg.Add(1)
	go i.loop(w)
	return w
}

// Close stops the reports.
func (i *Interceptor) Close() error {
	i.mu.Lock()
	if !i.closed {
		i.closed = true
		close(i.done)
	}
	i.mu.Unlock()
	i.wg.Wait()
	return nil
}

// loop writes the reports every randomised interval until Close.
func (i *Interceptor) loop(w interceptor.RTCPWriter) {
	defer i.wg.Done()
	t := time.NewTimer(randomised(i.interval/2, rand.Float64()))
	defer t.Stop()
	logged := false
	for {
		select {
		case <-i.done:
			return
		case <-t.C:
		}
		for _, pkts := range i.report(i.now()) {
			if _, err := w.Write(pkts, interceptor.Attributes{}); err != nil && !logged && i.log != nil {
				logged = true
				i.log.Debug("rtcp report not written (logged once per connection)", "err", err)
			}
		}
		t.Reset(randomised(i.interval, rand.Float64()))
	}
}

// randomised is RFC 3550 6.3.1's spread of an interval: u in [0, 1) maps
// to [0.5, 1.5) x mean.
func randomised(mean time.Duration, u float64) time.Duration {
	return mean/2 + time.Duration(u*float64(mean))
}

// report builds the compound packets of one report at now. Reporter only.
func (i *Interceptor) report(now time.Time) [][]rtcp.Packet {
	i.mu.Lock()
	locals := append(i.scratchL[:0], i.locals...)
	remotes := append(i.scratchR[:0], i.remotes...)
	i.mu.Unlock()
	defer func() {
		clear(locals)
		clear(remotes)
		i.scratchL, i.scratchR = locals[:0], remotes[:0]
	}()

	since := now.Sub(i.base)
	var srs []*rtcp.SenderReport
	for _, s := range locals {
		if c, ok := s.counters(i.base, since); ok {
			srs = append(srs, senderReport(s.ssrc, s.clockRate, c, now))
		}
	}
	var blocks []rtcp.ReceptionReport
	for _, s := range remotes {
		if b, ok := s.block(now); ok {
			blocks = append(blocks, b)
		}
	}
	return pack(srs, blocks, i.ssrc, MaxCompoundSize)
}
