package peering

import (
	"bytes"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/switchyard/switchyard/cascade/control"
	"github.com/switchyard/switchyard/cascade/relay"
	"github.com/switchyard/switchyard/media"
)

const alice = "n1-alice" // a local publisher

// TestOutboundSendsWantedLayers publishes a local track, lets two peers
// say which of its layers they want, and feeds it one packet per layer:
// each peer gets exactly the layers it wants, and counts the others as
// skipped.
func TestOutboundSendsWantedLayers(t *testing.T) {
	all := media.AllLayers
	q, h, f := media.LayerSet(1), media.LayerSet(2), media.LayerSet(4)
	type wantOf map[string][]control.Want
	video := func(ls media.LayerSet) []control.Want {
		return []control.Want{{Publisher: alice, Kind: media.KindVideo, Layers: ls}}
	}
	audio := []control.Want{{Publisher: alice, Kind: media.KindAudio, Layers: 1}}
	cases := []struct {
		name         string
		kind         media.Kind
		muted        bool
		publishAfter bool // publish after the peers' states instead of before
		wants        wantOf
		feed         []int            // layers, one packet each
		sent         map[string][]int // layers each peer receives, in order
		skipped      map[string]int   // packets each peer counts as skipped; nil: not checked
	}{
		{name: "each peer its own layers", kind: media.KindVideo,
			wants: wantOf{"n2": video(q), "n3": video(h | f)}, feed: []int{0, 1, 2},
			sent: map[string][]int{"n2": {0}, "n3": {1, 2}}, skipped: map[string]int{"n2": 2, "n3": 1}},
		{name: "published after the states", kind: media.KindVideo, publishAfter: true,
			wants: wantOf{"n2": video(q), "n3": video(h | f)}, feed: []int{0, 1, 2},
			sent: map[string][]int{"n2": {0}, "n3": {1, 2}}, skipped: map[string]int{"n2": 2, "n3": 1}},
		{name: "a layer nobody wants goes to nobody", kind: media.KindVideo,
			wants: wantOf{"n2": video(q), "n3": video(q)}, feed: []int{0, 1, 2, 0},
			sent: map[string][]int{"n2": {0, 0}, "n3": {0, 0}}, skipped: map[string]int{"n2": 2, "n3": 2}},
		{name: "all layers", kind: media.KindVideo,
			wants: wantOf{"n2": video(all), "n3": nil}, feed: []int{2, 1, 0},
			sent: map[string][]int{"n2": {2, 1, 0}, "n3": nil}, skipped: map[string]int{"n2": 0, "n3": 3}},
		{name: "no wants: nothing goes", kind: media.KindVideo,
			wants: wantOf{"n2": nil, "n3": nil}, feed: []int{0, 1, 2},
			sent: map[string][]int{"n2": nil, "n3": nil}, skipped: map[string]int{"n2": 3, "n3": 3}},
		{name: "wants of another publisher do not count", kind: media.KindVideo,
			wants: wantOf{"n2": {{Publisher: "n1-bob", Kind: media.KindVideo, Layers: all}}, "n3": nil}, feed: []int{0, 1},
			sent: map[string][]int{"n2": nil, "n3": nil}, skipped: map[string]int{"n2": 2, "n3": 2}},
		{name: "audio wants do not send video", kind: media.KindVideo,
			wants: wantOf{"n2": audio, "n3": nil}, feed: []int{0},
			sent: map[string][]int{"n2": nil, "n3": nil}, skipped: map[string]int{"n2": 1, "n3": 1}},
		{name: "audio goes when wanted", kind: media.KindAudio,
			wants: wantOf{"n2": audio, "n3": nil}, feed: []int{0, 0, 0},
			sent: map[string][]int{"n2": {0, 0, 0}, "n3": nil}},
		{name: "audio to both", kind: media.KindAudio,
			wants: wantOf{"n2": audio, "n3": audio}, feed: []int{0, 0},
			sent: map[string][]int{"n2": {0, 0}, "n3": {0, 0}}},
		{name: "video wants do not send audio", kind: media.KindAudio,
			wants: wantOf{"n2": {{Publisher: alice, Kind: media.KindVideo, Layers: all}}, "n3": nil}, feed: []int{0},
			sent: map[string][]int{"n2": nil, "n3": nil}},
		{name: "muted audio never goes", kind: media.KindAudio, muted: true,
			wants: wantOf{"n2": audio, "n3": audio}, feed: []int{0, 0},
			sent: map[string][]int{"n2": nil, "n3": nil}, skipped: map[string]int{"n2": 0, "n3": 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestbed(t)
			up := localTrack(alice, tc.kind)
			publish := func() { b.p.Publish(testConf, alice, up, func() bool { return tc.muted }) }
			if !tc.publishAfter {
				publish()
			}
			ids := map[string]relay.NodeID{}
			for _, name := range []string{"n2", "n3"} {
				ids[name] = b.addPeer(name, "us")
				b.state(ids[name], stateMsg([]control.Participant{participant(name + "-p1")}, tc.wants[name]...))
			}
			if tc.publishAfter {
				publish()
			}
			seq := map[int]uint16{}
			for _, layer := range tc.feed {
				seq[layer]++
				up.Feed(layer, rtpPacket(uint16(layer)<<12|seq[layer], 0x1000+uint32(layer)), time.Now())
			}
			for name, id := range ids {
				got := b.tr.sentOf(id, relay.TypeRTP)
				var layers []int
				for _, s := range got {
					kind, layer, ok := trackOf(s.Layer)
					if !ok || kind.Kind() != tc.kind || s.Conference != testConf || s.Endpoint != alice {
						t.Fatalf("%s got packet tagged %d (%s) for %q/%q", name, s.Layer, kind, s.Conference, s.Endpoint)
					}
					var pkt rtp.Packet
					if err := pkt.Unmarshal(s.Payload); err != nil {
						t.Fatalf("%s got a relayed packet that is not RTP: %v", name, err)
					}
					if int(pkt.SequenceNumber>>12) != layer || !bytes.Equal(pkt.Payload, mediaPayload(pkt.SequenceNumber)) {
						t.Fatalf("%s got seq %#x with payload %x as layer %d", name, pkt.SequenceNumber, pkt.Payload, layer)
					}
					layers = append(layers, layer)
				}
				if !slices.Equal(layers, tc.sent[name]) {
					t.Errorf("%s received layers %v, want %v", name, layers, tc.sent[name])
				}
				if n, ok := tc.skipped[name]; ok {
					if got, want := b.peer(id).skipped.Load(), uint64(n)*packetSize; got != want {
						t.Errorf("%s skipped %d bytes, want %d (%d packets)", name, got, want, n)
					}
				}
			}
		})
	}
}

// TestOutboundWriteRTPBounds hands the Outbound packets of layers that do
// not exist: nothing is sent and nothing panics.
func TestOutboundWriteRTPBounds(t *testing.T) {
	b := newTestbed(t)
	up := localTrack(alice, media.KindVideo)
	b.p.Publish(testConf, alice, up, nil)
	n2 := b.addPeer("n2", "us")
	b.state(n2, stateMsg([]control.Participant{participant("n2-p1")},
		control.Want{Publisher: alice, Kind: media.KindVideo, Layers: media.AllLayers}))
	o := b.p.outbound(testConf, alice, media.SourceCamera)
	pkt := rtpPacket(1, 1)
	for _, layer := range []int{-1, media.MaxLayers, 1 << 20} {
		o.WriteRTP(&media.Packet{Header: &pkt.Header, Payload: pkt.Payload, Layer: layer})
	}
	// A payload that does not fit a datagram is not sent either.
	o.WriteRTP(&media.Packet{Header: &pkt.Header, Payload: make([]byte, 1600), Layer: 0})
	if got := b.tr.allOf(relay.TypeRTP); len(got) != 0 {
		t.Fatalf("sent %d packets for layers out of range or oversized", len(got))
	}
	o.WriteRTP(&media.Packet{Header: &pkt.Header, Payload: pkt.Payload, Layer: 0})
	if got := b.tr.allOf(relay.TypeRTP); len(got) != 1 {
		t.Fatalf("sent %d packets for one valid packet", len(got))
	}
}

// nackBed is a peering with a local video track whose layers 0 and 1
// have packets in the cache, and two peers hosting the conference that
// want all of it.
type nackBed struct {
	*testbed
	n2, n3 relay.NodeID
	up     *media.UpTrack
}

const (
	nackSSRC0 = 0x1000
	nackSSRC1 = 0x1111
)

func newNackBed(t *testing.T) *nackBed {
	b := &nackBed{testbed: newTestbed(t)}
	b.up = localTrack(alice, media.KindVideo)
	b.p.Publish(testConf, alice, b.up, nil)
	all := []control.Want{{Publisher: alice, Kind: media.KindVideo, Layers: media.AllLayers}}
	b.n2 = b.addPeer("n2", "us")
	b.n3 = b.addPeer("n3", "us")
	b.state(b.n2, stateMsg([]control.Participant{participant("n2-p1")}, all...))
	b.state(b.n3, stateMsg([]control.Participant{participant("n3-p1")}, all...))
	now := time.Now()
	for seq := uint16(100); seq < 110; seq++ {
		b.up.Feed(1, rtpPacket(seq, nackSSRC1), now)
	}
	for seq := uint16(500); seq < 510; seq++ {
		b.up.Feed(0, rtpPacket(seq, nackSSRC0), now)
	}
	b.tr.clear()
	return b
}

func marshalRTCP(t *testing.T, pkts ...rtcp.Packet) []byte {
	t.Helper()
	raw, err := rtcp.Marshal(pkts)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func nack(seqs ...uint16) *rtcp.TransportLayerNack {
	return &rtcp.TransportLayerNack{MediaSSRC: nackSSRC1, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}
}

// TestNACKResendsFromCache sends relay NACKs for a local track: the NACKed
// packets still in the track's cache go back to the peer that asked, and
// nowhere else; NACKs for what this node does not publish are dropped and
// counted.
func TestNACKResendsFromCache(t *testing.T) {
	video1 := tagOf(media.SourceCamera, 1)
	cases := []struct {
		name     string
		from     string // peer name; "n9" was never introduced
		tag      relay.Layer
		conf     string
		endpoint string
		payload  func(t *testing.T) []byte
		resent   []uint16
		ssrc     uint32
		drop     string // counter expected to be 1; every other stays 0
	}{
		{name: "two NACKed packets", from: "n2", tag: video1, conf: testConf, endpoint: alice,
			payload: func(t *testing.T) []byte { return marshalRTCP(t, nack(102, 105)) },
			resent:  []uint16{102, 105}, ssrc: nackSSRC1},
		{name: "a range in one pair", from: "n3", tag: video1, conf: testConf, endpoint: alice,
			payload: func(t *testing.T) []byte { return marshalRTCP(t, nack(103, 104, 105, 106, 107)) },
			resent:  []uint16{103, 104, 105, 106, 107}, ssrc: nackSSRC1},
		{name: "compound with a receiver report", from: "n2", tag: video1, conf: testConf, endpoint: alice,
			payload: func(t *testing.T) []byte {
				return marshalRTCP(t, &rtcp.ReceiverReport{SSRC: 9}, nack(109))
			},
			resent: []uint16{109}, ssrc: nackSSRC1},
		{name: "the layer's own cache", from: "n2", tag: tagOf(media.SourceCamera, 0), conf: testConf, endpoint: alice,
			payload: func(t *testing.T) []byte { return marshalRTCP(t, nack(102, 501)) },
			resent:  []uint16{501}, ssrc: nackSSRC0},
		{name: "no longer cached", from: "n2", tag: video1, conf: testConf, endpoint: alice,
			payload: func(t *testing.T) []byte { return marshalRTCP(t, nack(99, 300)) }},
		{name: "a layer never received", from: "n2", tag: tagOf(media.SourceCamera, 2), conf: testConf, endpoint: alice,
			payload: func(t *testing.T) []byte { return marshalRTCP(t, nack(102)) }},
		{name: "not a NACK", from: "n2", tag: video1, conf: testConf, endpoint: alice,
			payload: func(t *testing.T) []byte { return marshalRTCP(t, &rtcp.PictureLossIndication{MediaSSRC: nackSSRC1}) }},
		{name: "unknown peer", from: "n9", tag: video1, conf: testConf, endpoint: alice,
			payload: func(t *testing.T) []byte { return marshalRTCP(t, nack(102)) }},
		{name: "unknown endpoint", from: "n2", tag: video1, conf: testConf, endpoint: "n1-bob",
			payload: func(t *testing.T) []byte { return marshalRTCP(t, nack(102)) }, drop: dropNames[dropEndpoint]},
		{name: "unknown conference", from: "n2", tag: video1, conf: "other", endpoint: alice,
			payload: func(t *testing.T) []byte { return marshalRTCP(t, nack(102)) }, drop: dropNames[dropEndpoint]},
		{name: "kind not published", from: "n2", tag: tagAudio, conf: testConf, endpoint: alice,
			payload: func(t *testing.T) []byte { return marshalRTCP(t, nack(102)) }, drop: dropNames[dropEndpoint]},
		{name: "tag 0", from: "n2", tag: 0, conf: testConf, endpoint: alice,
			payload: func(t *testing.T) []byte { return marshalRTCP(t, nack(102)) }, drop: dropNames[dropEndpoint]},
		{name: "tag past audio", from: "n2", tag: tagAudio + 1, conf: testConf, endpoint: alice,
			payload: func(t *testing.T) []byte { return marshalRTCP(t, nack(102)) }, drop: dropNames[dropEndpoint]},
		{name: "not RTCP", from: "n2", tag: video1, conf: testConf, endpoint: alice,
			payload: func(*testing.T) []byte { return []byte("not rtcp at all") }, drop: dropNames[dropRTP]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newNackBed(t)
			from := relay.NodeIDFromName(tc.from)
			b.p.onRelay(from, &relay.Packet{Type: relay.TypeRTCP, Layer: tc.tag, Conference: tc.conf,
				Endpoint: tc.endpoint, Payload: tc.payload(t)})

			if all := b.tr.allOf(relay.TypeRTP); len(all) != len(tc.resent) {
				t.Fatalf("%d packets resent in all, want %d", len(all), len(tc.resent))
			}
			var seqs []uint16
			for _, s := range b.tr.sentOf(from, relay.TypeRTP) {
				var pkt rtp.Packet
				if err := pkt.Unmarshal(s.Payload); err != nil {
					t.Fatalf("resent packet is not RTP: %v", err)
				}
				if s.Layer != tc.tag || s.Conference != testConf || s.Endpoint != alice {
					t.Errorf("resent as tag %d of %q/%q", s.Layer, s.Conference, s.Endpoint)
				}
				if pkt.SSRC != tc.ssrc || pkt.PayloadType != 96 || pkt.Timestamp != 3000*uint32(pkt.SequenceNumber) ||
					!bytes.Equal(pkt.Payload, mediaPayload(pkt.SequenceNumber)) {
					t.Errorf("resent seq %d differs from the original: %+v payload %x", pkt.SequenceNumber, pkt.Header, pkt.Payload)
				}
				seqs = append(seqs, pkt.SequenceNumber)
			}
			if !slices.Equal(seqs, tc.resent) {
				t.Errorf("resent %v, want %v", seqs, tc.resent)
			}
			if pr := b.peer(from); pr != nil {
				if got := pr.nacksAnswered.Load(); got != uint64(len(tc.resent)) {
					t.Errorf("nacksAnswered = %d, want %d", got, len(tc.resent))
				}
			}
			drops := b.drops()
			for _, name := range dropNames {
				want := uint64(0)
				if name == tc.drop {
					want = 1
				}
				if drops[name] != want {
					t.Errorf("drop %q = %d, want %d", name, drops[name], want)
				}
			}
		})
	}
}

// TestNACKAfterUnpublish: once the publisher left, its cache answers no
// more NACKs.
func TestNACKAfterUnpublish(t *testing.T) {
	b := newNackBed(t)
	b.p.Unpublish(testConf, alice)
	b.p.onRelay(b.n2, &relay.Packet{Type: relay.TypeRTCP, Layer: tagOf(media.SourceCamera, 1), Conference: testConf,
		Endpoint: alice, Payload: marshalRTCP(t, nack(102))})
	if got := b.tr.allOf(relay.TypeRTP); len(got) != 0 {
		t.Fatalf("resent %d packets of an unpublished track", len(got))
	}
	if got := b.drops()[dropNames[dropEndpoint]]; got != 1 {
		t.Fatalf("unknown endpoint drops = %d, want 1", got)
	}
}

// TestKeyframeRequestAddsWant: a peer's keyframe request for a layer makes
// the layer go to it at once, ahead of its next state.
func TestKeyframeRequestAddsWant(t *testing.T) {
	b := newTestbed(t)
	var plis atomic.Int32
	up := media.NewUpTrack(media.UpTrackConfig{Publisher: alice, Kind: media.KindVideo,
		Codec:   localTrack(alice, media.KindVideo).Codec(),
		SendPLI: func(int, uint32) error { plis.Add(1); return nil }})
	// A local track learns its layers from Run; Advertise marks layer 2
	// present the same way, so that keyframe requests reach SendPLI.
	up.Advertise([]media.LayerInfo{{Index: 2, Active: true}})
	b.p.Publish(testConf, alice, up, nil)
	n2 := b.addPeer("n2", "us")
	b.state(n2, stateMsg([]control.Participant{participant("n2-p1")}))
	up.Feed(2, rtpPacket(1, 7), time.Now())
	if got := b.tr.sentOf(n2, relay.TypeRTP); len(got) != 0 {
		t.Fatalf("layer 2 sent before anyone asked")
	}
	b.state(n2, &control.Message{Type: control.TypeKeyframe, Publisher: alice, Kind: media.KindVideo, Layer: 2})
	up.Feed(2, rtpPacket(2, 7), time.Now())
	if got := b.tr.sentOf(n2, relay.TypeRTP); len(got) != 1 {
		t.Fatalf("after a keyframe request for layer 2, %d packets went, want 1", len(got))
	}
	if plis.Load() != 1 {
		t.Fatalf("publisher asked for %d keyframes, want 1", plis.Load())
	}
	// Keyframe requests for what is not published here are counted.
	b.state(n2, &control.Message{Type: control.TypeKeyframe, Publisher: "n1-bob", Kind: media.KindVideo})
	if got := b.drops()[dropNames[dropEndpoint]]; got != 1 {
		t.Fatalf("unknown endpoint drops = %d, want 1", got)
	}
}
