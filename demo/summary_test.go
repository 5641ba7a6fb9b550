package demo

import (
	"errors"
	"strings"
	"testing"
)

// got is what a participant received from one publisher.
func got(id, name string, height int) Received {
	return Received{From: id, FromName: name, VideoPackets: 500, AudioPackets: 400, Height: height, Layer: layerName(height)}
}

func person(name, id, node string, lossy bool, from ...Received) ParticipantSummary {
	return ParticipantSummary{Name: name, ID: id, Node: node, Via: node, Region: node, Lossy: lossy,
		JoinedSec: 1, LeftSec: 20, Present: true, Received: from}
}

// ana sits on the lossy link and saw the speaker 83% of the time.
func ana() ParticipantSummary {
	p := person("Ana", "p1", "us-east", true, got("p2", "Bruno", 180), got("p3", "Chen", 180))
	p.Speaker = SpeakerView{OnStageSec: 15, Switches: 3, WaitingSec: 2, FrozenSec: 0.5}
	return p
}

// healthy is a passing three-person conference over two cascaded nodes.
func healthy() Summary {
	return Summary{
		ElapsedSec: 20, Cascaded: true,
		Nodes: []NodeSummary{{ID: "us-east", RelayPeak: 900_000}, {ID: "eu-west", RelayPeak: 800_000}},
		Conferences: []ConferenceSummary{{
			Name: "demo", Nodes: []string{"eu-west", "us-east"}, RelayedNodes: 2, DominantChanges: 3,
			Participants: []ParticipantSummary{
				ana(),
				person("Bruno", "p2", "eu-west", false, got("p1", "Ana", 360), got("p3", "Chen", 360)),
				person("Chen", "p3", "us-east", false, got("p1", "Ana", 360), got("p2", "Bruno", 360)),
			},
		}},
	}
}

func chenSpeaks(s *Summary) { s.Conferences[0].DominantSpeaker = "Chen" }

func TestSummaryChecks(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Summary)
		check  func(*Summary) error
		want   string // "" passes, "skip" is not applicable, else part of the error
	}{
		{"all received", nil, (*Summary).AllReceived, ""},
		{"nothing from one", func(s *Summary) {
			s.Conferences[0].Participants[1].Received = s.Conferences[0].Participants[1].Received[1:]
		}, (*Summary).AllReceived, "Bruno got nothing from Ana"},
		{"video but no audio", func(s *Summary) {
			s.Conferences[0].Participants[2].Received[0].AudioPackets = 0
		}, (*Summary).AllReceived, "Chen got 500 video and 0 audio packets from Ana"},
		{"the lossy participant may miss a video paused for bandwidth", func(s *Summary) {
			s.Conferences[0].Participants[0].Received[1].VideoPackets = 0
		}, (*Summary).AllReceived, ""},
		{"but not its audio", func(s *Summary) {
			s.Conferences[0].Participants[0].Received[1].AudioPackets = 0
		}, (*Summary).AllReceived, "Ana got 500 video and 0 audio packets from Chen"},
		{"nor may others miss video", func(s *Summary) {
			s.Conferences[0].Participants[1].Received[0].VideoPackets = 0
		}, (*Summary).AllReceived, "Bruno got 0 video and 400 audio packets from Ana"},
		{"short overlap is not checked", func(s *Summary) {
			p := &s.Conferences[0].Participants[2]
			p.JoinedSec, p.Received = 17, nil
			for i := range s.Conferences[0].Participants[:2] {
				s.Conferences[0].Participants[i].Received = s.Conferences[0].Participants[i].Received[:1]
			}
		}, (*Summary).AllReceived, ""},
		{"left early is not checked", func(s *Summary) {
			p := &s.Conferences[0].Participants[2]
			p.LeftSec, p.Present, p.Received = 4, false, nil
			for i := range s.Conferences[0].Participants[:2] {
				s.Conferences[0].Participants[i].Received = s.Conferences[0].Participants[i].Received[:1]
			}
		}, (*Summary).AllReceived, ""},
		{"without a cascade only one node counts", func(s *Summary) {
			s.Cascaded = false
			for i := range s.Conferences[0].Participants {
				s.Conferences[0].Participants[i].Received = nil
			}
			s.Conferences[0].Participants[0].Received = []Received{got("p3", "Chen", 180)}
			s.Conferences[0].Participants[2].Received = []Received{got("p1", "Ana", 360)}
		}, (*Summary).AllReceived, ""},
		{"without a cascade a same-node gap still fails", func(s *Summary) {
			s.Cascaded = false
			s.Conferences[0].Participants[2].Received = nil
		}, (*Summary).AllReceived, "Chen got nothing from Ana"},
		{"nobody overlapped", func(s *Summary) {
			for i := range s.Conferences[0].Participants {
				s.Conferences[0].Participants[i].JoinedSec = float64(7 * i)
				s.Conferences[0].Participants[i].LeftSec = float64(7*i + 6)
			}
		}, (*Summary).AllReceived, "no two participants"},

		{"lossy lower", nil, (*Summary).LossyLayerLower, ""},
		{"lossy on the same layer", func(s *Summary) {
			for i := range s.Conferences[0].Participants[0].Received {
				s.Conferences[0].Participants[0].Received[i].Height = 360
			}
		}, (*Summary).LossyLayerLower, "lossy Ana receives 360p (h), the others 360p (h)"},
		{"lossy gets no video", func(s *Summary) {
			for i := range s.Conferences[0].Participants[0].Received {
				s.Conferences[0].Participants[0].Received[i].Height = 0
			}
		}, (*Summary).LossyLayerLower, "receives no video"},
		{"nobody lossy", func(s *Summary) { s.Conferences[0].Participants[0].Lossy = false },
			(*Summary).LossyLayerLower, "skip"},

		{"lossy sees the speaker", chenSpeaks, (*Summary).LossySeesSpeaker, ""},
		{"lossy gets no video from the speaker", func(s *Summary) {
			chenSpeaks(s)
			s.Conferences[0].Participants[0].Received[1].VideoPackets = 0
		}, (*Summary).LossySeesSpeaker, "lossy Ana got no video from the dominant speaker Chen"},
		{"another tile paused is fine", func(s *Summary) {
			chenSpeaks(s)
			s.Conferences[0].Participants[0].Received[0].Paused = true
			s.Conferences[0].Participants[0].Received[0].VideoPackets = 0
		}, (*Summary).LossySeesSpeaker, ""},
		{"the speaker's video comes late", func(s *Summary) {
			chenSpeaks(s)
			s.Conferences[0].Participants[0].Speaker.WaitingSec = 6.5
		}, (*Summary).LossySeesSpeaker, "saw the dominant speaker 53% of 15.0s"},
		{"the speaker's video freezes", func(s *Summary) {
			chenSpeaks(s)
			s.Conferences[0].Participants[0].Speaker.FrozenSec = 1.6
		}, (*Summary).LossySeesSpeaker, "frozen 1.6s (at most 1.5s)"},
		{"too short a view to judge", func(s *Summary) {
			chenSpeaks(s)
			s.Conferences[0].Participants[0].Speaker = SpeakerView{OnStageSec: 4, WaitingSec: 4}
		}, (*Summary).LossySeesSpeaker, ""},
		{"no speaker known", nil, (*Summary).LossySeesSpeaker, "skip"},
		{"lossy is the speaker", func(s *Summary) { s.Conferences[0].DominantSpeaker = "Ana" },
			(*Summary).LossySeesSpeaker, "skip"},

		{"relayed", nil, (*Summary).RelayedAcrossNodes, ""},
		{"one node", func(s *Summary) { s.Nodes = s.Nodes[:1] }, (*Summary).RelayedAcrossNodes, "skip"},
		{"no cascade", func(s *Summary) { s.Cascaded = false }, (*Summary).RelayedAcrossNodes, "skip"},
		{"spans nodes but not relayed", func(s *Summary) { s.Conferences[0].RelayedNodes = 1 },
			(*Summary).RelayedAcrossNodes, "no node listed more than 1"},
		{"no conference spans nodes", func(s *Summary) { s.Conferences[0].Nodes = []string{"us-east"} },
			(*Summary).RelayedAcrossNodes, "no conference had participants on more than one node"},
		{"no relay traffic", func(s *Summary) { s.Nodes[0].RelayPeak, s.Nodes[1].RelayPeak = 0, 0 },
			(*Summary).RelayedAcrossNodes, "no relay bitrate"},

		{"redirected home", func(s *Summary) { s.Conferences[0].Participants[1].Via = "us-east" },
			(*Summary).RedirectedHome, ""},
		{"stayed on the node dialled", func(s *Summary) {
			p := &s.Conferences[0].Participants[1]
			p.Via, p.Node = "us-east", "us-east"
		}, (*Summary).RedirectedHome, "Bruno (eu-west) dialled us-east and stayed on us-east"},
		{"nobody dialled elsewhere", nil, (*Summary).RedirectedHome, "skip"},
		{"redirects without a cascade", func(s *Summary) { s.Cascaded = false }, (*Summary).RedirectedHome, "skip"},

		{"speaker changed", nil, (*Summary).DominantSpeakerChanged, ""},
		{"speaker stuck", func(s *Summary) { s.Conferences[0].DominantChanges = 0 },
			(*Summary).DominantSpeakerChanged, "never changed in demo"},

		{"nodes healthy", nil, (*Summary).NodesHealthy, ""},
		{"node failed", func(s *Summary) { s.Nodes[1].Failed = "connection refused" },
			(*Summary).NodesHealthy, "eu-west: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := healthy()
			if tt.mutate != nil {
				tt.mutate(&s)
			}
			err := tt.check(&s)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want == "skip" && !errors.Is(err, ErrNotApplicable):
				t.Errorf("got %v, want ErrNotApplicable", err)
			case tt.want != "" && tt.want != "skip" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestSummaryOK(t *testing.T) {
	s := healthy()
	if !s.OK() {
		t.Fatalf("healthy summary fails: %+v", s.Check())
	}
	s.Cascaded = false // relay check skipped, and the cross-node pairs are no longer expected
	if !s.OK() {
		t.Errorf("a skipped check counts as failed: %+v", s.Check())
	}
	s = healthy()
	s.Conferences[0].DominantChanges = 0
	if s.OK() {
		t.Error("a failed check passes")
	}
}

func TestLayerName(t *testing.T) {
	for h, want := range map[int]string{0: "-", 180: "q", 360: "h", 720: "f", 90: "q", 540: "f"} {
		if got := layerName(h); got != want {
			t.Errorf("layerName(%d) = %q, want %q", h, got, want)
		}
	}
}

func TestReport(t *testing.T) {
	s := healthy()
	s.Nodes[1].Failed = "connection refused"
	s.Nodes[0].Participants, s.Nodes[0].RelayBitrate = 2, 1_800_000
	s.Nodes[1].Participants, s.Nodes[1].RelayBitrate = 1, 1_800_000 // failed: not counted
	line := statusLine(s)
	want := "t=20s nodes 1/2 eu-west FAILED (connection refused) participants 2 relay 900kb/s speakers demo:- lossy Ana:q"
	if line != want {
		t.Errorf("status line\n got %s\nwant %s", line, want)
	}
	s.Conferences[0].DominantSpeaker = "Bruno"
	s.Conferences[0].Participants[0].Received[1].Layer = "h"
	if line := statusLine(s); !strings.Contains(line, "speakers demo:Bruno lossy Ana:h") {
		t.Errorf("status line does not follow the speaker and the lossy layer: %s", line)
	}
	if line := statusLine(Summary{ElapsedSec: 1}); line != "t=1s nodes 0/0 participants 0 relay 0b/s" {
		t.Errorf("status line before anything started: %q", line)
	}
	s.Conferences[0].Participants[0].Received[1].Freezes, s.Conferences[0].Participants[0].Received[1].FreezeSec = 2, 1.45
	var b strings.Builder
	writeFinal(&b, s)
	for _, want := range []string{"cascade on", "FAIL  no node failed", "ok    every participant received", "/2fz 1.4s"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("final summary lacks %q:\n%s", want, b.String())
		}
	}
}
