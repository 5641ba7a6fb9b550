package node_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/media/rtxguard"
	"github.com/switchyard/switchyard/node"
	"github.com/switchyard/switchyard/node/nodetest"
	"github.com/switchyard/switchyard/node/signal"
)

// The storm of the issue: for each video track, a NACK for the last 512
// sequence numbers received, 200 times a second.
const (
	stormNACKSpan   = 512
	stormNACKPeriod = 5 * time.Millisecond
	stormWindow     = 5 * time.Second // and the quiet window measured before it
)

// TestNACKStormBounded runs a real node with a simulcast publisher, an
// honest receiver and a receiver that storms NACKs: the node resends no more
// than the storming receiver's retransmission budget allows, counts what it
// refuses, and the honest receiver keeps its media. It logs the
// retransmission rate, the amplification in bytes and the process CPU with
// and without the storm.
func TestNACKStormBounded(t *testing.T) {
	n := nodetest.Start(t, nil)
	const room = "storm"
	pub := join(t, n, room, "alice", publishing)
	honest := join(t, n, room, "bob", nil)
	stormStart := time.Now() // before its budget exists: the floor's time is over-counted
	storm := connectStormer(t, n, room, "mallory")
	receivesAt(t, 20*time.Second, honest, pub, 0)
	waitFor(t, 10*time.Second, "the storming receiver to get the publisher's video and audio", func() (bool, string) {
		v, a := storm.kinds()
		return v > 0 && a > 0 && storm.forwarded.Load() > 100,
			fmt.Sprintf("%d video and %d audio tracks, %d packets", v, a, storm.forwarded.Load())
	})

	// A quiet window first, as the baseline of CPU and of the honest
	// receiver's media.
	quiet := measure(n, room, storm, honest, pub)
	time.Sleep(stormWindow)
	baseline := measure(n, room, storm, honest, pub).since(quiet)

	before := measure(n, room, storm, honest, pub)
	storm.run(stormWindow)
	during := measure(n, room, storm, honest, pub).since(before)

	p, ok := findParticipant(n, room, storm.id)
	if !ok {
		t.Fatalf("the storming receiver %s is not in the snapshot", storm.id)
	}
	life := time.Since(stormStart)
	forwarded := storm.forwarded.Load()
	secs := during.wall.Seconds()
	t.Logf("storm: %d NACKs (%.0f/s, %d bytes) asking for %d packets; the node counted %d NACKed, %d resent, %d refused",
		during.nacks, float64(during.nacks)/secs, during.nackBytes, during.nackedSeqs, during.nodeNACKed, during.resent, during.refused)
	t.Logf("retransmissions during the storm: %.0f/s by the node's count, %.0f/s received (%d bytes): %.2fx the NACK bytes",
		float64(during.resent)/secs, float64(during.dups)/secs, during.dupBytes, ratio(during.dupBytes, during.nackBytes))
	t.Logf("sent to the storming receiver during the storm: %.0f packets/s, %.0f kbit/s (retransmissions excluded)",
		float64(during.fwd)/secs, float64(8*during.fwdBytes)/secs/1000)
	t.Logf("process CPU (node and test clients) over %v: %.0f%% of a core quiet, %.0f%% during the storm; node snapshot %.0f%%",
		stormWindow, baseline.cpuPercent(), during.cpuPercent(), n.Snapshot().Node.CPUPercent)
	t.Logf("refused by reason: %s", refusedByReason(t, n))

	// The bound Budget documents: over any interval at most Burst's worth
	// plus max(Floor×T, Fraction×forwarded), which is below the sum of the
	// two; the burst is the larger of the floor's and a fraction of the
	// forwarded rate. Loosened by a fifth plus 20 packets for what the
	// receiver may have missed of what the node counts as sent.
	rate := float64(during.fwd) / secs
	burst := rtxguard.DefaultBurst.Seconds() * max(rtxguard.DefaultFloorPackets, 2*rtxguard.DefaultFraction*rate)
	limit := uint64(1.2*(rtxguard.DefaultFraction*float64(forwarded)+rtxguard.DefaultFloorPackets*life.Seconds()+burst)) + 20
	t.Logf("storming receiver over its %v: %d packets forwarded, %d resent (budget bound %d), %d refused, %d NACKed",
		life.Round(time.Millisecond), forwarded, p.Retransmits, limit, p.RetransmitsRefused, p.NACKsIn)
	if p.Retransmits > limit {
		t.Errorf("the node resent %d packets to the storming receiver; its budget allows at most %d", p.Retransmits, limit)
	}
	// The storm reached the node: else the bound above proves nothing.
	if during.nodeNACKed < during.nackedSeqs/2 {
		t.Errorf("the node counted %d NACKed packets of the %d asked for", during.nodeNACKed, during.nackedSeqs)
	}
	if p.RetransmitsRefused == 0 || during.refused < during.nodeNACKed/2 {
		t.Errorf("of %d packets NACKed during the storm %d were refused (%d over the session); want most",
			during.nodeNACKed, during.refused, p.RetransmitsRefused)
	}

	if err := storm.signalErr.Load(); err != nil {
		t.Errorf("storming receiver's signaling: %v", *err)
	}

	// The honest receiver kept its video.
	t.Logf("honest receiver: %d video packets (%d lost) in the quiet window, %d (%d lost) during the storm",
		baseline.video, baseline.videoLost, during.video, during.videoLost)
	if during.video < baseline.video/2 {
		t.Errorf("the honest receiver got %d video packets during the storm, %d in as long before it",
			during.video, baseline.video)
	}
	if lost := ratio(during.videoLost, during.video+during.videoLost); lost > 0.02 {
		t.Errorf("the honest receiver lost %.1f%% of its video during the storm", 100*lost)
	}
}

func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// stormSample is what the test watches, at one moment or (after since)
// over a window.
type stormSample struct {
	wall, cpu                     time.Duration
	nacks, nackBytes, nackedSeqs  uint64 // sent by the storming receiver
	dups, dupBytes, fwd, fwdBytes uint64 // received by it
	nodeNACKed, resent, refused   uint64 // the node's counts for it
	video, videoLost              uint64 // the honest receiver's, from the publisher
}

func measure(n *node.Node, room string, s *stormer, honest, pub *client.Client) stormSample {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	m := stormSample{
		wall:       time.Duration(time.Now().UnixNano()),
		cpu:        time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		nacks:      s.nacks.Load(),
		nackBytes:  s.nackBytes.Load(),
		nackedSeqs: s.nackedSeqs.Load(),
		dups:       s.dups.Load(),
		dupBytes:   s.dupBytes.Load(),
		fwd:        s.forwarded.Load(),
		fwdBytes:   s.forwardedBytes.Load(),
	}
	if p, ok := findParticipant(n, room, s.id); ok {
		m.nodeNACKed, m.resent, m.refused = p.NACKsIn, p.Retransmits, p.RetransmitsRefused
	}
	r := honest.Received()[pub.ID()]
	m.video, m.videoLost = r.VideoPackets, r.VideoLost
	return m
}

func (m stormSample) since(o stormSample) stormSample {
	return stormSample{
		wall: m.wall - o.wall, cpu: m.cpu - o.cpu,
		nacks: m.nacks - o.nacks, nackBytes: m.nackBytes - o.nackBytes, nackedSeqs: m.nackedSeqs - o.nackedSeqs,
		dups: m.dups - o.dups, dupBytes: m.dupBytes - o.dupBytes, fwd: m.fwd - o.fwd, fwdBytes: m.fwdBytes - o.fwdBytes,
		nodeNACKed: m.nodeNACKed - o.nodeNACKed, resent: m.resent - o.resent, refused: m.refused - o.refused,
		video: m.video - o.video, videoLost: m.videoLost - o.videoLost,
	}
}

func (m stormSample) cpuPercent() float64 { return 100 * m.cpu.Seconds() / m.wall.Seconds() }

// refusedByReason reads switchyard_retransmits_refused_total from /metrics.
func refusedByReason(t *testing.T, n *node.Node) string {
	resp, err := http.Get(n.URL() + "/metrics")
	if err != nil {
		t.Errorf("GET /metrics: %v", err)
		return ""
	}
	defer resp.Body.Close()
	var out []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "switchyard_retransmits_refused_total{") {
			out = append(out, strings.TrimPrefix(l, "switchyard_retransmits_refused_total"))
		}
	}
	return strings.Join(out, " ")
}

// stormer is a receiver built from a raw pion PeerConnection that answers
// the node's offers, counts what it is sent, and on run NACKs the last
// stormNACKSpan packets of each video track every stormNACKPeriod.
type stormer struct {
	pc *webrtc.PeerConnection
	id string

	mu     sync.Mutex
	tracks []*stormTrack

	forwarded, forwardedBytes atomic.Uint64 // first copies of packets
	dups, dupBytes            atomic.Uint64 // packets received again: retransmissions
	nacks, nackBytes          atomic.Uint64
	nackedSeqs                atomic.Uint64
	signalErr                 atomic.Pointer[error]
}

// stormTrack is one received track; its newest sequence number is read by
// the storm.
type stormTrack struct {
	ssrc   uint32
	video  bool
	newest atomic.Int64 // -1 until the first packet
}

// seenRing remembers which of the last len(seq) sequence numbers of a track
// arrived, to tell a retransmission from a first copy.
type seenRing struct {
	seq  [1024]uint16
	seen [1024]bool
}

func (r *seenRing) add(seq uint16) (dup bool) {
	i := seq % uint16(len(r.seq))
	if r.seen[i] && r.seq[i] == seq {
		return true
	}
	r.seq[i], r.seen[i] = seq, true
	return false
}

func (s *stormer) kinds() (video, audio int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tr := range s.tracks {
		if tr.newest.Load() < 0 {
			continue
		}
		if tr.video {
			video++
		} else {
			audio++
		}
	}
	return video, audio
}

// connectStormer joins room over signaling with a receive-only
// PeerConnection and answers the node's renegotiation offers.
func connectStormer(t *testing.T, n *node.Node, room, name string) *stormer {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	// SRTP would drop a retransmission as a replay: this receiver counts them.
	se.DisableSRTPReplayProtection(true)
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	s := &stormer{}
	p := connectRawWith(t, n, room, name, rawOptions{
		api: webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)),
		setup: func(pc *webrtc.PeerConnection) {
			s.pc = pc
			pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { s.receive(tr) })
		},
		onMessage: func(w *wsConn, msg signal.Message) {
			if err := s.signal(w, msg); err != nil {
				s.signalErr.Store(&err)
			}
		},
	})
	s.id = p.id
	return s
}

// signal handles one message from the node; called by the reading goroutine.
func (s *stormer) signal(w *wsConn, m signal.Message) error {
	switch m.Type {
	case signal.TypeCandidate:
		if m.Candidate == nil || m.Candidate.Candidate == "" {
			return nil
		}
		return s.pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: m.Candidate.Candidate,
			SDPMid: m.Candidate.SDPMid, SDPMLineIndex: m.Candidate.SDPMLineIndex})
	case signal.TypeOffer:
		if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
			return fmt.Errorf("set node offer: %w", err)
		}
		ans, err := s.pc.CreateAnswer(nil)
		if err != nil {
			return fmt.Errorf("answer node offer: %w", err)
		}
		if err := s.pc.SetLocalDescription(ans); err != nil {
			return fmt.Errorf("set answer: %w", err)
		}
		if err := w.c.WriteJSON(signal.Message{Type: signal.TypeAnswer, SDP: ans.SDP}); err != nil {
			return fmt.Errorf("send answer: %w", err)
		}
	}
	return nil
}

// receive counts a track's packets until it ends.
func (s *stormer) receive(tr *webrtc.TrackRemote) {
	st := &stormTrack{ssrc: uint32(tr.SSRC()), video: tr.Kind() == webrtc.RTPCodecTypeVideo}
	st.newest.Store(-1)
	s.mu.Lock()
	s.tracks = append(s.tracks, st)
	s.mu.Unlock()
	var ring seenRing
	var h rtp.Header
	buf := make([]byte, 1500)
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		if _, err := h.Unmarshal(buf[:n]); err != nil {
			continue
		}
		if ring.add(h.SequenceNumber) {
			s.dups.Add(1)
			s.dupBytes.Add(uint64(n))
			continue
		}
		s.forwarded.Add(1)
		s.forwardedBytes.Add(uint64(n))
		if old := st.newest.Load(); old < 0 || int16(h.SequenceNumber-uint16(old)) > 0 {
			st.newest.Store(int64(h.SequenceNumber))
		}
	}
}

// run storms for d: every stormNACKPeriod, one NACK per video track for the
// stormNACKSpan sequence numbers up to the newest received.
func (s *stormer) run(d time.Duration) {
	tick := time.NewTicker(stormNACKPeriod)
	defer tick.Stop()
	end := time.After(d)
	var pkts []rtcp.Packet
	for {
		select {
		case <-end:
			return
		case <-tick.C:
		}
		pkts = pkts[:0]
		s.mu.Lock()
		for _, tr := range s.tracks {
			if newest := tr.newest.Load(); tr.video && newest >= 0 {
				pkts = append(pkts, nackSpan(tr.ssrc, uint16(newest)))
			}
		}
		s.mu.Unlock()
		for _, p := range pkts {
			b, err := p.Marshal()
			if err != nil {
				continue
			}
			if err := s.pc.WriteRTCP([]rtcp.Packet{p}); err != nil {
				continue
			}
			s.nacks.Add(1)
			s.nackBytes.Add(uint64(len(b)))
			s.nackedSeqs.Add(stormNACKSpan)
		}
	}
}

// nackSpan asks for the stormNACKSpan sequence numbers ending at newest.
func nackSpan(ssrc uint32, newest uint16) *rtcp.TransportLayerNack {
	nack := &rtcp.TransportLayerNack{SenderSSRC: 1, MediaSSRC: ssrc}
	seq := newest - (stormNACKSpan - 1)
	for left := stormNACKSpan; left > 0; {
		extra := min(16, left-1) // sequence numbers in the bitmask
		nack.Nacks = append(nack.Nacks, rtcp.NackPair{PacketID: seq, LostPackets: rtcp.PacketBitmap(uint32(1)<<extra - 1)})
		seq += uint16(1 + extra)
		left -= 1 + extra
	}
	return nack
}
