package demo

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Summary is what a demo run showed, in a form a script or test can check:
// Check runs every assertion the issue asks of `switchyard demo`.
type Summary struct {
	ElapsedSec float64 `json:"elapsed_sec"`
	// Cascaded is true once some node reported cascade peers: only then can
	// participants on different nodes receive each other.
	Cascaded     bool                `json:"cascaded"`
	Nodes        []NodeSummary       `json:"nodes"`
	Conferences  []ConferenceSummary `json:"conferences"`
	JoinFailures []string            `json:"join_failures,omitempty"`
}

// NodeSummary is one node at the end of the run.
type NodeSummary struct {
	ID           string `json:"id"`
	Region       string `json:"region"`
	URL          string `json:"url"`
	Participants int    `json:"participants"`
	Conferences  int    `json:"conferences"`
	Peers        int    `json:"peers"`
	RelayBitrate int64  `json:"relay_bitrate"`      // bits/s to and from peers, last seen
	RelayPeak    int64  `json:"relay_peak_bitrate"` // the most seen during the run
	Failed       string `json:"failed,omitempty"`   // why it stopped answering
}

// ConferenceSummary is one conference over the run.
type ConferenceSummary struct {
	Name string `json:"name"`
	// Nodes hosted its participants (after redirects), sorted.
	Nodes []string `json:"nodes"`
	// RelayedNodes is the most nodes one node's snapshot listed for the
	// conference at once: more than one means media was relayed.
	RelayedNodes    int                  `json:"relayed_nodes"`
	DominantSpeaker string               `json:"dominant_speaker"` // name, last announced
	DominantChanges int                  `json:"dominant_changes"` // most changes one participant saw
	Participants    []ParticipantSummary `json:"participants"`
}

// ParticipantSummary is one session of a synthetic participant: a guest who
// left and came back has two.
type ParticipantSummary struct {
	Name      string     `json:"name"`
	ID        string     `json:"id"`
	Region    string     `json:"region"`
	Via       string     `json:"via"`       // node it dialled
	Node      string     `json:"node"`      // node that took it
	Redirects int        `json:"redirects"` // redirects followed to get there
	Lossy     bool       `json:"lossy"`
	JoinedSec float64    `json:"joined_sec"` // since the demo started
	LeftSec   float64    `json:"left_sec"`   // the end of the run if still in
	Present   bool       `json:"present"`    // still in the room at the end
	Ended     string     `json:"ended,omitempty"`
	Received  []Received `json:"received"`
	// DominantChanges counts changes of the dominant speaker it was told of.
	DominantChanges int `json:"dominant_changes"`
	// Speaker is how continuously the dominant speaker's video came while
	// they were dominant.
	Speaker SpeakerView `json:"speaker_view"`
}

// SpeakerView is how a participant saw whoever was the dominant speaker
// (their own turns left out), in seconds.
type SpeakerView struct {
	OnStageSec float64 `json:"on_stage_sec"` // someone else was dominant
	Switches   int     `json:"switches"`
	// WaitingSec is from each change of speaker to their first frame.
	WaitingSec float64 `json:"waiting_sec"`
	// FrozenSec is the gaps of more than 300 ms after the first frame.
	FrozenSec float64 `json:"frozen_sec"`
	Unseen    int     `json:"unseen"` // changes whose speaker never showed
}

func secs(ns int64) float64 { return float64(ns) / 1e9 }

// Seen is the fraction of the time on stage that the speaker's video moved.
func (v SpeakerView) Seen() float64 {
	if v.OnStageSec <= 0 {
		return 0
	}
	return 1 - (v.WaitingSec+v.FrozenSec)/v.OnStageSec
}

// Received is what one participant got from one publisher.
type Received struct {
	From         string `json:"from"` // publisher id
	FromName     string `json:"from_name"`
	VideoPackets uint64 `json:"video_packets"`
	AudioPackets uint64 `json:"audio_packets"`
	// Height is of the latest keyframe: the layer forwarded. It is 0, and
	// Paused true, when no video came for staleVideo (the node paused it).
	Height int    `json:"height"`
	Layer  string `json:"layer"` // q, h, f or -
	Paused bool   `json:"paused"`
	// Freezes of the video as the participant received it (WebRTC's
	// freezeCount) and their total length in seconds.
	Freezes   uint64  `json:"freezes"`
	FreezeSec float64 `json:"freeze_sec"`
}

// staleVideo is how long without video makes a subscription count as
// paused rather than on the layer of its last keyframe.
const staleVideo = 3 * time.Second

// ErrNotApplicable marks a check that cannot be made on this run (one node,
// or nodes without a cascade); Check reports it as skipped.
var ErrNotApplicable = errors.New("not applicable")

// minOverlap is how long two participants must share a conference before
// the summary expects media between them: joining, ICE, DTLS and the first
// keyframe take a few seconds on a busy machine.
const minOverlap = 5 * time.Second

// reaches says whether media from b can reach a: on one node always, across
// nodes only through the cascade.
func (s *Summary) reaches(a, b *ParticipantSummary) bool {
	return s.Cascaded || a.Node == b.Node
}

func overlap(a, b *ParticipantSummary) time.Duration {
	from := max(a.JoinedSec, b.JoinedSec)
	to := min(a.LeftSec, b.LeftSec)
	return time.Duration((to - from) * float64(time.Second))
}

func (p *ParticipantSummary) from(id string) (Received, bool) {
	for _, r := range p.Received {
		if r.From == id {
			return r, true
		}
	}
	return Received{}, false
}

// pair is a receiver and a publisher that AllReceived expects media between.
type pair struct {
	conference string
	a, b       *ParticipantSummary
}

// pairs lists every receiver-publisher pair of a conference that shared the
// room for at least minOverlap and could reach each other (see Cascaded).
func (s *Summary) pairs() []pair {
	var out []pair
	for ci := range s.Conferences {
		c := &s.Conferences[ci]
		for i := range c.Participants {
			for j := range c.Participants {
				a, b := &c.Participants[i], &c.Participants[j]
				if i != j && overlap(a, b) >= minOverlap && s.reaches(a, b) {
					out = append(out, pair{c.Name, a, b})
				}
			}
		}
	}
	return out
}

// Pairs counts the receiver-publisher pairs AllReceived checks.
func (s *Summary) Pairs() int { return len(s.pairs()) }

// AllReceived checks that every participant received video and audio from
// every other participant of its conference it shared the room with for at
// least minOverlap (and could reach: see Cascaded). The participant on the
// capped, lossy link needs audio from everyone; its node may pause some
// video for bandwidth.
func (s *Summary) AllReceived() error {
	pairs := s.pairs()
	if len(pairs) == 0 {
		return errors.New("no two participants shared a conference long enough to check")
	}
	var missing []string
	for _, p := range pairs {
		r, ok := p.a.from(p.b.ID)
		switch {
		case !ok:
			missing = append(missing, fmt.Sprintf("%s: %s got nothing from %s", p.conference, p.a.Name, p.b.Name))
		case r.VideoPackets == 0 && r.AudioPackets > 0 && p.a.Lossy:
			// The capped link cannot carry every publisher's lowest layer:
			// the node pauses the least important video for bandwidth, as it
			// should. LossyLayerLower checks that this receiver gets video.
		case r.VideoPackets == 0 || r.AudioPackets == 0:
			missing = append(missing, fmt.Sprintf("%s: %s got %d video and %d audio packets from %s",
				p.conference, p.a.Name, r.VideoPackets, r.AudioPackets, p.b.Name))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%d of %d pairs incomplete: %s", len(missing), len(pairs), strings.Join(missing, "; "))
	}
	return nil
}

// medianHeight is the middle of the heights p receives now, 0 with no video.
func (p *ParticipantSummary) medianHeight() int {
	var hs []int
	for _, r := range p.Received {
		if r.Height > 0 {
			hs = append(hs, r.Height)
		}
	}
	if len(hs) == 0 {
		return 0
	}
	slices.Sort(hs)
	return hs[len(hs)/2]
}

// LossyLayerLower checks that the participant on the lossy, capped link
// receives a lower layer than the others of its conference.
func (s *Summary) LossyLayerLower() error {
	for _, c := range s.Conferences {
		var lossy *ParticipantSummary
		var others []int
		for i := range c.Participants {
			p := &c.Participants[i]
			switch {
			case p.Lossy && (lossy == nil || p.LeftSec-p.JoinedSec > lossy.LeftSec-lossy.JoinedSec):
				lossy = p
			case !p.Lossy:
				if h := p.medianHeight(); h > 0 {
					others = append(others, h)
				}
			}
		}
		if lossy == nil {
			continue
		}
		mine := lossy.medianHeight()
		if mine == 0 {
			return fmt.Errorf("%s: the lossy participant %s receives no video", c.Name, lossy.Name)
		}
		if len(others) == 0 {
			return fmt.Errorf("%s: no other participant receives video to compare %s with", c.Name, lossy.Name)
		}
		slices.Sort(others)
		theirs := others[len(others)/2]
		if mine >= theirs {
			return fmt.Errorf("%s: lossy %s receives %dp (%s), the others %dp (%s)",
				c.Name, lossy.Name, mine, layerName(mine), theirs, layerName(theirs))
		}
		return nil
	}
	return fmt.Errorf("%w: no participant sat on the lossy link", ErrNotApplicable)
}

// Speaker view limits for the lossy participant: the share of the time on
// stage in which the speaker's video moved (a change of speaker costs a
// keyframe from the publisher's region, a round trip of up to 220 ms across
// the demo's regions plus the keyframe's time on a 400 kbit/s link), and the
// most it may stand still once it came.
const (
	minSpeakerSeen   = 0.6
	maxSpeakerFrozen = 0.1
)

// LossySeesSpeaker checks that the participant on the lossy, capped link
// receives the dominant speaker's video, and continuously: when bandwidth
// is short, audio, screen and the speaker come first, so each new speaker's
// video comes within a keyframe's round trip and then does not freeze.
func (s *Summary) LossySeesSpeaker() error {
	for _, c := range s.Conferences {
		var lossy, speaker *ParticipantSummary
		for i := range c.Participants {
			p := &c.Participants[i]
			if p.Lossy && (lossy == nil || p.LeftSec-p.JoinedSec > lossy.LeftSec-lossy.JoinedSec) {
				lossy = p
			}
		}
		if lossy == nil {
			continue
		}
		for i := range c.Participants {
			p := &c.Participants[i]
			if p.Name == c.DominantSpeaker && p != lossy && p.Present {
				speaker = p
			}
		}
		if speaker == nil {
			return fmt.Errorf("%w: %s: the dominant speaker (%q) is the lossy participant or gone", ErrNotApplicable, c.Name, c.DominantSpeaker)
		}
		if !s.reaches(lossy, speaker) || overlap(lossy, speaker) < minOverlap {
			return fmt.Errorf("%w: %s: %s and the speaker %s did not share the conference long enough", ErrNotApplicable, c.Name, lossy.Name, speaker.Name)
		}
		if r, ok := lossy.from(speaker.ID); !ok || r.VideoPackets == 0 {
			return fmt.Errorf("%s: lossy %s got no video from the dominant speaker %s", c.Name, lossy.Name, speaker.Name)
		}
		v := lossy.Speaker
		if v.OnStageSec < minOverlap.Seconds() {
			return nil // too short a view to judge its continuity
		}
		if v.Seen() < minSpeakerSeen || v.FrozenSec > maxSpeakerFrozen*v.OnStageSec {
			return fmt.Errorf("%s: lossy %s saw the dominant speaker %.0f%% of %.1fs (want %.0f%%): %d changes, waited %.1fs for first frames, frozen %.1fs (at most %.1fs)",
				c.Name, lossy.Name, 100*v.Seen(), v.OnStageSec, 100*minSpeakerSeen, v.Switches, v.WaitingSec, v.FrozenSec, maxSpeakerFrozen*v.OnStageSec)
		}
		return nil
	}
	return fmt.Errorf("%w: no participant sat on the lossy link", ErrNotApplicable)
}

// RelayedAcrossNodes checks that every conference whose participants sat on
// more than one node was relayed between them, and that at least one was.
func (s *Summary) RelayedAcrossNodes() error {
	if len(s.Nodes) < 2 {
		return fmt.Errorf("%w: one node", ErrNotApplicable)
	}
	if !s.Cascaded {
		return fmt.Errorf("%w: the nodes run without a cascade", ErrNotApplicable)
	}
	spanning := 0
	var bad []string
	for _, c := range s.Conferences {
		if len(c.Nodes) < 2 {
			continue
		}
		spanning++
		if c.RelayedNodes < 2 {
			bad = append(bad, fmt.Sprintf("%s had participants on %s but no node listed more than %d",
				c.Name, strings.Join(c.Nodes, ", "), c.RelayedNodes))
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	if spanning == 0 {
		return errors.New("no conference had participants on more than one node")
	}
	var peak int64
	for _, n := range s.Nodes {
		peak = max(peak, n.RelayPeak)
	}
	if peak == 0 {
		return errors.New("conferences span nodes but no relay bitrate was seen")
	}
	return nil
}

// DominantSpeakerChanged checks that the dominant speaker moved at least once
// in every conference.
func (s *Summary) DominantSpeakerChanged() error {
	var still []string
	for _, c := range s.Conferences {
		if c.DominantChanges < 1 {
			still = append(still, c.Name)
		}
	}
	if len(s.Conferences) == 0 {
		return errors.New("no conferences")
	}
	if len(still) > 0 {
		return fmt.Errorf("the dominant speaker never changed in %s", strings.Join(still, ", "))
	}
	return nil
}

// RedirectedHome checks bridge selection: a participant that dialled another
// region's node ends up on the node of its own region (the demo names nodes
// after their regions).
func (s *Summary) RedirectedHome() error {
	if len(s.Nodes) < 2 {
		return fmt.Errorf("%w: one node", ErrNotApplicable)
	}
	if !s.Cascaded {
		return fmt.Errorf("%w: the nodes run without a cascade", ErrNotApplicable)
	}
	dialled := 0
	var astray []string
	for _, c := range s.Conferences {
		for _, p := range c.Participants {
			if p.Via == p.Region {
				continue
			}
			dialled++
			if p.Node != p.Region {
				astray = append(astray, fmt.Sprintf("%s (%s) dialled %s and stayed on %s", p.Name, p.Region, p.Via, p.Node))
			}
		}
	}
	if dialled == 0 {
		return fmt.Errorf("%w: nobody dialled another region's node", ErrNotApplicable)
	}
	if len(astray) > 0 {
		return errors.New(strings.Join(astray, "; "))
	}
	return nil
}

// NodesHealthy checks that no node failed during the run.
func (s *Summary) NodesHealthy() error {
	var failed []string
	for _, n := range s.Nodes {
		if n.Failed != "" {
			failed = append(failed, n.ID+": "+n.Failed)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("failed nodes: %s", strings.Join(failed, "; "))
	}
	return nil
}

// CheckResult is the outcome of one assertion.
type CheckResult struct {
	Name string
	Err  error // nil: passed; wraps ErrNotApplicable: skipped
}

// Skipped says whether the check could not be made on this run.
func (r CheckResult) Skipped() bool { return errors.Is(r.Err, ErrNotApplicable) }

// Failed says whether the check was made and did not pass.
func (r CheckResult) Failed() bool { return r.Err != nil && !r.Skipped() }

// Check runs every assertion.
func (s *Summary) Check() []CheckResult {
	return []CheckResult{
		{"every participant received video and audio from every other", s.AllReceived()},
		{"the lossy participant receives a lower layer", s.LossyLayerLower()},
		{"the lossy participant receives the dominant speaker's video", s.LossySeesSpeaker()},
		{"conferences are relayed across nodes", s.RelayedAcrossNodes()},
		{"participants are redirected to their region's node", s.RedirectedHome()},
		{"the dominant speaker changed", s.DominantSpeakerChanged()},
		{"no node failed", s.NodesHealthy()},
	}
}

// OK reports whether no check failed (skipped ones do not count).
func (s *Summary) OK() bool {
	for _, r := range s.Check() {
		if r.Failed() {
			return false
		}
	}
	return true
}

// layerName names the simulcast layer of the clips by its height.
func layerName(h int) string {
	switch {
	case h <= 0:
		return "-"
	case h <= 180:
		return "q"
	case h <= 360:
		return "h"
	default:
		return "f"
	}
}

// collect builds the summary from the sessions, the nodes and the monitor.
func collect(r *roster, nodes []*demoNode, mon *monitor, now time.Time) Summary {
	cascaded, confNodes, relayPeak := mon.peaks()
	s := Summary{ElapsedSec: now.Sub(r.start).Seconds(), Cascaded: cascaded}
	for _, n := range nodes {
		snap := n.snapshot()
		s.Nodes = append(s.Nodes, NodeSummary{
			ID: n.ID(), Region: n.region, URL: n.URL(),
			Participants: snap.Node.Participants, Conferences: snap.Node.Conferences,
			Peers: len(snap.Node.Peers), RelayBitrate: mon.relay(n.ID()), RelayPeak: relayPeak[n.ID()],
			Failed: n.Failed(),
		})
	}
	r.mu.Lock()
	s.JoinFailures = slices.Clone(r.failures)
	r.mu.Unlock()

	byConf := map[string]*ConferenceSummary{}
	var order []string
	names := map[[2]string]string{} // (node, id) -> name
	ids := map[string]string{}      // id -> name, for a cascade's remote ids
	sessions := r.all()
	for _, ss := range sessions {
		names[[2]string{ss.node, ss.id}] = ss.seat.name
		ids[ss.id] = ss.seat.name
	}
	for _, ss := range sessions {
		c, ok := byConf[ss.seat.conference]
		if !ok {
			c = &ConferenceSummary{Name: ss.seat.conference, RelayedNodes: confNodes[ss.seat.conference]}
			byConf[c.Name] = c
			order = append(order, c.Name)
		}
		left, why := ss.ended()
		present := left.IsZero()
		if present {
			left = now
		}
		p := ParticipantSummary{
			Name: ss.seat.name, ID: ss.id, Region: regions[ss.seat.region], Via: ss.via, Node: ss.node,
			Lossy: ss.seat.lossy, Ended: why, Present: present,
			JoinedSec: ss.joined.Sub(r.start).Seconds(), LeftSec: left.Sub(r.start).Seconds(),
		}
		p.Redirects = ss.c.Redirects()
		sv := ss.c.SpeakerView()
		p.Speaker = SpeakerView{OnStageSec: secs(sv.OnStage), Switches: sv.Switches, WaitingSec: secs(sv.Waiting),
			FrozenSec: secs(sv.Frozen), Unseen: sv.Unseen}
		for id, st := range ss.c.Received() {
			name, ok := names[[2]string{ss.node, id}]
			if !ok {
				name = ids[id]
			}
			rc := Received{From: id, FromName: name, VideoPackets: st.VideoPackets, AudioPackets: st.AudioPackets,
				Height: st.Height, Freezes: st.Freezes, FreezeSec: st.FreezeTime.Seconds()}
			if left.Sub(st.LastVideo) > staleVideo {
				rc.Height, rc.Paused = 0, true
			}
			rc.Layer = layerName(rc.Height)
			p.Received = append(p.Received, rc)
		}
		sort.Slice(p.Received, func(i, j int) bool { return p.Received[i].FromName < p.Received[j].FromName })
		log := ss.c.DominantSpeakers()
		for i := 1; i < len(log); i++ {
			if log[i] != log[i-1] {
				p.DominantChanges++
			}
		}
		if p.DominantChanges >= c.DominantChanges {
			c.DominantChanges = p.DominantChanges
			if len(log) > 0 {
				c.DominantSpeaker = names[[2]string{ss.node, log[len(log)-1]}]
				if c.DominantSpeaker == "" {
					c.DominantSpeaker = ids[log[len(log)-1]]
				}
			}
		}
		if !slices.Contains(c.Nodes, ss.node) {
			c.Nodes = append(c.Nodes, ss.node)
		}
		c.Participants = append(c.Participants, p)
	}
	sort.Strings(order)
	for _, name := range order {
		c := byConf[name]
		sort.Strings(c.Nodes)
		s.Conferences = append(s.Conferences, *c)
	}
	return s
}
