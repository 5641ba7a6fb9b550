package peering

import (
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/switchyard/switchyard/cascade/control"
	"github.com/switchyard/switchyard/cascade/relay"
	"github.com/switchyard/switchyard/media"
)

// fuzzBed is a peering with one peer, n2, whose participant n2-p11
// publishes audio and video here, and one local published video track,
// alice's, with packets in its cache on every layer.
func fuzzBed(tb testing.TB) (*testbed, relay.NodeID) {
	b := newTestbed(tb)
	n2 := b.addPeer("n2", "us")
	b.state(n2, stateMsg([]control.Participant{participant("n2-p11", audioTrack(), videoTrack())},
		control.Want{Publisher: alice, Kind: media.KindVideo, Layers: media.AllLayers}))
	up := localTrack(alice, media.KindVideo)
	b.p.Publish(testConf, alice, up, nil)
	now := time.Now()
	for layer := range media.MaxLayers {
		for seq := uint16(0); seq < 20; seq++ {
			up.Feed(layer, rtpPacket(seq, uint32(layer)), now)
		}
	}
	b.tr.clear()
	return b, n2
}

// FuzzRelayPacket hands onRelay arbitrary RTP and RTCP datagrams from a
// known peer, as the relay would once a datagram authenticates: nothing
// panics, and whatever is sent back goes only to that peer.
func FuzzRelayPacket(f *testing.F) {
	rtpOf := func(seq uint16, payload []byte) []byte {
		b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, SSRC: 5}, Payload: payload}).Marshal()
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	rtcpOf := func(pkts ...rtcp.Packet) []byte {
		b, err := rtcp.Marshal(pkts)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	nack := rtcpOf(&rtcp.TransportLayerNack{MediaSSRC: 1, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{1, 2, 5, 19, 400})})
	f.Add(uint8(relay.TypeRTP), uint8(1), testConf, "n2-p11", rtpOf(1, mediaPayload(1)))
	f.Add(uint8(relay.TypeRTP), uint8(3), testConf, "n2-p11", rtpOf(9, []byte{0x10, 0x00, 0x9d, 0x01, 0x2a}))
	f.Add(uint8(relay.TypeRTP), uint8(tagAudio), testConf, "n2-p11", rtpOf(2, []byte{0xfc, 0xff}))
	f.Add(uint8(relay.TypeRTP), uint8(1), testConf, "n2-p11", []byte{0x80, 0x60})
	f.Add(uint8(relay.TypeRTCP), uint8(2), testConf, alice, nack)
	f.Add(uint8(relay.TypeRTCP), uint8(1), testConf, alice, rtcpOf(&rtcp.ReceiverReport{SSRC: 1}, &rtcp.PictureLossIndication{MediaSSRC: 1}))
	f.Add(uint8(relay.TypeRTCP), uint8(tagAudio), testConf, alice, nack)
	f.Add(uint8(relay.TypeRTCP), uint8(0), "", "", []byte{})

	b, n2 := fuzzBed(f)
	f.Fuzz(func(t *testing.T, typ, tag uint8, conf, endpoint string, payload []byte) {
		// Odd types are RTP (1), even ones RTCP (2): the seeds keep their meaning.
		t2 := relay.TypeRTCP
		if typ%2 == 1 {
			t2 = relay.TypeRTP
		}
		b.p.onRelay(n2, &relay.Packet{Type: t2, Layer: relay.Layer(tag),
			Conference: conf, Endpoint: endpoint, Payload: payload})
		b.tr.mu.Lock()
		defer b.tr.mu.Unlock()
		for _, s := range b.tr.sent {
			if s.to != n2 || s.Type != relay.TypeRTP || s.Endpoint != alice {
				t.Fatalf("sent %v of %q to %v in answer", s.Type, s.Endpoint, s.to)
			}
		}
		b.tr.sent = b.tr.sent[:0]
	})
}

// FuzzApplyControl decodes two arbitrary control messages and hands the
// valid ones to onControl from peer n2, in order: nothing panics, and no
// participant joins or speaks here under an id that is not n2's.
func FuzzApplyControl(f *testing.F) {
	enc := func(m *control.Message) []byte {
		b, err := control.Encode(m)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	state := enc(stateMsg([]control.Participant{participant("n2-p11", audioTrack(), videoTrack()), participant("n2-p12")},
		control.Want{Publisher: alice, Kind: media.KindVideo, Layers: 5}))
	foreign := enc(stateMsg([]control.Participant{participant("n3-p31", videoTrack()), participant("n2-p13")}))
	keyframe := enc(&control.Message{Type: control.TypeKeyframe, Publisher: alice, Kind: media.KindVideo, Layer: 2})
	endpoint := enc(&control.Message{Type: control.TypeEndpoint, From: "n2-p11", To: alice, Payload: []byte(`{"x":[1,2]}`)})
	empty := enc(stateMsg(nil))
	f.Add(testConf, state, endpoint)
	f.Add(testConf, state, keyframe)
	f.Add(testConf, state, empty)
	f.Add(testConf, foreign, state)
	f.Add("other", state, endpoint)
	f.Add(testConf, []byte(`{"t":"state","participants":[{"id":"n2-p19","name":"","region":"","rtt_ms":0}]}`), []byte(`{}`))

	f.Fuzz(func(t *testing.T, conf string, first, second []byte) {
		b := newTestbed(t)
		n2 := b.addPeer("n2", "us")
		b.p.Publish(testConf, alice, localTrack(alice, media.KindVideo), nil)
		for _, raw := range [][]byte{first, second} {
			m, err := control.Decode(raw)
			if err != nil {
				continue
			}
			b.p.onControl(n2, conf, &m)
		}
		for _, c := range b.host.calls {
			if !strings.HasPrefix(c.id, "n2-") {
				t.Fatalf("%s of %q, not a participant of n2", c.op, c.id)
			}
		}
	})
}
