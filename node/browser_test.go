package node_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/node"
	"github.com/switchyard/switchyard/node/internal/browsertest"
	"github.com/switchyard/switchyard/node/nodetest"
)

// browserWait bounds each stage of a browser test; a browser on a loaded
// 2-core machine needs a few seconds to start and negotiate.
const browserWait = 45 * time.Second

type launcher func(testing.TB, string) *browsertest.Browser

func TestBrowserChromiumFirefox(t *testing.T) {
	skipShort(t)
	n := nodetest.Start(t, nil)
	runBrowserPair(t, browsertest.Chromium, browsertest.Firefox, [2]*node.Node{n, n}, [2]string{"region-a", "region-b"})
}

func TestBrowserChromiumChromium(t *testing.T) {
	skipShort(t)
	n := nodetest.Start(t, nil)
	runBrowserPair(t, browsertest.Chromium, browsertest.Chromium, [2]*node.Node{n, n}, [2]string{"region-a", "region-b"})
}

// TestBrowserCascade: Chromium on one node, Firefox on another, media
// relayed between them. Firefox opens the first node's page but says it is
// in eu, so the web client follows bridge selection's redirect.
func TestBrowserCascade(t *testing.T) {
	skipShort(t)
	nodes := startCascade(t, []string{"us", "eu"}, nil)
	runBrowserPair(t, browsertest.Chromium, browsertest.Firefox, [2]*node.Node{nodes["us"], nodes["us"]}, [2]string{"us", "eu"})
	for _, region := range []string{"us", "eu"} {
		snap := nodes[region].Snapshot()
		conf, ok := snap.Find("TestBrowserCascade")
		if !ok {
			t.Fatalf("%s hosts no part of the conference", region)
		}
		local := 0
		for _, p := range conf.Participants {
			if !p.Remote {
				local++
			}
		}
		if local != 1 || len(conf.Participants) != 2 {
			t.Errorf("%s: %d local of %d participants, want one of two on each node", region, local, len(conf.Participants))
		}
	}
	// Firefox on eu gets Chromium's RED, relayed as it is, stripped to Opus.
	snap := nodes["eu"].Snapshot()
	conf, _ := snap.Find("TestBrowserCascade")
	for _, p := range conf.Participants {
		for _, s := range p.Subs {
			if !p.Remote && s.Kind == "audio" && s.Codec != "audio/opus" {
				t.Errorf("Firefox on eu is sent %s's audio as %q, want audio/opus", s.PublisherName, s.Codec)
			}
		}
	}
}

func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests start real browsers; skipped with -short")
	}
}

// runBrowserPair joins two browsers to one room through the web client's deep
// link (page a and b opened on the given nodes, naming the given regions) and
// checks, from the pages' own getStats(), that each decodes the other's video
// and plays its audio, and that ping/pong crosses the node(s).
func runBrowserPair(t *testing.T, launchA, launchB launcher, nodes [2]*node.Node, regions [2]string) {
	rep := browsertest.NewReporter(t)
	room := strings.ReplaceAll(t.Name(), "/", "-")
	page := func(i int, tag string) string {
		// debug makes the pages log their signaling, shown when a test fails.
		q := url.Values{"name": {tag}, "region": {regions[i]}, "report": {rep.URL(tag)}, "debug": {"1"}}
		return nodes[i].URL() + "/r/" + room + "?" + q.Encode()
	}
	tags := []string{"a", "b"}
	a := launchA(t, page(0, "a"))
	b := launchB(t, page(1, "b"))
	watch := []*browsertest.Browser{a, b}

	rep.WaitFor(t, browserWait, "both pages to join", func(m map[string]browsertest.Report) error {
		for _, tag := range tags {
			if m[tag].ID == "" {
				return fmt.Errorf("page %s has not joined", tag)
			}
		}
		return nil
	}, watch...)

	rep.WaitFor(t, browserWait, "video decoded and audio received both ways", func(m map[string]browsertest.Report) error {
		for _, p := range pairs(m, tags) {
			if p.remote.Video == nil || p.remote.Video.FramesDecoded == 0 {
				return fmt.Errorf("%s (%s) has decoded no video from %s", p.tag, p.self.Browser, p.peerID)
			}
			if p.remote.Audio == nil || p.remote.Audio.TotalSamplesReceived == 0 {
				return fmt.Errorf("%s (%s) has received no audio from %s", p.tag, p.self.Browser, p.peerID)
			}
		}
		return nil
	}, watch...)

	before := rep.Latest()
	rep.WaitFor(t, browserWait, "video and audio to keep flowing", func(m map[string]browsertest.Report) error {
		for _, p := range pairs(m, tags) {
			was := before[p.tag].Remotes[p.peerID]
			if was.Video == nil || was.Audio == nil || p.remote.Video == nil || p.remote.Audio == nil {
				return fmt.Errorf("%s lost its media from %s", p.tag, p.peerID)
			}
			if p.remote.Video.FramesDecoded <= was.Video.FramesDecoded {
				return fmt.Errorf("%s: frames decoded from %s stuck at %d", p.tag, p.peerID, p.remote.Video.FramesDecoded)
			}
			samples := p.remote.Audio.TotalSamplesReceived - was.Audio.TotalSamplesReceived
			concealed := p.remote.Audio.ConcealedSamples - was.Audio.ConcealedSamples
			// At least a second of 48 kHz audio, so the concealment share means something.
			if samples < 48000 {
				return fmt.Errorf("%s: only %d new audio samples from %s", p.tag, samples, p.peerID)
			}
			if concealed >= samples {
				return fmt.Errorf("%s: all %d new audio samples from %s were concealed (no packets arrive)", p.tag, samples, p.peerID)
			}
			if p.remote.Audio.TotalAudioEnergy <= was.Audio.TotalAudioEnergy {
				return fmt.Errorf("%s: audio from %s is silent (energy %g)", p.tag, p.peerID, p.remote.Audio.TotalAudioEnergy)
			}
		}
		return nil
	}, watch...)

	rep.WaitFor(t, browserWait, "end-to-end RTT measured through the node", func(m map[string]browsertest.Report) error {
		for _, p := range pairs(m, tags) {
			if p.remote.E2ERTT == nil || *p.remote.E2ERTT <= 0 {
				return fmt.Errorf("%s has no ping/pong RTT to %s", p.tag, p.peerID)
			}
		}
		return nil
	}, watch...)

	// Chromium sends RED and gets a Chromium sender's RED end to end (its
	// audio energy rises above); Firefox neither sends nor gets it: the
	// node strips RED for it. Read from the node's API, which says what
	// each receiver is sent.
	waitFor(t, 10*time.Second, "each receiver to be sent audio as RED or Opus as it negotiated", func() (bool, string) {
		ps := pairs(rep.Latest(), tags)
		for i, p := range ps {
			sender := ps[1-i].self.Browser
			want := "audio/opus"
			if p.self.Browser == "chromium" && sender == "chromium" {
				want = "audio/red"
			}
			got, subs, found := "", "", false
			for _, n := range nodes {
				if q, _ := findParticipant(n, room, p.self.ID); q != nil && !q.Remote {
					found = true
					for _, s := range q.Subs {
						subs += fmt.Sprintf(" %s/%s:%s", s.Publisher, s.Kind, s.Codec)
						if s.Publisher == p.peerID && s.Kind == "audio" {
							got = s.Codec
						}
					}
				}
			}
			if !found {
				continue // redirected to a node the test did not name (TestBrowserCascade checks it)
			}
			if !strings.EqualFold(got, want) {
				return false, fmt.Sprintf("%s (%s) is sent %s's audio as %q, want %s (subscriptions:%s)", p.tag, p.self.Browser, sender, got, want, subs)
			}
		}
		return true, ""
	})

	for _, p := range pairs(rep.Latest(), tags) {
		v, au := p.remote.Video, p.remote.Audio
		t.Logf("%s (%s) from %s: %d frames %dx%d, %d video packets lost; audio %d samples, %d concealed; e2e RTT %.1f ms; remote-inbound %s; candidate pair RTT %s",
			p.tag, p.self.Browser, p.peerID, v.FramesDecoded, v.FrameWidth, v.FrameHeight, v.PacketsLost,
			au.TotalSamplesReceived, au.ConcealedSamples, *p.remote.E2ERTT, remoteInbound(p.self), optional(p.self.CandidatePairRTT))
		if len(p.self.Errors) > 0 {
			t.Logf("%s page errors: %q", p.tag, p.self.Errors)
		}
	}
}

// pagePair is one page's view of the other page.
type pagePair struct {
	tag    string
	self   browsertest.Report
	peerID string
	remote browsertest.Remote
}

// pairs lists, for each of the two tags, what that page receives from the
// other; a page that has not reported yet yields an empty remote.
func pairs(m map[string]browsertest.Report, tags []string) []pagePair {
	out := make([]pagePair, 0, len(tags))
	for i, tag := range tags {
		other := m[tags[1-i]]
		self := m[tag]
		out = append(out, pagePair{tag: tag, self: self, peerID: other.ID, remote: self.Remotes[other.ID]})
	}
	return out
}

func remoteInbound(r browsertest.Report) string {
	var parts []string
	for _, ri := range r.RemoteInbound {
		parts = append(parts, ri.Kind+" "+optional(ri.RoundTripTime))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func optional(f *float64) string {
	if f == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.1f ms", *f*1000)
}
