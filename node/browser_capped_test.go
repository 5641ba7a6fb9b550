//go:build linux

package node_test

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/node"
	"github.com/switchyard/switchyard/node/internal/browsertest"
	"github.com/switchyard/switchyard/node/nodetest"
	"github.com/switchyard/switchyard/node/snapshot"
)

// TestBrowserCappedLink: a real Chromium, in a network namespace of its own
// behind a veth pair whose node-to-browser direction tc caps at 500 kbit/s,
// watches a Go participant's audio and VP8 simulcast (q, h, f) through the
// web client. Under the cap the node's bandwidth estimate must find the
// link (within [0.4, 1.3] of the rate), forward a layer below f and keep
// Chromium decoding in every 5 s of the last 20 s; once the cap is lifted,
// the prober must find the room for f and Chromium must decode 720p within
// 20 s (a functional bound; the time taken is logged, not asserted).
func TestBrowserCappedLink(t *testing.T) {
	skipShort(t)
	const (
		rate      = 500_000 // bits/s, tbf's rate
		run       = 30 * time.Second
		checked   = 20 * time.Second // the last part of run that the checks cover
		window    = 5 * time.Second
		liftBound = 20 * time.Second
	)
	link := newCappedLink(t)
	link.chromiumIn(t)
	room := "capped-link"

	n := nodetest.Start(t, func(c *node.Config) {
		// HTTP on the node's end of the pair, for the browser (and the Go
		// participant, which reaches it locally); media on every address,
		// so that the browser gets a candidate on the pair and the Go
		// participant, which takes only loopback candidates, one on lo.
		c.HTTPAddr = link.nodeIP + ":0"
		c.MediaIP = "0.0.0.0"
		c.AllowedNetworks = []string{"127.0.0.0/8", link.prefix}
		// UDP only: over ICE-TCP the cap would meet TCP's own congestion
		// control instead of the node's estimator.
		c.MediaTCPPort = -1
		// Off loopback the node wants tokens; this private pair needs none.
		off := false
		c.Auth.Required = &off
		c.Auth.AllowAnonymous = true
	})
	pub := join(t, n, room, "publisher", publishing)
	link.capRate(t, rate)

	rep := browsertest.NewReporter(t)
	q := url.Values{"name": {"chromium"}, "report": {link.reportProxy(t, rep, "c")}, "debug": {"1"},
		// It only watches: the page's origin (http on a private address) is
		// not a secure context, so it could not open a camera anyway.
		"mic": {"0"}, "camera": {"0"}}
	launched := time.Now()
	b := browsertest.Options{ChromiumFlags: []string{
		fmt.Sprintf("--remote-debugging-port=%d", cappedDevToolsPort),
		// A main tile taller than 360 px, so that f is the layer the page wants.
		"--window-size=1280,900",
		// Without getUserMedia Chromium would hide its address behind an
		// mDNS name, which the node does not resolve.
		"--disable-features=WebRtcHideLocalIpsWithMdns",
	}}.Chromium(t, n.URL()+"/r/"+room+"?"+q.Encode())
	page := link.devTools(t, b)

	rep.WaitFor(t, browserWait, "the page to join", func(m map[string]browsertest.Report) error {
		if m["c"].ID == "" {
			return browsertest.ErrPending
		}
		return nil
	}, b)
	self := rep.Latest()["c"].ID
	joined := time.Now()
	t.Logf("page joined %v after Chromium started", joined.Sub(launched).Round(time.Millisecond))
	rep.WaitFor(t, browserWait, "the page's media path", func(m map[string]browsertest.Report) error {
		if sp := m["c"].SelectedPair; sp == nil || sp.Local == nil || sp.Remote == nil {
			return browsertest.ErrPending
		}
		return nil
	}, b)
	// The media must cross the capped pair: UDP from the browser's end to the node's.
	if sp := rep.Latest()["c"].SelectedPair; sp.Local.Protocol != "udp" || sp.Local.Address != link.browserIP || sp.Remote.Address != link.nodeIP {
		t.Fatalf("Chromium's selected candidate pair is %s %s:%d -> %s:%d, want udp %s -> %s",
			sp.Local.Protocol, sp.Local.Address, sp.Local.Port, sp.Remote.Address, sp.Remote.Port, link.browserIP, link.nodeIP)
	}
	sample := func(at time.Duration) cappedSample {
		s := cappedSample{at: at}
		s.video, s.err = cappedInbound(page, pub.ID())
		s.est, s.sub, s.found = cappedNodeView(n, room, self, pub.ID())
		return s
	}
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s; last reports:\n%s", fmt.Sprintf(format, args...), rep.Dump())
	}

	// First frame, already behind the cap.
	var first cappedSample
	for first = sample(0); !first.decoding(); first = sample(0) {
		if first.err != nil && !errors.Is(first.err, errCappedNoValue) {
			fail("reading Chromium's inbound video: %v", first.err)
		}
		if time.Since(joined) > browserWait {
			fail("Chromium decoded no video from the publisher within %v: %s", browserWait, first)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("first frame seen %v after Chromium started: %s", time.Since(launched).Round(time.Millisecond), first)

	// Run under the cap, one sample a second.
	var samples []cappedSample
	start := time.Now()
	for i := 0; ; i++ {
		s := sample(time.Since(start))
		if s.err != nil {
			fail("reading Chromium's inbound video at %v: %v", s.at, s.err)
		}
		samples = append(samples, s)
		if i%int(window/time.Second) == 0 {
			t.Logf("capped %2.0fs: %s", s.at.Seconds(), s)
		}
		if s.at >= run {
			break
		}
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * time.Second)))
	}
	t.Logf("tbf under the cap:\n%s", link.qdisc())

	// The checked part: samples from run-checked on, and its 5 s windows.
	from := slices.IndexFunc(samples, func(s cappedSample) bool { return s.at >= run-checked-time.Second/2 })
	tail := samples[from:]
	last := tail[len(tail)-1]
	for w := tail[0].at; w+window <= last.at+time.Second/2; w += window {
		a, z := cappedSampleAt(tail, w), cappedSampleAt(tail, w+window)
		frames := cappedNum(z.video.FramesDecoded) - cappedNum(a.video.FramesDecoded)
		t.Logf("window %2.0f-%2.0fs: %4.0f frames decoded (%.1f/s), %.0f freezes (%.2f s frozen), height %0.f, node forwards %q (%s), estimate %d bit/s",
			a.at.Seconds(), z.at.Seconds(), frames, frames/(z.at-a.at).Seconds(),
			cappedNum(z.video.FreezeCount)-cappedNum(a.video.FreezeCount), cappedNum(z.video.TotalFreezesDuration)-cappedNum(a.video.TotalFreezesDuration),
			cappedNum(z.video.FrameHeight), z.sub.Forwarded, z.sub.Reason, z.est)
		if !(frames > 0) {
			t.Errorf("Chromium decoded no frame from %.0f s to %.0f s under the cap (framesDecoded %.0f then %.0f)",
				a.at.Seconds(), z.at.Seconds(), cappedNum(a.video.FramesDecoded), cappedNum(z.video.FramesDecoded))
		}
	}
	// getStats must give the quality figures as numbers (a missing or
	// non-numeric one fails decoding before this).
	if last.video.FreezeCount == nil || last.video.FramesPerSecond == nil || last.video.TotalFreezesDuration == nil {
		t.Errorf("Chromium's inbound-rtp lacks freezeCount, totalFreezesDuration or framesPerSecond: %s", last)
	}
	span := (last.at - tail[0].at).Seconds()
	frames := cappedNum(last.video.FramesDecoded) - cappedNum(tail[0].video.FramesDecoded)
	var fpsMin, fpsMax float64 = 1e9, 0
	layers := map[string]int{}
	var ests []int64
	var series []string
	for _, s := range tail {
		series = append(series, fmt.Sprint(s.est/1000))
		if s.video.FramesPerSecond != nil {
			fpsMin, fpsMax = min(fpsMin, cappedNum(s.video.FramesPerSecond)), max(fpsMax, cappedNum(s.video.FramesPerSecond))
		}
		layers[s.sub.Forwarded]++
		ests = append(ests, s.est)
	}
	t.Logf("node estimate each second of the last %.0f s, kbit/s: %s", (tail[len(tail)-1].at - tail[0].at).Seconds(), strings.Join(series, " "))
	slices.Sort(ests)
	median := ests[len(ests)/2]
	t.Logf("under the %d bit/s cap, last %.0f s: %.1f frames/s decoded (getStats framesPerSecond %.0f..%.0f, %.0f at the end); "+
		"%.0f freezes lasting %.2f s (since joining: %.0f, %.2f s); frame height %.0f; node forwarded %v (samples by layer), %q at the end (%s); "+
		"estimate median %d bit/s (%.2fx the cap), min %d, max %d",
		rate, span, frames/span, fpsMin, fpsMax, cappedNum(last.video.FramesPerSecond),
		cappedNum(last.video.FreezeCount)-cappedNum(tail[0].video.FreezeCount), cappedNum(last.video.TotalFreezesDuration)-cappedNum(tail[0].video.TotalFreezesDuration),
		cappedNum(last.video.FreezeCount), cappedNum(last.video.TotalFreezesDuration), cappedNum(last.video.FrameHeight),
		layers, last.sub.Forwarded, last.sub.Reason, median, float64(median)/rate, ests[0], ests[len(ests)-1])
	if !last.found {
		fail("the node shows no subscription of Chromium (%s) to the publisher's video", self)
	}
	if last.sub.Forwarded != "q" && last.sub.Forwarded != "h" {
		t.Errorf("under a %d bit/s cap the node forwards %q to Chromium (%s), want q or h", rate, last.sub.Forwarded, last.sub.Reason)
	}
	if lo, hi := int64(0.4*rate), int64(1.3*rate); median < lo || median > hi {
		t.Errorf("the node's median estimate for Chromium over the last %.0f s is %d bit/s, want within [%d, %d] (0.4-1.3x the cap)", span, median, lo, hi)
	}
	if t.Failed() {
		fail("under the cap")
	}

	// Lift the cap: the node must find the room and send f, and Chromium
	// decode 720p.
	link.lift(t)
	lifted := time.Now()
	var toF, to720 time.Duration
	var s cappedSample
	for i := 0; toF == 0 || to720 == 0; i++ {
		s = sample(time.Since(lifted))
		if i%4 == 0 {
			t.Logf("lifted %4.1fs: %s", s.at.Seconds(), s)
		}
		if s.err != nil {
			fail("reading Chromium's inbound video %v after the lift: %v", s.at, s.err)
		}
		if toF == 0 && s.sub.Forwarded == "f" {
			toF = s.at
			t.Logf("node forwards f %v after the lift: %s", toF.Round(time.Millisecond), s)
		}
		if to720 == 0 && s.video.FrameHeight != nil && cappedNum(s.video.FrameHeight) == 720 {
			to720 = s.at
			t.Logf("Chromium decodes 720p %v after the lift: %s", to720.Round(time.Millisecond), s)
		}
		if s.at > liftBound {
			fail("within %v of lifting the cap: node forwards f after %s, Chromium decodes 720p after %s; now %s",
				liftBound, cappedSince(toF), cappedSince(to720), s)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("after the lift: f forwarded in %v, 720p decoded in %v (polled every 250 ms); estimate then %d bit/s",
		toF.Round(10*time.Millisecond), to720.Round(10*time.Millisecond), s.est)
}

// cappedSince renders a time after the lift, "not yet" for none.
func cappedSince(d time.Duration) string {
	if d == 0 {
		return "not yet"
	}
	return d.Round(time.Millisecond).String()
}

// cappedSample is one look at the receiving side: Chromium's own getStats
// and the node's view of its subscription.
type cappedSample struct {
	at    time.Duration // since the sampling started
	video cappedVideo
	err   error
	est   int64 // the node's estimate for Chromium, bits/s
	sub   snapshot.Subscription
	found bool
}

func (s cappedSample) decoding() bool {
	return s.err == nil && s.video.FramesDecoded != nil && cappedNum(s.video.FramesDecoded) > 0
}

func (s cappedSample) String() string {
	f := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprintf("%.6g", *p)
	}
	v := s.video
	return fmt.Sprintf("getStats framesDecoded %s fps %s freezeCount %s totalFreezesDuration %s %sx%s framesDropped %s packetsLost %s; "+
		"node: forwards %q (target %q, %s, max height %d) at %d bit/s, estimate %d bit/s",
		f(v.FramesDecoded), f(v.FramesPerSecond), f(v.FreezeCount), f(v.TotalFreezesDuration), f(v.FrameWidth), f(v.FrameHeight),
		f(v.FramesDropped), f(v.PacketsLost), s.sub.Forwarded, s.sub.Target, s.sub.Reason, s.sub.MaxHeight, s.sub.Bitrate, s.est)
}

// sampleAt is the first sample at or after at (the last one if none).
func cappedSampleAt(ss []cappedSample, at time.Duration) cappedSample {
	for _, s := range ss {
		if s.at >= at-time.Second/2 {
			return s
		}
	}
	return ss[len(ss)-1]
}

// cappedVideo is Chromium's inbound-rtp for one remote camera, as
// getStats gives it: a field the browser leaves out stays nil.
type cappedVideo struct {
	FramesDecoded        *float64 `json:"framesDecoded"`
	FramesPerSecond      *float64 `json:"framesPerSecond"`
	FreezeCount          *float64 `json:"freezeCount"`
	TotalFreezesDuration *float64 `json:"totalFreezesDuration"`
	FrameWidth           *float64 `json:"frameWidth"`
	FrameHeight          *float64 `json:"frameHeight"`
	FramesDropped        *float64 `json:"framesDropped"`
	PacketsLost          *float64 `json:"packetsLost"`
}

// inboundVideo reads the page's inbound-rtp for pid's camera through the
// web client's test hook (window.__switchyard); errCappedNoValue until there is one.
func cappedInbound(page *cappedCDP, pid string) (cappedVideo, error) {
	expr := `(async () => {
  const list = window.__switchyard?.session?.receivers?.().get(` + cappedJS(pid) + `) || [];
  for (const r of list) {
    if (r.kind !== 'video' || r.source === 'screen') continue;
    let out = null;
    (await r.receiver.getStats()).forEach((s) => {
      if (s.type !== 'inbound-rtp') return;
      out = { framesDecoded: s.framesDecoded, framesPerSecond: s.framesPerSecond, freezeCount: s.freezeCount,
        totalFreezesDuration: s.totalFreezesDuration, frameWidth: s.frameWidth, frameHeight: s.frameHeight,
        framesDropped: s.framesDropped, packetsLost: s.packetsLost };
    });
    if (out) return out;
  }
  return null;
})()`
	var v cappedVideo
	err := page.eval(expr, &v)
	return v, err
}

// num is a getStats figure, NaN when the browser left it out.
func cappedNum(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

func cappedJS(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// nodeView is the node's estimate for participant self and its
// subscription to pub's camera.
func cappedNodeView(n *node.Node, room, self, pub string) (int64, snapshot.Subscription, bool) {
	p, ok := findParticipant(n, room, self)
	if !ok {
		return 0, snapshot.Subscription{}, false
	}
	for _, s := range p.Subs {
		if s.Publisher == pub && s.Kind == "video" && s.Source != "screen" {
			return p.EstimateBps, s, true
		}
	}
	return p.EstimateBps, snapshot.Subscription{}, false
}
