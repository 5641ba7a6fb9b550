package peering

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/switchyard/switchyard/cascade/control"
	"github.com/switchyard/switchyard/cascade/membership"
	"github.com/switchyard/switchyard/cascade/relay"
	"github.com/switchyard/switchyard/media"
)

// peersBed has two peers in the conference: n2 with n2-p11 (audio and
// video) and n2-p12 (video), n3 with n3-p31 (audio).
type peersBed struct {
	*testbed
	n2, n3 relay.NodeID
	kinds  map[*media.UpTrack]string // "id/kind" of every published track
}

func n2State() *control.Message {
	return stateMsg([]control.Participant{
		participant("n2-p11", audioTrack(), videoTrack()),
		participant("n2-p12", videoTrack()),
	})
}

func newPeersBed(t *testing.T) *peersBed {
	t.Helper()
	b := &peersBed{testbed: newTestbed(t), kinds: map[*media.UpTrack]string{}}
	b.n2 = b.addPeer("n2", "us")
	b.n3 = b.addPeer("n3", "ap")
	b.state(b.n2, n2State())
	b.state(b.n3, stateMsg([]control.Participant{participant("n3-p31", audioTrack())}))
	if got, want := b.host.ids("join"), []string{"n2-p11", "n2-p12", "n3-p31"}; !slices.Equal(got, want) {
		t.Fatalf("joined %v, want %v", got, want)
	}
	for _, c := range b.host.ops("published") {
		b.kinds[c.up] = c.id + "/" + c.up.Kind().String()
	}
	if got, want := b.published(b.host.ops("published")), []string{"n2-p11/audio", "n2-p11/video", "n2-p12/video", "n3-p31/audio"}; !slices.Equal(got, want) {
		t.Fatalf("published %v, want %v", got, want)
	}
	// Each Remote holds the tracks the host was told of.
	r := b.p.remote(testConf, "n2-p11")
	if r == nil || len(r.UpTracks()) != 2 || r.Origin() != "n2" || r.RTTMs() != 12 {
		t.Fatalf("remote n2-p11 = %+v", r)
	}
	b.host.clear()
	return b
}

// published names the tracks of published/unpublished calls, sorted.
func (b *peersBed) published(calls []hostCall) []string {
	var out []string
	for _, c := range calls {
		name, ok := b.kinds[c.up]
		if !ok {
			name = fmt.Sprintf("%s/unknown track %p", c.id, c.up)
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func (b *peersBed) setHeard(id relay.NodeID, at time.Time) {
	b.p.mu.Lock()
	defer b.p.mu.Unlock()
	b.p.peers[id].confs[testConf].heard = at
}

// TestPeerGoneMembersLeave: whatever way a peer's participants stop being
// vouched for (the node dies or leaves, its state goes stale, its state no
// longer lists them), they leave the conference here, and only they.
func TestPeerGoneMembersLeave(t *testing.T) {
	cases := []struct {
		name        string
		do          func(b *peersBed)
		leaves      []string // sorted
		unpublished []string // sorted "id/kind"
		removed     bool     // n2's relay link removed
	}{
		{name: "forget", do: func(b *peersBed) { b.p.forget(b.n2) },
			leaves: []string{"n2-p11", "n2-p12"}, removed: true},
		{name: "membership: failed", do: func(b *peersBed) {
			b.p.onMember(membership.Event{Kind: membership.Failed, Member: membership.Member{Name: "n2"}})
		}, leaves: []string{"n2-p11", "n2-p12"}, removed: true},
		{name: "membership: left", do: func(b *peersBed) {
			b.p.onMember(membership.Event{Kind: membership.Left, Member: membership.Member{Name: "n2"}})
		}, leaves: []string{"n2-p11", "n2-p12"}, removed: true},
		{name: "membership: self is ignored", do: func(b *peersBed) {
			b.p.onMember(membership.Event{Kind: membership.Failed, Member: membership.Member{Name: "n1"}})
		}},
		{name: "forget an unknown node", do: func(b *peersBed) { b.p.forget(relay.NodeIDFromName("n9")) }},
		{name: "expire: not yet stale", do: func(b *peersBed) { b.p.expire(time.Now().Add(stateStale / 2)) }},
		{name: "expire: stale", do: func(b *peersBed) {
			b.setHeard(b.n3, time.Now().Add(time.Hour)) // n3 keeps talking
			b.p.expire(time.Now().Add(stateStale + time.Second))
		}, leaves: []string{"n2-p11", "n2-p12"}},
		{name: "expire: old state refreshed", do: func(b *peersBed) {
			b.setHeard(b.n2, time.Now().Add(-2*stateStale))
			b.state(b.n2, n2State())
			b.p.expire(time.Now())
		}},
		{name: "expire: old state not refreshed", do: func(b *peersBed) {
			b.setHeard(b.n2, time.Now().Add(-2*stateStale))
			b.p.expire(time.Now())
		}, leaves: []string{"n2-p11", "n2-p12"}},
		{name: "state omits one", do: func(b *peersBed) {
			b.state(b.n2, stateMsg([]control.Participant{participant("n2-p11", audioTrack(), videoTrack())}))
		}, leaves: []string{"n2-p12"}},
		{name: "empty state", do: func(b *peersBed) { b.state(b.n2, stateMsg(nil)) },
			leaves: []string{"n2-p11", "n2-p12"}},
		{name: "video track ends", do: func(b *peersBed) {
			b.state(b.n2, stateMsg([]control.Participant{participant("n2-p11", audioTrack()), participant("n2-p12", videoTrack())}))
		}, unpublished: []string{"n2-p11/video"}},
		{name: "all tracks end", do: func(b *peersBed) {
			b.state(b.n2, stateMsg([]control.Participant{participant("n2-p11"), participant("n2-p12")}))
		}, unpublished: []string{"n2-p11/audio", "n2-p11/video", "n2-p12/video"}},
		{name: "same state again", do: func(b *peersBed) { b.state(b.n2, n2State()) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newPeersBed(t)
			tc.do(b)
			leaves := b.host.ids("leave")
			slices.Sort(leaves)
			if !slices.Equal(leaves, tc.leaves) {
				t.Errorf("left %v, want %v", leaves, tc.leaves)
			}
			for _, id := range leaves {
				if b.p.remote(testConf, id) != nil {
					t.Errorf("%s left but is still a remote", id)
				}
			}
			for _, id := range []string{"n2-p11", "n2-p12", "n3-p31"} {
				if !slices.Contains(leaves, id) && b.p.remote(testConf, id) == nil {
					t.Errorf("%s is gone without leaving", id)
				}
			}
			if got := b.published(b.host.ops("unpublished")); !slices.Equal(got, tc.unpublished) {
				t.Errorf("unpublished %v, want %v", got, tc.unpublished)
			}
			if got := b.host.ids("join"); len(got) != 0 {
				t.Errorf("joined again: %v", got)
			}
			if got := b.host.ids("published"); len(got) != 0 {
				t.Errorf("published again: %v", got)
			}
			if removed := slices.Contains(b.tr.removed, b.n2); removed != tc.removed {
				t.Errorf("n2's link removed = %v, want %v", removed, tc.removed)
			}
		})
	}
}

// TestTrackComesBack: a track that ended and starts again is a new
// UpTrack, published again.
func TestTrackComesBack(t *testing.T) {
	b := newPeersBed(t)
	old := b.p.remote(testConf, "n2-p12").tracks[media.SourceCamera.Index()].Load()
	b.state(b.n2, stateMsg([]control.Participant{participant("n2-p11", audioTrack(), videoTrack()), participant("n2-p12")}))
	b.state(b.n2, n2State())
	un, pub := b.host.ops("unpublished"), b.host.ops("published")
	if len(un) != 1 || un[0].up != old || len(pub) != 1 || pub[0].id != "n2-p12" || pub[0].up == old {
		t.Fatalf("unpublished %+v, published %+v", un, pub)
	}
}

// TestForgedIDsDropped: a peer speaks only for its own participants.
func TestForgedIDsDropped(t *testing.T) {
	foreign := dropNames[dropForeignID]
	cases := []struct {
		name  string
		id    string
		taken bool // a local participant has the id
		join  bool
	}{
		{name: "own participant", id: "n2-p11", join: true},
		{name: "another node's", id: "n3-p32"},
		{name: "this node's", id: "n1-alice"},
		{name: "a name that merely starts the same", id: "n22-p1"},
		{name: "the node's name alone", id: "n2"},
		{name: "no prefix", id: "alice"},
		{name: "not a participant number", id: "n2-admin"},
		{name: "another node whose name starts the same", id: "n2-x-p1"},
		{name: "taken by a local participant", id: "n2-p11", taken: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestbed(t)
			n2 := b.addPeer("n2", "us")
			if tc.taken {
				b.host.taken[tc.id] = true
			}
			b.state(n2, stateMsg([]control.Participant{participant(tc.id, videoTrack())}))
			joined := b.host.ids("join")
			if tc.join != (len(joined) == 1) || b.p.remote(testConf, tc.id) != nil != tc.join {
				t.Fatalf("joined %v, remote %v; want join %v", joined, b.p.remote(testConf, tc.id), tc.join)
			}
			if !tc.join && len(b.host.ops("published")) != 0 {
				t.Fatal("a refused participant's track was published")
			}
			want := uint64(1)
			if tc.join {
				want = 0
			}
			if got := b.drops()[foreign]; got != want {
				t.Fatalf("%q drops = %d, want %d", foreign, got, want)
			}
		})
	}
}

// TestIDOfAnotherPeerDropped: an id one peer's participant holds here is
// refused to any other peer. (Peer names with a dash make this reachable:
// "n2" may announce "n2-x-p1", which is also "n2-x"'s prefix.)
func TestIDOfAnotherPeerDropped(t *testing.T) {
	b := newTestbed(t)
	n2x := b.addPeer("n2-x", "us")
	n2 := b.addPeer("n2", "us")
	b.state(n2x, stateMsg([]control.Participant{participant("n2-x-p1")}))
	b.state(n2, stateMsg([]control.Participant{participant("n2-x-p1", videoTrack())}))
	if got := b.host.ids("join"); !slices.Equal(got, []string{"n2-x-p1"}) {
		t.Fatalf("joined %v", got)
	}
	if r := b.p.remote(testConf, "n2-x-p1"); r == nil || r.from != n2x || len(r.UpTracks()) != 0 {
		t.Fatalf("n2-x-p1 is %+v, want n2-x's without tracks", r)
	}
	if got := b.drops()[dropNames[dropForeignID]]; got != 1 {
		t.Fatalf("foreign id drops = %d, want 1", got)
	}
	// n2's later empty state does not take n2-x's participant away.
	b.state(n2, stateMsg(nil))
	if got := b.host.ids("leave"); len(got) != 0 {
		t.Fatalf("left: %v", got)
	}
}

// TestRelayedRTPOnlyFromOwner: media for a relayed participant is taken
// only from the node that announced it.
func TestRelayedRTPOnlyFromOwner(t *testing.T) {
	cases := []struct {
		name     string
		from     string
		conf     string
		endpoint string
		tag      relay.Layer
		payload  []byte
		fed      bool
		drop     string // the counter expected to be 1; "" none
	}{
		{name: "from its node", from: "n2", conf: testConf, endpoint: "n2-p11", tag: 1, fed: true},
		{name: "from another peer", from: "n3", conf: testConf, endpoint: "n2-p11", tag: 1, drop: dropNames[dropEndpoint]},
		{name: "from an unknown node", from: "n9", conf: testConf, endpoint: "n2-p11", tag: 1, drop: dropNames[dropEndpoint]},
		{name: "other conference", from: "n2", conf: "other", endpoint: "n2-p11", tag: 1, drop: dropNames[dropEndpoint]},
		{name: "unannounced endpoint", from: "n2", conf: testConf, endpoint: "n2-p18", tag: 1, drop: dropNames[dropEndpoint]},
		{name: "not RTP", from: "n2", conf: testConf, endpoint: "n2-p11", tag: 1, payload: []byte{0x80}, drop: dropNames[dropRTP]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newPeersBed(t)
			sink := &recordSink{}
			b.p.remote(testConf, "n2-p11").tracks[media.SourceCamera.Index()].Load().AddSink(sink)
			payload := tc.payload
			if payload == nil {
				payload = marshalRTP(t, rtpPacket(77, 5))
			}
			b.p.onRelay(relay.NodeIDFromName(tc.from), &relay.Packet{Type: relay.TypeRTP, Layer: tc.tag,
				Conference: tc.conf, Endpoint: tc.endpoint, Payload: payload})
			if got := sink.got(); tc.fed != slices.Equal(got, []uint16{77}) || !tc.fed && len(got) != 0 {
				t.Fatalf("track got %v, fed %v", got, tc.fed)
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

// TestEndpointMessageOnlyFromOwner: an endpoint message is delivered only
// when it comes from the node of the participant it claims to be from.
func TestEndpointMessageOnlyFromOwner(t *testing.T) {
	cases := []struct {
		name      string
		from      string
		sender    string
		delivered bool
		dropped   bool
	}{
		{name: "from its node", from: "n2", sender: "n2-p11", delivered: true},
		{name: "unknown remote", from: "n2", sender: "n2-p18", dropped: true},
		{name: "another node's participant", from: "n3", sender: "n2-p11", dropped: true},
		{name: "local participant's id", from: "n2", sender: "n1-alice", dropped: true},
		{name: "from an unknown node", from: "n9", sender: "n2-p11"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newPeersBed(t)
			b.p.onControl(relay.NodeIDFromName(tc.from), testConf, &control.Message{Type: control.TypeEndpoint,
				From: tc.sender, To: "n1-alice", Payload: []byte(`{"hi":1}`)})
			got := b.host.ops("deliver")
			if tc.delivered != (len(got) == 1) {
				t.Fatalf("delivered %+v, want delivered %v", got, tc.delivered)
			}
			if tc.delivered && (got[0].id != tc.sender || got[0].to != "n1-alice" || got[0].payload != `{"hi":1}`) {
				t.Fatalf("delivered %+v", got[0])
			}
			want := uint64(0)
			if tc.dropped {
				want = 1
			}
			if n := b.drops()[dropNames[dropEndpoint]]; n != want {
				t.Fatalf("unknown endpoint drops = %d, want %d", n, want)
			}
		})
	}
}

// TestSetWantsResetsChangedLayers drives SetWants through a series of
// wants, with every repair tracker of a relayed participant holding a gap
// before each step: only a change resets, and only the video layers whose
// wanted state changed; only a change tells the peers (Changed).
func TestSetWantsResetsChangedLayers(t *testing.T) {
	const pub = "n2-p11"
	video := func(ls media.LayerSet) control.Want {
		return control.Want{Publisher: pub, Kind: media.KindVideo, Layers: ls}
	}
	audio := control.Want{Publisher: pub, Kind: media.KindAudio, Layers: 1}
	q, h, f := media.LayerSet(1), media.LayerSet(2), media.LayerSet(4)
	steps := []struct {
		name  string
		wants []control.Want
		reset []relay.Layer // tags whose gaps are forgotten
		kick  bool
	}{
		{name: "same wants", wants: []control.Want{video(q | h)}},
		{name: "same, with an empty want and another order",
			wants: []control.Want{{Publisher: "n2-p12", Kind: media.KindVideo}, video(q | h)}},
		{name: "audio added", wants: []control.Want{audio, video(q | h)}, kick: true},
		{name: "h off, f on", wants: []control.Want{video(q | f), audio}, reset: []relay.Layer{2, 3}, kick: true},
		{name: "again", wants: []control.Want{video(q | f), audio}},
		{name: "another publisher's want", wants: []control.Want{video(q | f), audio,
			{Publisher: "n2-p12", Kind: media.KindVideo, Layers: h}}, kick: true},
		{name: "nothing wanted", wants: nil, reset: []relay.Layer{1, 3}, kick: true},
		{name: "nothing again", wants: []control.Want{}},
		{name: "all", wants: []control.Want{video(media.AllLayers)}, reset: []relay.Layer{1, 2, 3}, kick: true},
	}

	b := newPeersBed(t)
	n2a := b.p.remote(testConf, pub)
	b.p.SetWants(testConf, []control.Want{video(q | h)})
	pending := func(tag relay.Layer) int {
		n2a.repMu.Lock()
		defer n2a.repMu.Unlock()
		return n2a.trackers[tag].Pending()
	}
	next := map[relay.Layer]uint16{}
	// fill gives every layer's tracker two missing sequence numbers, as a
	// link that lost two packets would, unless it has them already.
	fill := func() {
		for tag := relay.Layer(1); tag <= tagAudio; tag++ {
			if pending(tag) > 0 {
				continue
			}
			s := next[tag]
			for _, seq := range []uint16{s, s + 1, s + 4} {
				b.p.onRelay(b.n2, &relay.Packet{Type: relay.TypeRTP, Layer: tag, Conference: testConf, Endpoint: pub,
					Payload: marshalRTP(t, rtpPacket(seq, 9))})
			}
			next[tag] = s + 1000
			if pending(tag) != 2 {
				t.Fatalf("tag %d: %d pending after a gap of 2", tag, pending(tag))
			}
		}
	}
	for _, st := range steps {
		fill()
		b.kicked()
		b.p.SetWants(testConf, st.wants)
		for tag := relay.Layer(1); tag <= tagAudio; tag++ {
			want := 2
			if slices.Contains(st.reset, tag) {
				want = 0
			}
			if got := pending(tag); got != want {
				t.Errorf("%s: tag %d has %d pending, want %d", st.name, tag, got, want)
			}
		}
		if got := b.kicked(); got != st.kick {
			t.Errorf("%s: Changed = %v, want %v", st.name, got, st.kick)
		}
	}
	// What SetWants keeps is what the peers are told.
	m, ok := b.p.stateOf(testConf)
	if !ok || !slices.Equal(m.Wants, []control.Want{video(media.AllLayers)}) {
		t.Fatalf("state wants %+v", m)
	}
}

// TestStateOf: this node's state carries the host's participants and the
// wants last set, and a conference not hosted here has none.
func TestStateOf(t *testing.T) {
	b := newTestbed(t)
	b.host.local[testConf] = []control.Participant{participant("n1-alice", videoTrack())}
	w := []control.Want{{Publisher: "n2-p11", Kind: media.KindVideo, Layers: 3}}
	b.p.SetWants(testConf, w)
	m, ok := b.p.stateOf(testConf)
	if !ok || m.Type != control.TypeState || len(m.Participants) != 1 || m.Participants[0].ID != "n1-alice" || !slices.Equal(m.Wants, w) {
		t.Fatalf("stateOf = %+v, %v", m, ok)
	}
	if _, ok := b.p.stateOf("elsewhere"); ok {
		t.Fatal("state for a conference not hosted here")
	}
	// A peer that starts hosting the conference hears this node's state at once.
	n2 := b.addPeer("n2", "us")
	b.state(n2, stateMsg([]control.Participant{participant("n2-p11")}))
	sent := b.tr.sentOf(n2, relay.TypeMessage)
	if len(sent) != 1 {
		t.Fatalf("%d messages to a new host, want 1", len(sent))
	}
	got, err := control.Decode(sent[0].Payload)
	if err != nil || len(got.Participants) != 1 || !slices.Equal(got.Wants, w) {
		t.Fatalf("state sent %+v, %v", got, err)
	}
	b.state(n2, stateMsg([]control.Participant{participant("n2-p11")}))
	if sent := b.tr.sentOf(n2, relay.TypeMessage); len(sent) != 1 {
		t.Fatalf("%d messages after a repeated state, want still 1", len(sent))
	}
}
