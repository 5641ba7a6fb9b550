package node_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/node"
	"github.com/switchyard/switchyard/node/internal/browsertest"
	"github.com/switchyard/switchyard/node/nodetest"
	"github.com/switchyard/switchyard/node/snapshot"
)

// The server recording from the web client (node/web/static/serverrec.js):
// a moderator starts and stops it with the call page's "Server rec" button,
// everyone sees the banner while the node records, and the files play.

// serverRecordFor is how long the recording runs once every track is in it.
const serverRecordFor = 5 * time.Second

// TestBrowserRecording: on a node that requires join tokens, Chromium (a)
// joins with a moderator's token and Firefox (b) with a participant's, both
// publishing fake media. Chromium's page shows the "Server rec" button and
// Firefox's does not; Chromium clicks it (found where a user would click,
// through DevTools) while alone; Firefox joins the recorded meeting late and
// is told. Both show the banner, the node records four tracks for
// serverRecordFor, Chromium clicks again, both banners go, and each file plays
// without a decode error for as long as it was recorded.
func TestBrowserRecording(t *testing.T) {
	skipShort(t)
	needFFprobe(t)
	dir := t.TempDir()
	n := nodetest.Start(t, func(c *node.Config) {
		requireAuth(c)
		c.RecordingDir = dir
	})
	const room = "TestBrowserRecording"
	rep := browsertest.NewReporter(t)
	page := func(tag string, g auth.Grants) string {
		return meetingURL(n, room, rep, tag, url.Values{"token": {token(t, room, tag, g, time.Hour)}})
	}
	a := browsertest.Options{DevTools: true}.Chromium(t, page("a", moderator))
	watch := []*browsertest.Browser{a}
	dt := a.DevTools(t)
	ids := joinedIDs(t, rep, watch, "a")
	if err := dt.SetViewport(1280, 800); err != nil {
		t.Fatal(err)
	}
	rep.WaitFor(t, browserWait, "the moderator's page to show the server recording button", func(m map[string]browsertest.Report) error {
		if c := m["a"].Call; c == nil || !c.ServerRecordingControl || c.ServerRecording || c.ServerRecordingBanner != "" {
			return fmt.Errorf("%w: call %+v", browsertest.ErrPending, c)
		}
		return nil
	}, watch...)
	waitFor(t, browserWait, "the node to receive the moderator's microphone and camera", func() (bool, string) {
		p, ok := findParticipant(n, room, ids["a"])
		return ok && p.Audio && len(p.Layers) > 0, fmt.Sprintf("%+v", p)
	})

	if label := clickServerRecord(t, dt); label != "Server rec" {
		t.Errorf("the moderator clicked a button labelled %q, want \"Server rec\"", label)
	}
	var rec snapshot.Recording
	waitFor(t, browserWait, "the node to record", func() (bool, string) {
		conf, ok := snapOf(n).Find(room)
		if !ok || conf.Recording == nil {
			return false, "not recording"
		}
		rec = *conf.Recording
		return true, ""
	})
	if rec.By != "a" || !strings.HasPrefix(rec.Dir, dir) {
		t.Errorf("the node records %+v, want by the moderator a into %s", rec, dir)
	}
	bannerShown := func(tag string) func(map[string]browsertest.Report) error {
		return func(m map[string]browsertest.Report) error {
			c := m[tag].Call
			if c == nil || !c.ServerRecording || !strings.HasPrefix(c.ServerRecordingBanner, "● Recording") {
				return fmt.Errorf("%w: %s's call %+v", browsertest.ErrPending, tag, c)
			}
			return nil
		}
	}
	rep.WaitFor(t, browserWait, "the moderator's page to show the banner", bannerShown("a"), watch...)
	if c := rep.Latest()["a"].Call; c.ServerRecordingPending != "" || c.ServerRecordingError != "" {
		t.Errorf("the moderator's page after the node started: pending %q, error %q", c.ServerRecordingPending, c.ServerRecordingError)
	}

	// Firefox joins the recorded meeting: told right after it joined.
	b := browsertest.Firefox(t, page("b", publisher))
	watch = append(watch, b)
	ids["b"] = joinedIDs(t, rep, watch, "b")["b"]
	rep.WaitFor(t, browserWait, "Firefox, a late joiner, to show the banner and no button", func(m map[string]browsertest.Report) error {
		if err := bannerShown("b")(m); err != nil {
			return err
		}
		if m["b"].Call.ServerRecordingControl {
			return fmt.Errorf("Firefox, not a moderator, shows the server recording button: %+v", m["b"].Call)
		}
		return nil
	}, watch...)
	t.Logf("Firefox shows %q", rep.Latest()["b"].Call.ServerRecordingBanner)
	decodesBothWays(t, rep, watch)
	waitFor(t, browserWait, "the node to record four tracks", func() (bool, string) {
		conf, ok := snapOf(n).Find(room)
		if !ok || conf.Recording == nil {
			return false, "not recording"
		}
		return conf.Recording.Files == 4, fmt.Sprintf("%+v", *conf.Recording)
	})
	time.Sleep(serverRecordFor)
	if conf, ok := snapOf(n).Find(room); ok && conf.Recording != nil {
		t.Logf("recording after %v: %d files, %d bytes", serverRecordFor, conf.Recording.Files, conf.Recording.Bytes)
	}

	if label := clickServerRecord(t, dt); label != "Stop server rec" {
		t.Errorf("the moderator clicked a button labelled %q, want \"Stop server rec\"", label)
	}
	waitFor(t, browserWait, "the node to stop recording", func() (bool, string) {
		conf, ok := snapOf(n).Find(room)
		return ok && conf.Recording == nil, fmt.Sprintf("%+v", conf)
	})
	rep.WaitFor(t, browserWait, "both pages to take the banner down", func(m map[string]browsertest.Report) error {
		for _, tag := range []string{"a", "b"} {
			c := m[tag].Call
			if c == nil || c.ServerRecording || c.ServerRecordingBanner != "" || c.ServerRecordingReason != "" {
				return fmt.Errorf("%w: %s's call %+v", browsertest.ErrPending, tag, c)
			}
		}
		return nil
	}, watch...)
	for _, tag := range []string{"a", "b"} {
		for _, e := range rep.Latest()[tag].Errors {
			if strings.Contains(e, "recording") {
				t.Errorf("%s's page showed an error: %s", tag, e)
			}
		}
	}

	m := checkRecording(t, rec.Dir)
	var got []string
	for _, f := range m.Files {
		who := map[string]string{ids["a"]: "a", ids["b"]: "b"}[f.Participant]
		got = append(got, who+" "+f.Source.String())
	}
	slices.Sort(got)
	if want := []string{"a camera", "a mic", "b camera", "b mic"}; !slices.Equal(got, want) {
		t.Errorf("recorded %q, want %q", got, want)
	}
}

// snapOf is n's snapshot, addressable.
func snapOf(n *node.Node) *snapshot.Snapshot {
	s := n.Snapshot()
	return &s
}

// clickServerRecord clicks the moderator's server recording button on a
// Chromium page as a user would: it must show, be enabled, and be what is
// under the pointer at its centre. It returns the button's label before the
// click.
func clickServerRecord(t *testing.T, dt *browsertest.DevTools) string {
	t.Helper()
	const js = `(() => {
  const b = document.getElementById('server-record-toggle');
  const r = b.getBoundingClientRect();
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  const state = { shown: !b.hidden && r.width > 0 && r.height > 0, enabled: !b.disabled, onTop: !!hit && b.contains(hit),
    label: b.querySelector('.label').textContent };
  if (state.shown && state.enabled && state.onTop) b.click();
  return state;
})()`
	var label string
	waitFor(t, browserWait, "the server recording button to be clickable", func() (bool, string) {
		raw, err := dt.Eval(js, 10*time.Second)
		if err != nil {
			return false, err.Error()
		}
		var s struct {
			Shown, Enabled, OnTop bool
			Label                 string
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return false, err.Error()
		}
		label = s.Label
		return s.Shown && s.Enabled && s.OnTop, string(raw)
	})
	return label
}
