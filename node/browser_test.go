package node_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/node/internal/browsertest"
	"github.com/switchyard/switchyard/node/nodetest"
)

// browserWait bounds each stage of a browser test; a browser on a loaded
// 2-core machine needs a few seconds to start and negotiate.
const browserWait = 45 * time.Second

type launcher func(testing.TB, string) *browsertest.Browser

func TestBrowserChromiumFirefox(t *testing.T) {
	runBrowserPair(t, browsertest.Chromium, browsertest.Firefox)
}

func TestBrowserChromiumChromium(t *testing.T) {
	runBrowserPair(t, browsertest.Chromium, browsertest.Chromium)
}

// runBrowserPair joins two browsers to one room through the web client's deep
// link and checks, from the pages' own getStats(), that each decodes the
// other's video and plays its audio, and that ping/pong crosses the node.
func runBrowserPair(t *testing.T, launchA, launchB launcher) {
	if testing.Short() {
		t.Skip("browser tests start real browsers; skipped with -short")
	}
	n := nodetest.Start(t, nil)
	rep := browsertest.NewReporter(t)
	room := strings.ReplaceAll(t.Name(), "/", "-")
	page := func(tag string) string {
		// debug makes the pages log their signaling, shown when a test fails.
		q := url.Values{"name": {tag}, "region": {"region-" + tag}, "report": {rep.URL(tag)}, "debug": {"1"}}
		return n.URL() + "/r/" + room + "?" + q.Encode()
	}
	tags := []string{"a", "b"}
	a := launchA(t, page("a"))
	b := launchB(t, page("b"))
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
