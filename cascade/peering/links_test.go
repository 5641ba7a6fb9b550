package peering

import (
	"slices"
	"testing"
	"time"

	"github.com/switchyard/switchyard/cascade/control"
	"github.com/switchyard/switchyard/cascade/linkrate"
	"github.com/switchyard/switchyard/cascade/relay"
	"github.com/switchyard/switchyard/linkemu"
	"github.com/switchyard/switchyard/media"
)

// linkBed is a testbed with a local simulcast camera (alice) whose three
// layers are active at their default rates (150 kbit/s, 500 kbit/s,
// 1.5 Mbit/s: nothing measured yet), and a peer n2 that wants its f.
type linkBed struct {
	*testbed
	n2  relay.NodeID
	up  *media.UpTrack
	seq uint16
}

func newLinkBed(t *testing.T) *linkBed {
	b := &linkBed{testbed: newTestbed(t)}
	b.up = localTrack(alice, media.KindVideo)
	// The layers are present as a publisher's three simulcast streams
	// make them (Run); Feed alone does not.
	b.up.Advertise([]media.LayerInfo{{Index: 0}, {Index: 1}, {Index: 2}})
	b.p.Publish(testConf, alice, b.up, nil)
	b.host.local[testConf] = []control.Participant{participant(alice, videoTrack())}
	b.n2 = b.addPeer("n2", "us")
	b.state(b.n2, stateMsg([]control.Participant{participant("n2-p1")},
		control.Want{Publisher: alice, Kind: media.KindVideo, Layers: media.LayerSet(1 << 2)}))
	b.feed()
	b.tr.clear()
	return b
}

// feed hands the track one packet of each layer.
func (b *linkBed) feed() {
	b.seq++
	for layer := range media.MaxLayers {
		b.up.Feed(layer, rtpPacket(uint16(layer)<<12|b.seq, 0x1000+uint32(layer)), time.Now())
	}
}

// relayed is the layers sent to n2 since the last clear.
func (b *linkBed) relayed() []int {
	var out []int
	for _, s := range b.tr.sentOf(b.n2, relay.TypeRTP) {
		_, layer, _ := trackOf(s.Layer)
		out = append(out, layer)
	}
	return out
}

// sentState is the last state sent to n2, decoded.
func (b *linkBed) sentState(t *testing.T) control.Message {
	t.Helper()
	msgs := b.tr.sentOf(b.n2, relay.TypeMessage)
	if len(msgs) == 0 {
		t.Fatal("no state sent to n2")
	}
	m, err := control.Decode(msgs[len(msgs)-1].Payload)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (b *linkBed) setLink(imp linkemu.Params) {
	b.tr.mu.Lock()
	b.tr.links = []relay.LinkStats{{Peer: b.n2, Impairment: imp}}
	b.tr.mu.Unlock()
}

// TestLinkHoldsWhatDoesNotFit: on a link configured at 700 kbit/s, n2's
// want of f becomes h at once, n2 is told f is held, and the snapshot
// shows the estimate and what is held; when the limit goes, f goes again.
func TestLinkHoldsWhatDoesNotFit(t *testing.T) {
	b := newLinkBed(t)
	b.kicked()
	b.feed()
	if got := b.relayed(); !slices.Equal(got, []int{2}) {
		t.Fatalf("with no limit n2 got layers %v, want its f", got)
	}

	b.setLink(linkemu.Params{RateBitsPerSec: 700_000})
	b.tr.clear()
	b.p.updateLinks(time.Now())
	if !b.kicked() {
		t.Error("holding f back did not ask for a state to n2")
	}
	b.feed()
	if got := b.relayed(); !slices.Equal(got, []int{1}) {
		t.Errorf("on a 700 kbit/s link n2 got layers %v, want h in place of f", got)
	}
	if got := b.peer(b.n2).heldBytes.Load(); got != packetSize {
		t.Errorf("held bytes %d, want the one f packet (%d)", got, packetSize)
	}

	b.p.sendState(testConf, []*peer{b.peer(b.n2)})
	m := b.sentState(t)
	ls := m.Participants[0].Tracks[0].Layers
	if !ls[1].Active || ls[1].Held || ls[2].Active || !ls[2].Held {
		t.Errorf("state to n2 says layers %+v: want h active, f held and not active", ls)
	}
	// Another peer with room hears f is active: the held copy is n2's alone.
	n3 := b.addPeer("n3", "us")
	b.state(n3, stateMsg([]control.Participant{participant("n3-p1")}))
	b.p.sendState(testConf, []*peer{b.peer(b.n2), b.peer(n3)})
	msgs := b.tr.sentOf(n3, relay.TypeMessage)
	m3, err := control.Decode(msgs[len(msgs)-1].Payload)
	if err != nil {
		t.Fatal(err)
	}
	if l := m3.Participants[0].Tracks[0].Layers[2]; !l.Active || l.Held {
		t.Errorf("state to n3 says f is %+v", l)
	}

	_, peers := b.p.Snapshot()
	for _, sp := range peers {
		if sp.ID != "n2" {
			continue
		}
		if sp.CapacityBps != 700_000 || sp.CapacityState != linkrate.Configured.String() ||
			!slices.Equal(sp.Held, []string{alice + " camera f"}) || sp.HeldBytes == 0 {
			t.Errorf("snapshot of n2: capacity %d (%s), held %v (%d bytes)", sp.CapacityBps, sp.CapacityState, sp.Held, sp.HeldBytes)
		}
	}

	// The limit goes: so does the hold.
	b.setLink(linkemu.Params{})
	b.tr.clear()
	b.p.updateLinks(time.Now())
	b.feed()
	if got := b.relayed(); !slices.Equal(got, []int{2}) {
		t.Errorf("limit lifted: n2 got layers %v, want f", got)
	}
}

// TestRemoteLinkHeld: the receiving side of a held layer. A layer its node
// holds back is not active here, whatever its publisher sends, and the
// reason is there to report.
func TestRemoteLinkHeld(t *testing.T) {
	b := newTestbed(t)
	n2 := b.addPeer("n2", "us")
	vt := videoTrack()
	vt.Layers[2].Active, vt.Layers[2].Held = false, true
	b.state(n2, stateMsg([]control.Participant{participant("n2-p1", vt, audioTrack())}))
	r := b.p.remote(testConf, "n2-p1")
	if r == nil {
		t.Fatal("n2-p1 not admitted")
	}
	if got := r.LinkHeld(media.SourceCamera); got != media.LayerSet(1<<2) {
		t.Errorf("LinkHeld(camera) = %03b, want f", got)
	}
	var up *media.UpTrack
	for _, u := range r.UpTracks() {
		if u.Kind() == media.KindVideo {
			up = u
		}
	}
	for _, l := range up.Layers() {
		if want := l.Index < 2; l.Active != want {
			t.Errorf("layer %s active %v, want %v", l.RID, l.Active, want)
		}
	}
	// The hold lifted, the layer is back.
	b.state(n2, stateMsg([]control.Participant{participant("n2-p1", videoTrack(), audioTrack())}))
	if got := r.LinkHeld(media.SourceCamera); got != 0 {
		t.Errorf("LinkHeld(camera) = %03b after the hold was lifted", got)
	}
	if ls := up.Layers(); !ls[2].Active {
		t.Errorf("f not active after the hold was lifted")
	}
}

// TestLinkSample: cumulative link figures become one tick's deltas; a
// report that went backwards (the peer restarted) gives no loss figure.
func TestLinkSample(t *testing.T) {
	at := time.Unix(100, 0)
	l := relay.LinkStats{RTT: 40 * time.Millisecond, OneWay: 5 * time.Millisecond,
		Impairment: linkemu.Params{RateBitsPerSec: 1_000_000}, FarAt: at,
		Far: relay.Report{Top: 1100, Count: 1090, Bytes: 1_000_000, At: 2 * time.Second}}
	l.Out[0] = relay.Counter{Packets: 500, Bytes: 600_000}
	l.Out[3] = relay.Counter{Packets: 10, Bytes: 1_000}
	prev := linkCounters{sent: 500_000, sentPkts: 410, nacked: 3, farAt: at.Add(-250 * time.Millisecond),
		far: relay.Report{Top: 1000, Count: 995, Bytes: 900_000, At: 1750 * time.Millisecond}}
	s, cur := linkSample(l, prev, 7, at)
	want := linkrate.Sample{At: at, Configured: 1_000_000, Sent: 101_000, SentPackets: 100, Expected: 100, Received: 95,
		Delivered: 100_000, DeliveredFor: 250 * time.Millisecond, OneWay: 5 * time.Millisecond, HasOneWay: true,
		RTT: 40 * time.Millisecond, NACKed: 4}
	if s != want {
		t.Errorf("sample\n%+v, want\n%+v", s, want)
	}
	// The same report again: no new figures.
	if s, _ := linkSample(l, cur, 7, at); s.Expected != 0 || s.HasOneWay {
		t.Errorf("a report counted twice: %+v", s)
	}
	// After an outage: the loss across it is not the link's.
	gap := prev
	gap.far.At = l.Far.At - 3*time.Second
	if s, _ := linkSample(l, gap, 7, at); s.Expected != 0 || s.Delivered != 0 || !s.HasOneWay {
		t.Errorf("a report after a 3 s gap: %+v", s)
	}
	// The peer restarted its counting.
	prev.far.Count = 5000
	if s, _ := linkSample(l, prev, 7, at); s.Expected != 0 || s.Delivered != 0 || !s.HasOneWay {
		t.Errorf("a report that went backwards: %+v", s)
	}
}

// TestOutboundWriteRTPFittedAllocs: relaying through a fitted link does
// not allocate.
func TestOutboundWriteRTPFittedAllocs(t *testing.T) {
	b := newLinkBed(t)
	b.setLink(linkemu.Params{RateBitsPerSec: 700_000})
	b.p.updateLinks(time.Now())
	o := b.p.outbound(testConf, alice, media.SourceCamera)
	pkt := rtpPacket(1, 1)
	// The fake transport copies what it is sent: only packets that are not
	// sent, held (f) or not wanted (q), are measured here.
	p2 := &media.Packet{Header: &pkt.Header, Payload: pkt.Payload, Layer: 2}
	if n := testing.AllocsPerRun(200, func() { o.WriteRTP(p2) }); n != 0 {
		t.Errorf("a held packet costs %v allocations", n)
	}
	p0 := &media.Packet{Header: &pkt.Header, Payload: pkt.Payload, Layer: 0}
	if n := testing.AllocsPerRun(200, func() { o.WriteRTP(p0) }); n != 0 {
		t.Errorf("a skipped packet costs %v allocations", n)
	}
}
