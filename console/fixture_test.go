package console

import (
	"time"

	"github.com/switchyard/switchyard/node/snapshot"
)

var fixtureBase = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

func layers(q, h, f int64) []snapshot.Layer {
	mk := func(rid string, br int64, w, hgt int) snapshot.Layer {
		return snapshot.Layer{RID: rid, Active: br > 0, Bitrate: br, Width: w, Height: hgt}
	}
	// Listed f first on purpose: the console must show them in q/h/f order.
	return []snapshot.Layer{mk("f", f, 1280, 720), mk("q", q, 320, 180), mk("h", h, 640, 360)}
}

// fixtureAt is a rich, deterministic snapshot taken step seconds after
// fixtureBase; a few values move with step so that sparklines have shape.
func fixtureAt(step int) snapshot.Snapshot {
	taken := fixtureBase.Add(time.Duration(step) * time.Second)
	wave := int64((step * 7) % 10) // 0..9, repeating
	alice := snapshot.Participant{
		ID: "p-alice", Name: "alice", Region: "eu-west", Node: "n1", Joined: fixtureBase.Add(-5 * time.Minute),
		State: "connected", RTTMs: 42, LossUpPct: 0.4, LossDownPct: float64(step%5) * 0.5, JitterMs: 3,
		BitrateUp: 1_400_000 + wave*20_000, BitrateDown: 900_000 + wave*100_000, EstimateBps: 2_500_000,
		NACKsIn: 412, Retransmits: 380, RetransmitsRefused: 32,
		Speaking: true, AudioLevel: 0.62, Audio: true, Layers: layers(150_000, 480_000, 1_200_000),
		Subs: []snapshot.Subscription{
			{Publisher: "p-bob", PublisherName: "bob", Kind: "video", Forwarded: "h", Target: "f", Reason: snapshot.ReasonBandwidth, MaxHeight: 720, Bitrate: 470_000, FPS: 24, LayerFPS: 30, Freezes: 2, FreezeMs: 1450},
			{Publisher: "p-bob", PublisherName: "bob", Kind: "audio", Reason: snapshot.ReasonAudio, Bitrate: 32_000, Forwarded: "", Target: ""},
			{Publisher: "p-carol", PublisherName: "carol", Kind: "video", Forwarded: "", Target: "q", Reason: snapshot.ReasonKeyframe, MaxHeight: 360},
			{Publisher: "p-dave", PublisherName: "dave", Kind: "video", Forwarded: "q", Target: "q", Reason: snapshot.ReasonConstraint, MaxHeight: 180, Bitrate: 140_000, FPS: 15, LayerFPS: 15},
		},
		E2E: []snapshot.E2E{
			{Peer: "p-bob", PeerName: "bob", MeasuredMs: 131, ComputedMs: 137, ClientMs: 42, PeerMs: 95, Path: "n1"},
			{Peer: "p-carol", PeerName: "carol", MeasuredMs: 0, ComputedMs: 312, ClientMs: 42, RelayMs: 228, PeerMs: 42, Path: "n1→n2"},
			{Peer: "p-dave", PeerName: "dave", MeasuredMs: 64, ComputedMs: 60, ClientMs: 42, PeerMs: 18, Path: "n1"},
		},
	}
	bob := snapshot.Participant{
		ID: "p-bob", Name: "bob", Region: "us-east", Node: "n1", Joined: fixtureBase.Add(-4 * time.Minute),
		State: "connected", RTTMs: 95, LossUpPct: 6.2, LossDownPct: 1.5, JitterMs: 12,
		BitrateUp: 700_000, BitrateDown: 1_900_000, EstimateBps: 1_100_000, Audio: true, AudioLevel: 0.1,
		Layers: layers(140_000, 520_000, 0),
		Subs: []snapshot.Subscription{
			{Publisher: "p-alice", PublisherName: "alice", Kind: "video", Forwarded: "f", Target: "f", Reason: snapshot.ReasonBest, Bitrate: 1_150_000},
		},
		E2E: []snapshot.E2E{
			{Peer: "p-alice", PeerName: "alice", MeasuredMs: 131, ComputedMs: 137, ClientMs: 95, PeerMs: 42, Path: "n1"},
			// bob's view of carol has a ping; alice's does not.
			{Peer: "p-carol", PeerName: "carol", MeasuredMs: 391, ComputedMs: 365, ClientMs: 95, RelayMs: 228, PeerMs: 42, Path: "n1→n2"},
		},
	}
	carol := snapshot.Participant{
		ID: "p-carol", Name: "carol", Region: "ap-south", Node: "n2", Remote: true, E2EE: true, Joined: fixtureBase.Add(-2 * time.Minute),
		State: "connected", RTTMs: 42, LossUpPct: 2.5, LossDownPct: 0, BitrateUp: 300_000, BitrateDown: 1_000_000,
		Audio: true, Layers: layers(130_000, 0, 0),
		// As n2 reports it; alice's own report of the pair is the one shown.
		E2E: []snapshot.E2E{{Peer: "p-alice", PeerName: "alice", ComputedMs: 312, ClientMs: 42, RelayMs: 228, PeerMs: 42, Path: "n2→n1"}},
	}
	dave := snapshot.Participant{
		ID: "p-dave", Name: "dave", Kind: "whip", Region: "eu-central", Node: "n1", Joined: fixtureBase.Add(-90 * time.Second),
		State: "connected", RTTMs: 18, BitrateUp: 180_000, BitrateDown: 600_000, Audio: true, AudioMuted: true,
		LayerCap: "h", Layers: layers(160_000, 0, 0),
		E2E: []snapshot.E2E{{Peer: "p-alice", PeerName: "alice", MeasuredMs: 64, ComputedMs: 60, ClientMs: 18, PeerMs: 42, Path: "n1"}},
	}
	erin := snapshot.Participant{
		ID: "p-erin", Name: "erin", Region: "eu-west", Node: "n1", Joined: fixtureBase.Add(-30 * time.Second),
		State: "checking", RTTMs: 0.4, Audio: true, BitrateUp: 40_000, BitrateDown: 38_000,
		Subs: []snapshot.Subscription{{Publisher: "p-frank", PublisherName: "frank", Kind: "audio", Reason: snapshot.ReasonAudio, Bitrate: 38_000}},
		E2E:  []snapshot.E2E{{Peer: "p-frank", PeerName: "frank", MeasuredMs: 9, ComputedMs: 6.4, ClientMs: 0.4, PeerMs: 6, Path: "n1"}},
	}
	frank := snapshot.Participant{
		ID: "p-frank", Name: "frank", Region: "eu-west", Node: "n1", Joined: fixtureBase.Add(-25 * time.Second),
		State: "connected", RTTMs: 6, Audio: true, Speaking: true, AudioLevel: 0.8, BitrateUp: 38_000, BitrateDown: 40_000,
		Subs: []snapshot.Subscription{{Publisher: "p-erin", PublisherName: "erin", Kind: "audio", Reason: snapshot.ReasonAudio, Bitrate: 40_000}},
		E2E:  []snapshot.E2E{{Peer: "p-erin", PeerName: "erin", MeasuredMs: 9, ComputedMs: 6.4, ClientMs: 6, PeerMs: 0.4, Path: "n1"}},
	}
	return snapshot.Snapshot{
		Taken: taken,
		Node: snapshot.Node{
			ID: "n1", Region: "eu-west", Started: fixtureBase.Add(-3725 * time.Second), UptimeSec: 3725 + float64(step),
			CPUPercent: 37.5, BitrateIn: 2_658_000, BitrateOut: 5_478_000, Conferences: 2, Participants: 6,
		},
		Conferences: []snapshot.Conference{
			// Listed out of order: the console sorts rooms by name.
			{Name: "standup", Created: fixtureBase.Add(-5 * time.Minute), Nodes: []string{"n1", "n2"}, DominantSpeaker: "p-alice",
				BitrateIn: 2_580_000, BitrateOut: 5_400_000, WorstLossPct: 6.2, Participants: []snapshot.Participant{dave, bob, alice, carol}},
			{Name: "lobby", Created: fixtureBase.Add(-30 * time.Second), Nodes: []string{"n1"}, DominantSpeaker: "p-frank",
				Recording: &snapshot.Recording{Dir: "recordings/lobby-x", Since: fixtureBase.Add(-20 * time.Second), By: "console", Files: 2},
				BitrateIn: 78_000, BitrateOut: 78_000, Participants: []snapshot.Participant{frank, erin}},
		},
	}
}

// withPeers makes s a node of a cascade of four: n2 carries standup, n3 is
// down and n4 is draining.
func withPeers(s snapshot.Snapshot) snapshot.Snapshot {
	s.Node.Cascade = &snapshot.Cascade{
		RelayAddr: "10.0.1.5:4096", GossipAddr: "10.0.1.5:7946", Redirects: 4,
		Drops: map[string]uint64{"bad tag": 3, "replayed": 17, "unknown conference": 0},
	}
	s.Node.Peers = []snapshot.Peer{
		// Listed out of order: the console sorts peers by id.
		{ID: "n4", Region: "eu-central", Addr: "10.0.4.2:4096", Alive: true, Draining: true, Participants: 1, Stress: 0.05},
		{ID: "n2", Region: "ap-south", Addr: "10.0.2.7:4096", SignalURL: "ws://10.0.2.7:8080/ws", Alive: true,
			Participants: 3, Stress: 0.42, RTTMs: 228, LossPct: 0.3, BitrateIn: 1_300_000, BitrateOut: 2_400_000,
			Conferences: []string{"standup"},
			BytesOut:    map[string]uint64{"q": 41_000_000, "h": 96_000_000, "audio": 6_200_000, "rtcp": 300_000, "message": 12_000},
			BytesIn:     map[string]uint64{"q": 12_000_000, "audio": 2_100_000, "rtcp": 150_000},
			// Octo would have sent f too: 210 MB of the 347 MB it would have sent.
			SkippedBytes: 210_000_000,
			NACKsSent:    412, NACKsAnswer: 388, Repaired: 405,
			Emulated: "delay 110ms ±5ms, loss 0.5%"},
		{ID: "n3", Region: "us-east", Addr: "10.0.3.9:4096", Alive: false, Stress: 0.93, Conferences: nil},
	}
	return s
}
