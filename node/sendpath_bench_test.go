package node

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/media"
)

// BenchmarkSendPath is one forwarded packet on the node's whole send path,
// from the publisher's UpTrack to the media socket: the DownTrack's
// forwarder and rewrite, the interceptor chain every participant's
// PeerConnection has (TWCC numbering, RTCP report counters, stats), pion's
// SRTP (AEAD_AES_128_GCM, the node's first choice), the ICE UDP mux, the
// forged-DTLS filter and the batching socket. The node's side is built as
// the node builds it (newPeerAPI on a node whose media port is open); the
// receiver is a plain pion PeerConnection on loopback that drops SRTP as it
// reads it, so that its own work stays out of the figures. One 1000-byte
// VP8 packet per iteration, frames of three packets; the keyframe that
// starts the forwarder is sent before the timer starts.
//
//	go test -run XXX -bench BenchmarkSendPath -benchmem -benchtime 2s ./node/
func BenchmarkSendPath(b *testing.B) {
	goroutines := runtime.NumGoroutine()
	sp := newSendPath(b)
	defer func() {
		sp.close(b)
		checkGoroutines(b, goroutines)
	}()

	arrivedBefore := sp.recvConn.dropped.Load()
	sentBefore := sp.down.Packets.Load()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		sp.up.Feed(0, sp.feed.next(), time.Now())
		n++
	}
	b.StopTimer()
	sent := sp.down.Packets.Load() - sentBefore
	if sent != uint64(n) {
		b.Errorf("the DownTrack wrote %d packets of the %d fed", sent, n)
	}
	if e := sp.down.WriteErrors.Load(); e != 0 {
		b.Errorf("%d write errors, the first: %v", e, sp.down.FirstWriteError())
	}
	// Let what is still in the socket buffers arrive before counting.
	time.Sleep(50 * time.Millisecond)
	arrived := sp.recvConn.dropped.Load() - arrivedBefore
	b.ReportMetric(float64(arrived)/float64(n), "arrived/op")
	if arrived == 0 {
		b.Error("no SRTP packet reached the receiver's socket")
	}
}

// sendPath is a node-side PeerConnection sending one DownTrack to a plain
// pion receiver over loopback.
type sendPath struct {
	node     *Node
	up       *media.UpTrack
	down     *media.DownTrack
	sender   *webrtc.PeerConnection
	receiver *webrtc.PeerConnection
	recvMux  ice.UDPMux
	recvConn *srtpDropConn
	feed     *vp8Feed // the publisher's stream, continued from the warm-up
}

func newSendPath(tb testing.TB) *sendPath {
	tb.Helper()
	cfg := DefaultConfig()
	cfg.ID = "sendpath"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.MediaPort = 0
	cfg.MediaTCPPort = -1
	n, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	sp := &sendPath{node: n}
	ok := false
	defer func() {
		if !ok {
			sp.close(tb)
		}
	}()
	// The media port as Start opens it: batching socket, DTLS filter, mux.
	if err := n.openMedia(); err != nil {
		tb.Fatal(err)
	}
	api, err := n.newPeerAPI()
	if err != nil {
		tb.Fatal(err)
	}
	if sp.sender, err = api.api.NewPeerConnection(webrtc.Configuration{SDPSemantics: webrtc.SDPSemanticsUnifiedPlan}); err != nil {
		tb.Fatal(err)
	}

	// A track relayed from another node: the exported way to hand an
	// UpTrack packets without a network. Configured as onTrack configures
	// a published track (forwarding delay metric, batching socket).
	codec := webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
		PayloadType:        96,
	}
	sp.up = media.NewUpTrack(media.UpTrackConfig{
		Publisher: "pub", Kind: media.KindVideo, Source: media.SourceCamera, Codec: codec,
		Observe: n.metrics.observeForward, Batch: n.batch, Remote: true,
	})
	sp.up.Advertise([]media.LayerInfo{{Index: 0, Active: true}})
	// As subscribe does: held back until the transport is up.
	sp.down = media.NewDownTrack(sp.up)
	sp.down.SetWaiting(true)
	t, err := sp.sender.AddTransceiverFromTrack(sp.down, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		tb.Fatal(err)
	}
	sp.up.AddSink(sp.down)
	sp.down.SetTarget(0)
	go func() {
		for {
			pkts, _, err := t.Sender().ReadRTCP()
			if err != nil {
				return
			}
			sp.down.HandleRTCP(pkts)
		}
	}()

	sp.newReceiver(tb)
	// The first packet the receiver decrypts, and whether it carries the
	// transport-wide CC number: without it the path would miss the
	// interceptor that adds one to every packet a browser is sent.
	got := make(chan struct{})
	var once, numbered atomic.Bool
	sp.receiver.OnTrack(func(track *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		var ext uint8
		for _, e := range r.GetParameters().HeaderExtensions {
			if e.URI == extTWCC {
				ext = uint8(e.ID)
			}
		}
		for {
			p, _, err := track.ReadRTP()
			if err != nil {
				return
			}
			if !once.Swap(true) {
				numbered.Store(ext != 0 && len(p.GetExtension(ext)) == 2)
				close(got)
			}
		}
	})
	connected := make(chan struct{})
	var connOnce atomic.Bool
	sp.sender.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected && !connOnce.Swap(true) {
			close(connected)
		}
	})
	if err := connectPeers(sp.sender, sp.receiver); err != nil {
		tb.Fatal(err)
	}
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		tb.Fatal("the node's PeerConnection did not connect")
	}
	sp.down.SetWaiting(false)

	// Keyframe first, then frames until the receiver decrypted one packet:
	// the path works end to end. From then on the receiver drops SRTP unread.
	sp.feed = newVP8Feed(1000)
	deadline := time.Now().Add(10 * time.Second)
wait:
	for {
		sp.up.Feed(0, sp.feed.next(), time.Now())
		select {
		case <-got:
			break wait
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatal("the receiver got no packet")
		}
	}
	if !numbered.Load() {
		tb.Fatal("the receiver's first packet has no transport-wide CC number")
	}
	sp.recvConn.drop.Store(true)
	ok = true
	return sp
}

// newReceiver makes the plain pion receiver: the node's codecs and header
// extensions (as a browser negotiates them), no interceptors, its own UDP
// socket on loopback read through srtpDropConn.
func (sp *sendPath) newReceiver(tb testing.TB) {
	tb.Helper()
	m, err := mediaEngine(false)
	if err != nil {
		tb.Fatal(err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	// Room for bursts while the receiver's goroutine waits for a core (the
	// kernel caps it at net.core.rmem_max): a datagram dropped there has
	// still cost the sender everything.
	_ = conn.SetReadBuffer(4 << 20)
	sp.recvConn = &srtpDropConn{UDPConn: conn}
	sp.recvMux = webrtc.NewICEUDPMux(nil, sp.recvConn)
	var se webrtc.SettingEngine
	se.SetICEUDPMux(sp.recvMux)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))
	if sp.receiver, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		tb.Fatal(err)
	}
}

// connectPeers has the node offer, as it does when it adds a track for a
// subscriber, and the receiver answer; candidates travel in the SDP.
func connectPeers(offerer, answerer *webrtc.PeerConnection) error {
	offer, err := offerer.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(offerer)
	if err := offerer.SetLocalDescription(offer); err != nil {
		return err
	}
	<-gathered
	if err := answerer.SetRemoteDescription(*offerer.LocalDescription()); err != nil {
		return err
	}
	answer, err := answerer.CreateAnswer(nil)
	if err != nil {
		return err
	}
	gathered = webrtc.GatheringCompletePromise(answerer)
	if err := answerer.SetLocalDescription(answer); err != nil {
		return err
	}
	<-gathered
	return offerer.SetRemoteDescription(*answerer.LocalDescription())
}

// close closes both PeerConnections, the receiver's socket and the node.
func (sp *sendPath) close(tb testing.TB) {
	tb.Helper()
	var errs []error
	for _, pc := range []*webrtc.PeerConnection{sp.sender, sp.receiver} {
		if pc != nil {
			errs = append(errs, pc.Close())
		}
	}
	if sp.recvMux != nil {
		errs = append(errs, sp.recvMux.Close())
	}
	if sp.recvConn != nil {
		_ = sp.recvConn.Close() // the mux closed it already
	}
	errs = append(errs, sp.node.Close())
	if err := errors.Join(errs...); err != nil {
		tb.Errorf("close: %v", err)
	}
}

// checkGoroutines fails tb if goroutines started since before are still
// running a few seconds after everything was closed.
func checkGoroutines(tb testing.TB, before int) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			tb.Errorf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// srtpDropConn is the receiver's socket: once drop is set it counts and
// drops RTP and RTCP (first byte 128..191, RFC 7983) as it reads them, and
// passes STUN and DTLS, so that the connection stays up while the
// receiver spends nothing on the media. Its reads and writes are pion's
// allocation-free ones (ice.AddrPortReaderWriter), which the UDP mux
// prefers: the receiver adds nothing to allocs/op.
type srtpDropConn struct {
	*net.UDPConn
	drop    atomic.Bool
	dropped atomic.Uint64
}

func (c *srtpDropConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	for {
		n, from, err := c.ReadFromUDPAddrPort(b)
		if err != nil || !c.drop.Load() || n == 0 || b[0] < 128 || b[0] > 191 {
			return n, from, err
		}
		c.dropped.Add(1)
	}
}

func (c *srtpDropConn) WriteToAddrPort(b []byte, to netip.AddrPort) (int, error) {
	return c.WriteToUDPAddrPort(b, to)
}

func (c *srtpDropConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// vp8Feed makes the published stream: VP8 with a 15-bit picture id and
// TL0PICIDX, frames of three packets, the first frame a keyframe. next
// rewrites one packet in place.
type vp8Feed struct {
	pkt   rtp.Packet
	index int
}

func newVP8Feed(size int) *vp8Feed {
	f := &vp8Feed{}
	f.pkt.Header = rtp.Header{Version: 2, PayloadType: 96, SSRC: 0x5eed}
	f.pkt.Payload = make([]byte, size)
	return f
}

const vp8FramePackets = 3

func (f *vp8Feed) next() *rtp.Packet {
	i := f.index
	f.index++
	frame, pos := i/vp8FramePackets, i%vp8FramePackets
	p := &f.pkt
	p.SequenceNumber = uint16(i)
	p.Timestamp = uint32(frame * 3000)
	p.Marker = pos == vp8FramePackets-1
	b := p.Payload
	b[0] = 0x80 // X
	if pos == 0 {
		b[0] |= 0x10 // S: the frame's first packet
	}
	pid := uint16(frame) & 0x7fff
	b[1] = 0xc0 // I, L
	b[2] = 0x80 | byte(pid>>8)
	b[3] = byte(pid)
	b[4] = byte(frame) // TL0PICIDX
	switch {
	case pos != 0:
		b[5] = 0
	case frame == 0:
		// A keyframe's frame tag (P clear) and start code, 640x480.
		copy(b[5:], []byte{0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01})
	default:
		b[5] = 0x01 // P: an interframe
	}
	return p
}
