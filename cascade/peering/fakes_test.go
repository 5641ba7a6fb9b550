package peering

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/cascade/control"
	"github.com/switchyard/switchyard/cascade/membership"
	"github.com/switchyard/switchyard/cascade/relay"
	"github.com/switchyard/switchyard/linkemu"
	"github.com/switchyard/switchyard/media"
)

// hostCall is one call peering made on the fake Host.
type hostCall struct {
	op      string // join, leave, published, unpublished, deliver
	conf    string
	id      string // the Remote's id
	up      *media.UpTrack
	to      string
	payload string
}

// fakeHost is a node as peering sees it: the conferences it hosts, its
// local participants, and a record of every call.
type fakeHost struct {
	mu     sync.Mutex
	hosted map[string]bool
	local  map[string][]control.Participant
	taken  map[string]bool // ids Join refuses with ErrIDTaken
	calls  []hostCall
	load   membership.Load
}

func newFakeHost(confs ...string) *fakeHost {
	h := &fakeHost{hosted: map[string]bool{}, local: map[string][]control.Participant{}, taken: map[string]bool{}}
	for _, c := range confs {
		h.hosted[c] = true
	}
	return h
}

func (h *fakeHost) Conferences() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for c := range h.hosted {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

func (h *fakeHost) Recording(conf string) bool { return false }

func (h *fakeHost) LocalState(conf string) ([]control.Participant, string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.hosted[conf] {
		return nil, "", false
	}
	return slices.Clone(h.local[conf]), "", true
}

func (h *fakeHost) Join(conf string, r *Remote) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.hosted[conf] {
		return ErrNotHosted
	}
	if h.taken[r.ID()] {
		return ErrIDTaken
	}
	h.calls = append(h.calls, hostCall{op: "join", conf: conf, id: r.ID()})
	return nil
}

func (h *fakeHost) Leave(conf string, r *Remote) {
	h.record(hostCall{op: "leave", conf: conf, id: r.ID()})
}

func (h *fakeHost) Published(conf string, r *Remote, up *media.UpTrack) {
	h.record(hostCall{op: "published", conf: conf, id: r.ID(), up: up})
}

func (h *fakeHost) Unpublished(conf string, r *Remote, up *media.UpTrack) {
	h.record(hostCall{op: "unpublished", conf: conf, id: r.ID(), up: up})
}

func (h *fakeHost) Updated(conf string, r *Remote) {
	h.record(hostCall{op: "updated", conf: conf, id: r.ID()})
}

func (h *fakeHost) Deliver(conf string, r *Remote, to string, payload json.RawMessage) {
	h.record(hostCall{op: "deliver", conf: conf, id: r.ID(), to: to, payload: string(payload)})
}

func (h *fakeHost) Load() membership.Load {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.load
}

func (h *fakeHost) record(c hostCall) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, c)
}

// ops returns the calls of one kind, in order.
func (h *fakeHost) ops(op string) []hostCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []hostCall
	for _, c := range h.calls {
		if c.op == op {
			out = append(out, c)
		}
	}
	return out
}

// ids returns the participant ids of the calls of one kind, in order.
func (h *fakeHost) ids(op string) []string {
	var out []string
	for _, c := range h.ops(op) {
		out = append(out, c.id)
	}
	return out
}

func (h *fakeHost) clear() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = nil
}

// sentPacket is one Send, with its own copy of the payload.
type sentPacket struct {
	to relay.NodeID
	relay.Packet
}

// fakeTransport records what peering sends and answers Stats and Silent
// as configured.
type fakeTransport struct {
	mu      sync.Mutex
	sent    []sentPacket
	links   []relay.LinkStats
	silent  map[relay.NodeID]bool
	added   []relay.NodeID
	removed []relay.NodeID
	sendErr error
}

func newFakeTransport() *fakeTransport { return &fakeTransport{silent: map[relay.NodeID]bool{}} }

func (t *fakeTransport) Send(to relay.NodeID, p *relay.Packet) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := *p
	c.Payload = slices.Clone(p.Payload)
	t.sent = append(t.sent, sentPacket{to: to, Packet: c})
	return t.sendErr
}

func (t *fakeTransport) AddPeer(id relay.NodeID, _ netip.AddrPort, _ linkemu.Params) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.added = append(t.added, id)
	return nil
}

func (t *fakeTransport) RemovePeer(id relay.NodeID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.removed = append(t.removed, id)
}

func (t *fakeTransport) Stats() relay.Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return relay.Stats{Links: slices.Clone(t.links)}
}

func (t *fakeTransport) Silent(id relay.NodeID, _ time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.silent[id]
}

func (t *fakeTransport) LocalAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: relay.DefaultPort}
}

func (t *fakeTransport) Close() error { return nil }

func (t *fakeTransport) setSilent(id relay.NodeID, on bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.silent[id] = on
}

// sentOf returns the packets of one type sent to one node, in order.
func (t *fakeTransport) sentOf(to relay.NodeID, typ relay.Type) []sentPacket {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []sentPacket
	for _, s := range t.sent {
		if s.to == to && s.Type == typ {
			out = append(out, s)
		}
	}
	return out
}

// allOf returns the packets of one type sent to anyone.
func (t *fakeTransport) allOf(typ relay.Type) []sentPacket {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []sentPacket
	for _, s := range t.sent {
		if s.Type == typ {
			out = append(out, s)
		}
	}
	return out
}

func (t *fakeTransport) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sent = nil
}

// fakeMembers is the membership: every node is alive unless marked dead.
type fakeMembers struct {
	mu    sync.Mutex
	dead  map[string]bool
	loads []membership.Load
}

func newFakeMembers() *fakeMembers { return &fakeMembers{dead: map[string]bool{}} }

func (m *fakeMembers) Alive(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.dead[name]
}

func (m *fakeMembers) SetLoad(l membership.Load) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads = append(m.loads, l)
}

func (m *fakeMembers) SetDraining(bool)          {}
func (m *fakeMembers) Addr() netip.AddrPort      { return netip.MustParseAddrPort("127.0.0.1:7946") }
func (m *fakeMembers) Leave(time.Duration) error { return nil }
func (m *fakeMembers) Shutdown() error           { return nil }
func (m *fakeMembers) setDead(name string, dead bool) {
	m.mu.Lock()
	m.dead[name] = dead
	m.mu.Unlock()
}

// testbed is a Peering named n1 in region eu, wired to fakes, with no
// loops running: tests call its handlers directly.
type testbed struct {
	p     *Peering
	host  *fakeHost
	tr    *fakeTransport
	ml    *fakeMembers
	ports uint16
}

const testConf = "c"

func newTestbed(tb testing.TB, confs ...string) *testbed {
	tb.Helper()
	if len(confs) == 0 {
		confs = []string{testConf}
	}
	b := &testbed{host: newFakeHost(confs...), tr: newFakeTransport(), ml: newFakeMembers(), ports: 5000}
	b.p = newPeering(Config{Self: "n1", Region: "eu", Overload: 0.8, MaxParticipants: 100,
		Logger: slog.New(slog.DiscardHandler)}, b.host)
	b.p.tr, b.p.ml = b.tr, b.ml
	return b
}

// addPeer introduces a node through the membership, as gossip would.
func (b *testbed) addPeer(name, region string) relay.NodeID {
	b.ports++
	b.p.onMember(membership.Event{Kind: membership.Joined, Member: membership.Member{
		Name: name,
		Meta: membership.Meta{Region: region,
			RelayAddr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), b.ports),
			SignalURL: signalURL(name)},
	}})
	return relay.NodeIDFromName(name)
}

func signalURL(name string) string { return "http://127.0.0.1:8080/" + name }

func (b *testbed) peer(id relay.NodeID) *peer {
	b.p.mu.RLock()
	defer b.p.mu.RUnlock()
	return b.p.peers[id]
}

// state delivers a decoded control message from a peer.
func (b *testbed) state(from relay.NodeID, m *control.Message) { b.p.onControl(from, testConf, m) }

// drops returns the cascade's own drop counters as Snapshot reports them.
func (b *testbed) drops() map[string]uint64 {
	cs, _ := b.p.Snapshot()
	return cs.Drops
}

// kicked reports whether Changed was called since the last drain, and drains.
func (b *testbed) kicked() bool {
	select {
	case <-b.p.kick:
		return true
	default:
		return false
	}
}

func stateMsg(parts []control.Participant, wants ...control.Want) *control.Message {
	return &control.Message{Type: control.TypeState, Participants: parts, Wants: wants}
}

func participant(id string, tracks ...control.Track) control.Participant {
	return control.Participant{ID: id, Name: "name of " + id, Region: "us", RTTMs: 12, Tracks: tracks}
}

func videoTrack() control.Track {
	return control.Track{Kind: media.KindVideo, MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, PayloadType: 96,
		Layers: []control.Layer{
			{Index: 0, Active: true, Bitrate: 150_000, Width: 320, Height: 180},
			{Index: 1, Active: true, Bitrate: 500_000, Width: 640, Height: 360},
			{Index: 2, Active: true, Bitrate: 1_500_000, Width: 1280, Height: 720},
		}}
}

func audioTrack() control.Track {
	return control.Track{Kind: media.KindAudio, MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, PayloadType: 111}
}

// localTrack is a local publisher's track: VP8 video or Opus audio.
func localTrack(publisher string, kind media.Kind) *media.UpTrack {
	codec := webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
		PayloadType:        96,
	}
	if kind == media.KindAudio {
		codec = webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
			PayloadType:        111,
		}
	}
	return media.NewUpTrack(media.UpTrackConfig{Publisher: publisher, Kind: kind, Codec: codec})
}

// mediaPayload is a payload the track forwards: for VP8 a descriptor
// with the start bit and an interframe, marked with seq so copies can be
// told apart.
func mediaPayload(seq uint16) []byte {
	return []byte{0x10, 0x01, byte(seq >> 8), byte(seq), 0xab}
}

func rtpPacket(seq uint16, ssrc uint32) *rtp.Packet {
	return &rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: 3000 * uint32(seq), SSRC: ssrc},
		Payload: mediaPayload(seq),
	}
}

// packetSize is what one rtpPacket weighs on the relay.
var packetSize = uint64(rtpPacket(0, 0).MarshalSize())

func marshalRTP(tb testing.TB, pkt *rtp.Packet) []byte {
	tb.Helper()
	b, err := pkt.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// recordSink is a sink of an UpTrack that keeps the sequence numbers and
// layers it was given.
type recordSink struct {
	mu     sync.Mutex
	seqs   []uint16
	layers []int
}

func (s *recordSink) WriteRTP(p *media.Packet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seqs = append(s.seqs, p.Header.SequenceNumber)
	s.layers = append(s.layers, p.Layer)
}

func (s *recordSink) got() []uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seqs)
}
