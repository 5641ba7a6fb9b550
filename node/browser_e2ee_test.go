package node_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/media"
	"github.com/switchyard/switchyard/node"
	"github.com/switchyard/switchyard/node/internal/browsertest"
	"github.com/switchyard/switchyard/node/nodetest"
	"github.com/switchyard/switchyard/node/snapshot"
)

// Real browsers in end-to-end encrypted calls (node/web/static/e2ee*.js):
// the room passphrase comes in the page's fragment (#e2ee=...), each
// browser encrypts every frame it sends and decrypts every frame it
// receives, and the node forwards what it cannot read. What the pages
// decode comes from their reports; what they show (locks, "cannot
// decrypt", the people list) from Chromium's DevTools; which simulcast
// layer the node forwards from its snapshot (the API's model).

const (
	e2eePass  = "correct horse battery staple"
	wrongPass = "incorrect horse"
)

// e2eeURL is meetingURL with the passphrase in the fragment; api, if not
// empty, makes the page use RTCRtpScriptTransform ("script") or
// createEncodedStreams ("streams").
func e2eeURL(n *node.Node, room string, rep *browsertest.Reporter, tag, pass, api string, extra url.Values) string {
	frag := url.Values{"e2ee": {pass}}
	if api != "" {
		frag.Set("e2ee-api", api)
	}
	return meetingURL(n, room, rep, tag, extra) + "#" + frag.Encode()
}

// e2eePage is what a Chromium page shows and counts, read through DevTools.
type e2eePage struct {
	Status string `json:"status"`
	People []struct {
		ID    string   `json:"id"`
		Marks []string `json:"marks"` // class names of the row's marks
	} `json:"people"`
	Self struct {
		Shown  bool `json:"shown"`
		Locked bool `json:"locked"`
	} `json:"self"`
	Call struct {
		Tiles map[string]struct {
			Locked        bool   `json:"locked"`
			CannotDecrypt string `json:"cannotDecrypt"`
			Role          string `json:"role"`
		} `json:"tiles"`
		Participants map[string]struct {
			E2EE bool `json:"e2ee"`
		} `json:"participants"`
		E2EE struct {
			On        bool              `json:"on"`
			API       string            `json:"api"`
			Badge     bool              `json:"badge"`
			Codecs    map[string]string `json:"codecs"` // by source: the first negotiated codec
			Encrypted int64             `json:"encrypted"`
			Decrypted int64             `json:"decrypted"`
			Dropped   int64             `json:"dropped"`
			Reasons   map[string]int64  `json:"reasons"`
		} `json:"e2ee"`
	} `json:"call"`
}

const pageStateJS = `(() => {
  const $ = (id) => document.getElementById(id);
  const self = $('self');
  return {
    status: $('status').textContent,
    people: [...document.querySelectorAll('#people-list li')].map((li) => ({
      id: li.dataset.id, marks: [...li.querySelectorAll('.person-marks span')].map((s) => s.className) })),
    self: { shown: !self.hidden, locked: !self.querySelector('.lock').hidden },
    call: __switchyard.callState(),
  };
})()`

func readPage(dt *browsertest.DevTools) (e2eePage, error) {
	var p e2eePage
	raw, err := dt.Eval(pageStateJS, 10*time.Second)
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return p, fmt.Errorf("page state %s: %w", raw, err)
	}
	return p, nil
}

// waitPage polls a Chromium page until cond accepts what it shows.
func waitPage(t *testing.T, dt *browsertest.DevTools, what string, cond func(e2eePage) error) e2eePage {
	t.Helper()
	var p e2eePage
	waitFor(t, browserWait, what, func() (bool, string) {
		var err error
		if p, err = readPage(dt); err != nil {
			return false, err.Error()
		}
		if err := cond(p); err != nil {
			return false, fmt.Sprintf("%v; page: %+v", err, p)
		}
		return true, ""
	})
	return p
}

// joinedIDs waits until every tagged page has joined and returns their ids.
func joinedIDs(t *testing.T, rep *browsertest.Reporter, watch []*browsertest.Browser, tags ...string) map[string]string {
	t.Helper()
	ids := map[string]string{}
	rep.WaitFor(t, browserWait, "pages "+strings.Join(tags, ", ")+" to join", func(m map[string]browsertest.Report) error {
		for _, tag := range tags {
			if m[tag].ID == "" {
				return fmt.Errorf("%w: page %s has not joined", browsertest.ErrPending, tag)
			}
			ids[tag] = m[tag].ID
		}
		return nil
	}, watch...)
	return ids
}

// decodesBothWays waits until pages a and b each decode the other's video
// and play its audio (not silence, not all concealed), twice over a
// second apart, and returns the last reports.
func decodesBothWays(t *testing.T, rep *browsertest.Reporter, watch []*browsertest.Browser) map[string]browsertest.Report {
	t.Helper()
	tags := []string{"a", "b"}
	var first map[string]browsertest.Report
	rep.WaitFor(t, browserWait, "encrypted video decoded and audio heard both ways", func(m map[string]browsertest.Report) error {
		for _, p := range pairs(m, tags) {
			v, au := p.remote.Video, p.remote.Audio
			if v == nil || v.FramesDecoded == 0 || au == nil || au.TotalAudioEnergy == 0 {
				return fmt.Errorf("%w: %s (%s) from %s: %s", browsertest.ErrPending, p.tag, p.self.Browser, p.peerID, remoteString(p.remote))
			}
		}
		if first == nil {
			first = m
		}
		for _, p := range pairs(m, tags) {
			was := first[p.tag].Remotes[p.peerID]
			if p.self.Time < first[p.tag].Time+1000 {
				return fmt.Errorf("%w: a second more", browsertest.ErrPending)
			}
			samples := p.remote.Audio.TotalSamplesReceived - was.Audio.TotalSamplesReceived
			concealed := p.remote.Audio.ConcealedSamples - was.Audio.ConcealedSamples
			if p.remote.Video.FramesDecoded <= was.Video.FramesDecoded || p.remote.Audio.TotalAudioEnergy <= was.Audio.TotalAudioEnergy ||
				samples == 0 || concealed >= samples {
				return fmt.Errorf("%s from %s stalled: %s; audio %d new samples, %d concealed", p.tag, p.peerID, remoteString(p.remote), samples, concealed)
			}
		}
		return nil
	}, watch...)
	last := rep.Latest()
	for _, p := range pairs(last, tags) {
		v, au := p.remote.Video, p.remote.Audio
		first := "?"
		if v.FirstFrameMs != nil {
			first = fmt.Sprintf("%.1f s", *v.FirstFrameMs/1000)
		}
		t.Logf("%s (%s) from %s: %d frames decoded at %dx%d (the first %s after loading, now %.1f s), %d packets; audio %d packets, %d samples, %d concealed, energy %.3g",
			p.tag, p.self.Browser, p.peerID, v.FramesDecoded, v.FrameWidth, v.FrameHeight, first, p.self.SinceLoad/1000, v.PacketsReceived,
			au.PacketsReceived, au.TotalSamplesReceived, au.ConcealedSamples, au.TotalAudioEnergy)
	}
	return last
}

// TestBrowserE2EE: Chromium (a) and Firefox (b) with the same passphrase
// decode each other's encrypted video and audio; a second Chromium (c)
// with the wrong passphrase, watching and listening only, receives their
// packets but decodes nothing and says so on their tiles; a and b show
// locks, no tile for c and c in their people lists; a's constraint change
// makes the node switch b's simulcast layer, which needs keyframes it can
// only find in encrypted frames through their clear VP8 header.
func TestBrowserE2EE(t *testing.T) {
	skipShort(t)
	n := nodetest.Start(t, nil)
	const room = "TestBrowserE2EE"
	rep := browsertest.NewReporter(t)
	a := browsertest.Options{DevTools: true}.Chromium(t, e2eeURL(n, room, rep, "a", e2eePass, "", nil))
	b := browsertest.Firefox(t, e2eeURL(n, room, rep, "b", e2eePass, "", nil))
	watch := []*browsertest.Browser{a, b}
	dtA := a.DevTools(t)
	ids := joinedIDs(t, rep, watch, "a", "b")
	decodesBothWays(t, rep, watch)

	c := browsertest.Options{DevTools: true}.Chromium(t, e2eeURL(n, room, rep, "c", wrongPass, "", url.Values{"mic": {"0"}, "camera": {"0"}}))
	watch = append(watch, c)
	dtC := c.DevTools(t)
	ids["c"] = joinedIDs(t, rep, watch, "c")["c"]

	t.Run("wrong passphrase", func(t *testing.T) {
		var from map[string]browsertest.Remote
		var since float64
		rep.WaitFor(t, browserWait, "c to receive a's and b's packets for 3 s without decoding a frame", func(m map[string]browsertest.Report) error {
			r := m["c"]
			for _, tag := range []string{"a", "b"} {
				v, au := r.Remotes[ids[tag]].Video, r.Remotes[ids[tag]].Audio
				if v == nil || au == nil || v.PacketsReceived == 0 || au.PacketsReceived == 0 {
					return fmt.Errorf("%w: c receives from %s: %s", browsertest.ErrPending, tag, remoteString(r.Remotes[ids[tag]]))
				}
				if v.FramesDecoded > 0 {
					return fmt.Errorf("c, with the wrong passphrase, decoded %d frames of %s", v.FramesDecoded, tag)
				}
			}
			if from == nil {
				from, since = r.Remotes, r.Time
			}
			if r.Time < since+3000 {
				return fmt.Errorf("%w: watching longer", browsertest.ErrPending)
			}
			for _, tag := range []string{"a", "b"} {
				if now, was := r.Remotes[ids[tag]], from[ids[tag]]; now.Video.PacketsReceived <= was.Video.PacketsReceived+20 || now.Audio.PacketsReceived <= was.Audio.PacketsReceived+50 {
					return fmt.Errorf("c's packets from %s stopped growing: %s, then %s", tag, remoteString(was), remoteString(now))
				}
			}
			return nil
		}, watch...)
		for _, tag := range []string{"a", "b"} {
			v, au := rep.Latest()["c"].Remotes[ids[tag]].Video, rep.Latest()["c"].Remotes[ids[tag]].Audio
			t.Logf("c (wrong passphrase) from %s: video %d packets, %d frames decoded; audio %d packets, %d samples, %d concealed, energy %.3g",
				tag, v.PacketsReceived, v.FramesDecoded, au.PacketsReceived, au.TotalSamplesReceived, au.ConcealedSamples, au.TotalAudioEnergy)
		}
		p := waitPage(t, dtC, "c to show it cannot decrypt a and b", func(p e2eePage) error {
			for _, tag := range []string{"a", "b"} {
				if got, want := p.Call.Tiles[ids[tag]].CannotDecrypt, "cannot decrypt "+tag; got != want {
					return fmt.Errorf("tile of %s says %q, want %q", tag, got, want)
				}
			}
			if p.Call.E2EE.Decrypted != 0 || p.Call.E2EE.Reasons["recv bad tag"] == 0 {
				return fmt.Errorf("decrypted %d, drops %v", p.Call.E2EE.Decrypted, p.Call.E2EE.Reasons)
			}
			return nil
		})
		t.Logf("c: %d frames dropped %v, none decrypted; tiles %+v", p.Call.E2EE.Dropped, p.Call.E2EE.Reasons, p.Call.Tiles)
	})

	t.Run("marks", func(t *testing.T) {
		nodeID := n.Snapshot().Node.ID
		p := waitPage(t, dtA, "a to show the locks, c in the people list only", func(p e2eePage) error {
			e := p.Call.E2EE
			switch {
			case p.Status != "connected as a on "+nodeID:
				return fmt.Errorf("status %q", p.Status)
			case !e.On || e.API != "script" || !e.Badge || !p.Self.Shown || !p.Self.Locked:
				return fmt.Errorf("own encryption not shown: %+v, self %+v", e, p.Self)
			case e.Codecs["mic"] != "audio/opus" || e.Codecs["camera"] != "video/VP8":
				return fmt.Errorf("sends with %v, want Opus without RED and VP8", e.Codecs)
			case e.Encrypted == 0 || e.Decrypted == 0:
				return fmt.Errorf("encrypted %d, decrypted %d frames", e.Encrypted, e.Decrypted)
			case !p.Call.Tiles[ids["b"]].Locked || p.Call.Tiles[ids["b"]].CannotDecrypt != "":
				return fmt.Errorf("b's tile %+v", p.Call.Tiles[ids["b"]])
			}
			if _, ok := p.Call.Tiles[ids["c"]]; ok {
				return fmt.Errorf("a shows a tile for c, who only watches: %+v", p.Call.Tiles)
			}
			listed := map[string]bool{}
			for _, row := range p.People {
				listed[row.ID] = slices.Contains(row.Marks, "e2ee")
			}
			for _, tag := range []string{"a", "b", "c"} {
				if locked, ok := listed[ids[tag]]; !ok || !locked || !(tag == "a" || p.Call.Participants[ids[tag]].E2EE) {
					return fmt.Errorf("people list %+v, participants %+v: %s not listed with a lock", p.People, p.Call.Participants, tag)
				}
			}
			return nil
		})
		t.Logf("a: status %q, %+v, b's tile %+v, people %+v", p.Status, p.Call.E2EE, p.Call.Tiles[ids["b"]], p.People)
		// Firefox (b) shows the same, as its reports say.
		rep.WaitFor(t, browserWait, "b (Firefox) to show the locks, c in its participants only", func(m map[string]browsertest.Report) error {
			return reportedMarks(m["b"], ids["a"], ids["c"])
		}, watch...)
		r := rep.Latest()["b"]
		t.Logf("b (Firefox): %+v, a's tile %+v, own tile %+v, participants %+v", r.Call.E2EE, r.Call.Tiles[ids["a"]], r.Call.Tiles["self"], r.Call.Participants)
		if q, err := readPage(dtC); err != nil || q.Self.Shown {
			t.Errorf("c, watching only, shows its own tile (%v)", err)
		}
		for _, tag := range []string{"a", "b", "c"} {
			if p, ok := findParticipant(n, room, ids[tag]); !ok || !p.E2EE {
				t.Errorf("the node's snapshot of %s: %+v, want E2EE", tag, p)
			}
		}
	})

	t.Run("layer switch", func(t *testing.T) {
		switchLayers(t, n, room, rep, dtA, watch, ids["a"], ids["b"])
	})
}

// TestBrowserE2EECascade: the same across the relay of two nodes, with
// Chromium's older createEncodedStreams: Chromium (a) on node us and
// Firefox (b) redirected to node eu decode each other, and a's constraint
// change switches b's layer at node us, from what crosses the relay.
func TestBrowserE2EECascade(t *testing.T) {
	skipShort(t)
	nodes := startCascade(t, []string{"us", "eu"}, nil)
	const room = "TestBrowserE2EECascade"
	rep := browsertest.NewReporter(t)
	a := browsertest.Options{DevTools: true}.Chromium(t, e2eeURL(nodes["us"], room, rep, "a", e2eePass, "streams", url.Values{"region": {"us"}}))
	b := browsertest.Firefox(t, e2eeURL(nodes["us"], room, rep, "b", e2eePass, "", url.Values{"region": {"eu"}}))
	watch := []*browsertest.Browser{a, b}
	dt := a.DevTools(t)
	ids := joinedIDs(t, rep, watch, "a", "b")
	for tag, region := range map[string]string{"a": "us", "b": "eu"} {
		waitFor(t, browserWait, tag+" hosted by node "+region, func() (bool, string) {
			p, ok := findParticipant(nodes[region], room, ids[tag])
			return ok && !p.Remote && p.E2EE, fmt.Sprintf("%+v", p)
		})
	}
	if p, ok := findParticipant(nodes["us"], room, ids["b"]); !ok || !p.Remote || !p.E2EE {
		t.Errorf("node us sees b as %+v, want a remote participant that encrypts", p)
	}
	decodesBothWays(t, rep, watch)
	p := waitPage(t, dt, "a to use createEncodedStreams and show b's lock", func(p e2eePage) error {
		if p.Call.E2EE.API != "streams" || p.Call.E2EE.Decrypted == 0 || !p.Call.Tiles[ids["b"]].Locked {
			return fmt.Errorf("e2ee %+v, b's tile %+v", p.Call.E2EE, p.Call.Tiles[ids["b"]])
		}
		return nil
	})
	t.Logf("a: %+v", p.Call.E2EE)
	rep.WaitFor(t, browserWait, "b (Firefox, on node eu) to show its encryption and a's lock", func(m map[string]browsertest.Report) error {
		return reportedMarks(m["b"], ids["a"], "")
	}, watch...)
	t.Logf("b (Firefox): %+v, a's tile %+v", rep.Latest()["b"].Call.E2EE, rep.Latest()["b"].Call.Tiles[ids["a"]])
	switchLayers(t, nodes["us"], room, rep, dt, watch, ids["a"], ids["b"])
}

// reportedMarks checks, from a page's report (Firefox's, which no test can
// drive), what marks checks on a Chromium page through DevTools: its own
// encryption (the badge, RTCRtpScriptTransform, Opus without RED and VP8,
// frames encrypted and decrypted, a lock on its own tile), peer's tile
// locked and decrypting, and watcher (if any), who only watches, known to
// encrypt but given no tile. nil when all hold.
func reportedMarks(r browsertest.Report, peer, watcher string) error {
	c := r.Call
	if c == nil {
		return fmt.Errorf("%w: %s reports no call state", browsertest.ErrPending, r.Browser)
	}
	e, self := c.E2EE, c.Tiles["self"]
	switch {
	case !e.On || e.API != "script" || !e.Badge:
		return fmt.Errorf("own encryption not shown: %+v", e)
	case !self.Locked || self.Role == "hidden" || self.Role == "":
		return fmt.Errorf("own tile %+v, want shown with a lock", self)
	case e.Codecs["mic"] != "audio/opus" || e.Codecs["camera"] != "video/VP8":
		return fmt.Errorf("sends with %v, want Opus without RED and VP8", e.Codecs)
	case e.Encrypted == 0 || e.Decrypted == 0:
		return fmt.Errorf("%w: encrypted %d, decrypted %d frames", browsertest.ErrPending, e.Encrypted, e.Decrypted)
	case !c.Tiles[peer].Locked || c.Tiles[peer].CannotDecrypt != "":
		return fmt.Errorf("%w: %s's tile %+v, want locked and decrypting", browsertest.ErrPending, peer, c.Tiles[peer])
	case !c.Participants[peer].E2EE:
		return fmt.Errorf("%w: participants %+v: %s not known to encrypt", browsertest.ErrPending, c.Participants, peer)
	}
	if watcher == "" {
		return nil
	}
	if _, ok := c.Tiles[watcher]; ok {
		return fmt.Errorf("a tile for %s, who only watches: %+v", watcher, c.Tiles)
	}
	if p, ok := c.Participants[watcher]; !ok || !p.E2EE {
		return fmt.Errorf("%w: participants %+v: %s not known to encrypt", browsertest.ErrPending, c.Participants, watcher)
	}
	return nil
}

// switchLayers makes receiver's page (driven through dt, tag "a") show
// publisher's tile large, small (its own tile pinned large), then large
// again, and checks that the
// node (receiver's) forwards another simulcast layer each time and that the
// page then decodes frames of that layer's size: the node could switch only
// on a keyframe of the encrypted stream, found through its clear VP8 header.
func switchLayers(t *testing.T, n *node.Node, room string, rep *browsertest.Reporter, dt *browsertest.DevTools, watch []*browsertest.Browser, receiver, publisher string) {
	t.Helper()
	type step struct {
		sub    snapshot.Subscription
		height int // the forwarded layer's height, as the node saw it
		video  browsertest.VideoStats
	}
	sub := func() (snapshot.Subscription, int, string) {
		p, ok := findParticipant(n, room, receiver)
		pub, pubOK := findParticipant(n, room, publisher)
		if !ok || !pubOK {
			return snapshot.Subscription{}, 0, "participant not found"
		}
		for _, s := range p.Subs {
			if s.Publisher != publisher || s.Source != "camera" {
				continue
			}
			height := 0
			for _, l := range pub.Layers {
				if l.RID == s.Forwarded {
					height = l.Height
				}
			}
			return s, height, fmt.Sprintf("forwarded %q (%d high), target %q (%s), max height %d", s.Forwarded, height, s.Target, s.Reason, s.MaxHeight)
		}
		return snapshot.Subscription{}, 0, fmt.Sprintf("no camera subscription: %+v", p.Subs)
	}
	// to pins a tile ('' for none) and waits for the node to settle on a
	// layer other than the last one for a tile that fits, then for the page
	// to decode it.
	to := func(what, pin string, fits func(maxHeight int) bool, last string) step {
		if _, err := dt.Eval(fmt.Sprintf("__switchyard.grid.pin(%q)", pin), 10*time.Second); err != nil {
			t.Fatal(err)
		}
		var st step
		waitFor(t, browserWait, "the node to forward "+what, func() (bool, string) {
			var seen string
			st.sub, st.height, seen = sub()
			s := st.sub
			// The layer the tile asks for, not one the bandwidth estimate
			// holds back for a moment (a loaded machine delays feedback).
			settled := !strings.HasPrefix(s.Reason, "bandwidth")
			return fits(s.MaxHeight) && settled && s.Forwarded != "" && s.Forwarded == s.Target && s.Forwarded != last && st.height > 0, seen
		})
		t.Logf("the node forwards %s: %q (%d high), %s", what, st.sub.Forwarded, st.height, st.sub.Reason)
		since := rep.Latest()["a"]
		rep.WaitFor(t, browserWait, "a to decode "+what, func(m map[string]browsertest.Report) error {
			now, was := m["a"].Remotes[publisher].Video, since.Remotes[publisher].Video
			if now == nil || was == nil || now.FrameHeight != st.height || now.FramesDecoded < was.FramesDecoded+20 {
				return fmt.Errorf("%w: want frames %d high: %s", browsertest.ErrPending, st.height, remoteString(m["a"].Remotes[publisher]))
			}
			st.video = *now
			return nil
		}, watch...)
		return st
	}
	large := func(h int) bool { return h >= 300 }
	small := func(h int) bool { return h > 0 && h <= 150 }
	if err := dt.SetViewport(1280, 800); err != nil {
		t.Fatal(err)
	}
	// A switch needs two layers. A browser short of CPU (a -race run
	// on a loaded two-core machine) may publish one only: then there is
	// nothing to switch between, whatever the node does.
	if _, err := dt.Eval(fmt.Sprintf("__switchyard.grid.pin(%q)", publisher), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	activeLayers := func() (int, string) {
		pub, ok := findParticipant(n, room, publisher)
		if !ok {
			return 0, "publisher not found"
		}
		var active []string
		for _, l := range pub.Layers {
			if l.Active {
				active = append(active, fmt.Sprintf("%s %dx%d", l.RID, l.Width, l.Height))
			}
		}
		return len(active), strings.Join(active, ", ")
	}
	for deadline := time.Now().Add(browserWait); ; time.Sleep(500 * time.Millisecond) {
		c, seen := activeLayers()
		if c >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Skipf("the publisher sends %d simulcast layer(s) (%s) after %v: the browser adapted to the machine's load; no layer to switch to", c, seen, browserWait)
		}
	}
	steps := []step{to("a layer for a large tile", publisher, large, "")}
	if steps[0].sub.Forwarded == media.RIDs[0] {
		t.Skipf("the lowest layer is the best the node has for a large tile (%s): the publisher's higher layers do not arrive (a browser short of CPU); no layer to switch to", steps[0].sub.Reason)
	}
	steps = append(steps, to("a lower layer for a small tile", "self", small, steps[0].sub.Forwarded))
	steps = append(steps, to("a higher layer for a large tile again", publisher, large, steps[1].sub.Forwarded))
	var log []string
	for _, s := range steps {
		log = append(log, fmt.Sprintf("%q for max height %d: decoded %dx%d, %d frames", s.sub.Forwarded, s.sub.MaxHeight, s.video.FrameWidth, s.video.FrameHeight, s.video.FramesDecoded))
	}
	t.Logf("layer switches: %s", strings.Join(log, " -> "))
	if steps[1].height >= steps[0].height || steps[2].height <= steps[1].height {
		t.Errorf("layer heights %d -> %d -> %d: not down then up", steps[0].height, steps[1].height, steps[2].height)
	}
}
