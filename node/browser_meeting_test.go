package node_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/node"
	"github.com/switchyard/switchyard/node/internal/browsertest"
	"github.com/switchyard/switchyard/node/nodetest"
	"github.com/switchyard/switchyard/node/snapshot"
)

// Real browsers using the web client's meeting features (docs/protocol.md,
// "Sources, mute, camera, screen share, recording"): Chromium is driven
// through its DevTools port, calling the page's test hooks
// (window.__switchyard, node/web/static/testhooks.js); what the other side
// sees comes from its reports and from the node's snapshot.

// recordSeconds is how long Chromium records the meeting (?record=).
const recordSeconds = 4

// TestBrowserMeetingControls: Chromium (a) and Firefox (b) in one room.
// Chromium records for recordSeconds (Firefox shows the REC mark, the WebM
// file lasts as long), mutes and unmutes, turns its camera off and on, and
// shares its fake screen and stops; each time Firefox's getStats() and
// tiles and the node's API must agree.
func TestBrowserMeetingControls(t *testing.T) {
	skipShort(t)
	n := nodetest.Start(t, nil)
	rep := browsertest.NewReporter(t)
	room := "TestBrowserMeetingControls"
	// Firefox first: Chromium starts recording 2 s after it joins, and
	// Firefox must be there to see it.
	b := browsertest.Firefox(t, meetingURL(n, room, rep, "b", nil))
	rep.WaitFor(t, browserWait, "Firefox to join", func(m map[string]browsertest.Report) error {
		if m["b"].ID == "" {
			return fmt.Errorf("%w: Firefox has not joined", browsertest.ErrPending)
		}
		return nil
	}, b)
	a := browsertest.Options{DevTools: true}.Chromium(t, meetingURL(n, room, rep, "a", url.Values{"record": {strconv.Itoa(recordSeconds)}}))
	watch := []*browsertest.Browser{a, b}
	dt := a.DevTools(t)

	var aID string
	rep.WaitFor(t, browserWait, "Chromium to join", func(m map[string]browsertest.Report) error {
		if aID = m["a"].ID; aID == "" {
			return fmt.Errorf("%w: Chromium has not joined", browsertest.ErrPending)
		}
		return nil
	}, watch...)
	ctl := &meetingCall{n: n, room: room, rep: rep, dt: dt, watch: watch, aID: aID, bID: rep.Latest()["b"].ID}
	if !t.Run("recording", ctl.recording) {
		return
	}
	rep.WaitFor(t, browserWait, "Firefox to decode Chromium's video and hear its audio", func(m map[string]browsertest.Report) error {
		r := m["b"].Remotes[aID]
		if r.Video == nil || r.Video.FramesDecoded == 0 || r.Audio == nil || r.Audio.PacketsReceived == 0 {
			return fmt.Errorf("%w: Firefox receives %s", browsertest.ErrPending, remoteString(r))
		}
		return nil
	}, watch...)
	// Each step starts from where the one before left the call.
	_ = t.Run("mute", ctl.mute) && t.Run("camera", ctl.camera) && t.Run("share", ctl.share)
}

// meetingCall is the two-browser call the steps of TestBrowserMeetingControls
// share: page a is Chromium (driven), page b Firefox (watching).
type meetingCall struct {
	n     *node.Node
	room  string
	rep   *browsertest.Reporter
	dt    *browsertest.DevTools
	watch []*browsertest.Browser
	aID   string // Chromium's participant
	bID   string // Firefox's participant
}

// nodeView is what the node forwards from Chromium to Firefox and what it
// receives from Chromium, for failure messages.
func (c *meetingCall) nodeView() string {
	var parts []string
	if b, ok := findParticipant(c.n, c.room, c.bID); ok {
		for _, s := range b.Subs {
			if s.Publisher == c.aID {
				parts = append(parts, fmt.Sprintf("%s forwarded %q target %q (%s)", s.Source, s.Forwarded, s.Target, s.Reason))
			}
		}
	}
	if a, ok := findParticipant(c.n, c.room, c.aID); ok {
		for _, l := range a.Layers {
			parts = append(parts, fmt.Sprintf("layer %s active %v %dx%d %d bit/s", l.RID, l.Active, l.Width, l.Height, l.Bitrate))
		}
	}
	return "node: " + strings.Join(parts, "; ")
}

// do calls one of Chromium's test hooks.
func (c *meetingCall) do(t *testing.T, expr string) {
	t.Helper()
	if _, err := c.dt.Eval(expr, 20*time.Second); err != nil {
		t.Fatalf("Chromium: %v", err)
	}
}

// atNode waits until the node's view of Chromium's participant satisfies ok.
func (c *meetingCall) atNode(t *testing.T, what string, ok func(snapshot.Participant) bool) {
	t.Helper()
	waitFor(t, browserWait, "the node to show "+what, func() (bool, string) {
		p, found := findParticipant(c.n, c.room, c.aID)
		if !found {
			return false, "participant not found"
		}
		return ok(*p), fmt.Sprintf("%+v", *p)
	})
}

// seen is what Firefox's page reports of Chromium's participant.
type seen struct {
	remote browsertest.Remote
	flags  browsertest.ParticipantFlags
	tile   browsertest.Tile
	screen *browsertest.Tile // the share's tile, if any
	at     float64           // the report's time, ms
}

func (c *meetingCall) seenBy(m map[string]browsertest.Report) (seen, error) {
	r := m["b"]
	if r.Call == nil {
		return seen{}, fmt.Errorf("%w: Firefox reports no call state", browsertest.ErrPending)
	}
	tile, ok := r.Call.Tiles[c.aID]
	if !ok {
		return seen{}, fmt.Errorf("%w: Firefox shows no tile for %s: %+v", browsertest.ErrPending, c.aID, r.Call.Tiles)
	}
	s := seen{remote: r.Remotes[c.aID], flags: r.Call.Participants[c.aID], tile: tile, at: r.Time}
	if st, ok := r.Call.Tiles[c.aID+"/screen"]; ok {
		s.screen = &st
	}
	return s, nil
}

// waitSeen polls Firefox's view of Chromium until cond accepts it.
func (c *meetingCall) waitSeen(t *testing.T, what string, cond func(seen) error) seen {
	t.Helper()
	var last seen
	c.rep.WaitFor(t, browserWait, what, func(m map[string]browsertest.Report) error {
		s, err := c.seenBy(m)
		if err != nil {
			return err
		}
		last = s
		return cond(s)
	}, c.watch...)
	return last
}

// fresh waits for a Firefox report at least d newer than since.
func (c *meetingCall) fresh(t *testing.T, since seen, d time.Duration) seen {
	t.Helper()
	return c.waitSeen(t, "a newer report from Firefox", func(s seen) error {
		if s.at < since.at+float64(d.Milliseconds()) {
			return browsertest.ErrPending
		}
		return nil
	})
}

// recording: ?record= makes Chromium record 2 s after joining; Firefox must
// show the REC mark meanwhile, and the file must last as long as asked.
func (c *meetingCall) recording(t *testing.T) {
	// The node first: it knows at once, Firefox's page within a report.
	c.atNode(t, "Recording", func(p snapshot.Participant) bool { return p.Recording })
	c.waitSeen(t, "Firefox to show Chromium's recording notice", func(s seen) error {
		if !s.flags.Recording || !s.tile.Recording {
			return fmt.Errorf("%w: participant flags %+v, tile %+v", browsertest.ErrPending, s.flags, s.tile)
		}
		return nil
	})
	var webm []byte
	waitFor(t, browserWait, "Chromium's recording to arrive", func() (bool, string) {
		webm = c.rep.Recording("a")
		return webm != nil, "nothing POSTed yet"
	})
	c.waitSeen(t, "Firefox to take the recording notice down", func(s seen) error {
		if s.flags.Recording || s.tile.Recording {
			return fmt.Errorf("%w: participant flags %+v, tile %+v", browsertest.ErrPending, s.flags, s.tile)
		}
		return nil
	})
	c.atNode(t, "the recording ended", func(p snapshot.Participant) bool { return !p.Recording })
	c.rep.WaitFor(t, browserWait, "Chromium's page to count one WebM recording", func(m map[string]browsertest.Report) error {
		call := m["a"].Call
		if call == nil || call.Recordings != 1 || call.LastRecording == nil || call.LastRecording.Type != "video/webm" {
			return fmt.Errorf("%w: Chromium's page reports %+v", browsertest.ErrPending, call)
		}
		return nil
	}, c.watch...)

	file := filepath.Join(t.TempDir(), "recording.webm")
	if err := os.WriteFile(file, webm, 0o600); err != nil {
		t.Fatal(err)
	}
	info, err := probeWebM(file)
	if err != nil {
		t.Fatal(err)
	}
	want := float64(recordSeconds)
	t.Logf("recording: %d bytes, %.3f s by %s (asked for %d s); %s",
		len(webm), info.duration, info.how, recordSeconds, strings.Join(info.streams, "; "))
	if math.Abs(info.duration-want) > 0.1*want {
		t.Errorf("the recording lasts %.3f s (%s), want %d s ± 10%%", info.duration, info.how, recordSeconds)
	}
	if info.videoFrames == 0 || info.audioPackets == 0 {
		t.Errorf("the recording lacks video or audio: %s", strings.Join(info.streams, "; "))
	}
}

// mute: with Chromium's microphone off, Firefox receives no more audio
// packets and shows the muted mark, and the node shows MicOff; unmuting
// brings the audio back.
func (c *meetingCall) mute(t *testing.T) {
	c.do(t, "__switchyard.controls.toggleMic(true)")
	c.atNode(t, "MicOff", func(p snapshot.Participant) bool { return p.MicOff })
	off := c.waitSeen(t, "Firefox to show Chromium muted", func(s seen) error {
		if !s.flags.MicOff || !s.tile.MicOff {
			return fmt.Errorf("%w: participant flags %+v, tile %+v", browsertest.ErrPending, s.flags, s.tile)
		}
		return nil
	})
	// Packets already on their way when the mute took effect still arrive:
	// count from a second later, over two more seconds.
	start := c.fresh(t, off, time.Second)
	end := c.fresh(t, start, 2*time.Second)
	if p0, p1 := audioPackets(start.remote), audioPackets(end.remote); p1 > p0 {
		t.Errorf("muted, Firefox still received %d audio packets in %.1f s (%d -> %d)", p1-p0, (end.at-start.at)/1000, p0, p1)
	} else {
		t.Logf("muted: Firefox's audio packetsReceived stayed at %d for %.1f s", p1, (end.at-start.at)/1000)
	}

	c.do(t, "__switchyard.controls.toggleMic(false)")
	c.atNode(t, "the microphone on", func(p snapshot.Participant) bool { return !p.MicOff })
	// 50 packets: a second of 20 ms Opus frames.
	var from *seen
	on := c.waitSeen(t, "Firefox to receive Chromium's audio again", func(s seen) error {
		if s.flags.MicOff || s.tile.MicOff {
			return fmt.Errorf("%w: participant flags %+v, tile %+v", browsertest.ErrPending, s.flags, s.tile)
		}
		if from == nil || audioPackets(s.remote) < audioPackets(from.remote) {
			from = &s
		}
		if audioPackets(s.remote)-audioPackets(from.remote) < 50 {
			return fmt.Errorf("%w: audio packets %d -> %d", browsertest.ErrPending, audioPackets(from.remote), audioPackets(s.remote))
		}
		return nil
	})
	t.Logf("unmuted: Firefox received %d audio packets in %.1f s", audioPackets(on.remote)-audioPackets(from.remote), (on.at-from.at)/1000)
}

// camera: with Chromium's camera off, Firefox's tile shows the avatar and
// the node shows CameraOff; turned on, frames are decoded again.
func (c *meetingCall) camera(t *testing.T) {
	c.do(t, "__switchyard.controls.toggleCamera(true)")
	c.atNode(t, "CameraOff", func(p snapshot.Participant) bool { return p.CameraOff })
	off := c.waitSeen(t, "Firefox to show Chromium's avatar", func(s seen) error {
		if !s.flags.CameraOff || !s.tile.NoVideo {
			return fmt.Errorf("%w: participant flags %+v, tile %+v", browsertest.ErrPending, s.flags, s.tile)
		}
		return nil
	})
	start := c.fresh(t, off, time.Second)
	end := c.fresh(t, start, 2*time.Second)
	if f0, f1 := framesDecoded(start.remote.Video), framesDecoded(end.remote.Video); f1 > f0 {
		t.Errorf("camera off, Firefox still decoded %d frames in %.1f s", f1-f0, (end.at-start.at)/1000)
	}

	c.do(t, "__switchyard.controls.toggleCamera(false)")
	c.atNode(t, "the camera on", func(p snapshot.Participant) bool { return !p.CameraOff })
	var from *seen
	on := c.waitSeen(t, "Firefox to decode Chromium's video again", func(s seen) error {
		if s.flags.CameraOff || s.tile.NoVideo {
			return fmt.Errorf("%w: participant flags %+v, tile %+v", browsertest.ErrPending, s.flags, s.tile)
		}
		if from == nil || framesDecoded(s.remote.Video) < framesDecoded(from.remote.Video) {
			from = &s
		}
		if framesDecoded(s.remote.Video)-framesDecoded(from.remote.Video) < 10 {
			return fmt.Errorf("%w: %s; %s", browsertest.ErrPending, remoteString(s.remote), c.nodeView())
		}
		return nil
	})
	t.Logf("camera back on: Firefox decoded %d frames in %.1f s (%s)", framesDecoded(on.remote.Video)-framesDecoded(from.remote.Video), (on.at-from.at)/1000, remoteString(on.remote))
}

// share: Chromium shares its (fake) screen; Firefox shows it large and
// decodes it at a higher resolution than the camera, now a small picture
// in picture; stopping the share takes it away from Firefox and the node.
func (c *meetingCall) share(t *testing.T) {
	c.do(t, "__switchyard.controls.toggleShare()")
	c.atNode(t, "Sharing", func(p snapshot.Participant) bool { return p.Sharing })
	var from *seen
	on := c.waitSeen(t, "Firefox to decode Chromium's screen above its camera's resolution", func(s seen) error {
		scr, cam := s.remote.Screen, s.remote.Video
		if !s.flags.Sharing || s.screen == nil || scr == nil || cam == nil {
			return fmt.Errorf("%w: flags %+v, screen tile %+v, %s", browsertest.ErrPending, s.flags, s.screen, remoteString(s.remote))
		}
		if from == nil || scr.FramesDecoded < framesDecoded(from.remote.Screen) {
			from = &s
		}
		if scr.FramesDecoded-framesDecoded(from.remote.Screen) < 5 || s.screen.Role != "main" {
			return fmt.Errorf("%w: screen tile %+v, %s", browsertest.ErrPending, *s.screen, remoteString(s.remote))
		}
		if scr.FrameHeight <= cam.FrameHeight {
			return fmt.Errorf("%w: screen decoded at %dx%d, camera (tile %dx%d) at %dx%d", browsertest.ErrPending,
				scr.FrameWidth, scr.FrameHeight, s.tile.Width, s.tile.Height, cam.FrameWidth, cam.FrameHeight)
		}
		return nil
	})
	scr, cam := on.remote.Screen, on.remote.Video
	t.Logf("sharing: Firefox decodes the screen at %dx%d (%.0f fps) in a %dx%d %s tile, the camera at %dx%d in a %dx%d %s tile",
		scr.FrameWidth, scr.FrameHeight, scr.FramesPerSecond, on.screen.Width, on.screen.Height, on.screen.Role,
		cam.FrameWidth, cam.FrameHeight, on.tile.Width, on.tile.Height, on.tile.Role)

	c.do(t, "__switchyard.controls.toggleShare()")
	c.atNode(t, "the share ended", func(p snapshot.Participant) bool { return !p.Sharing })
	off := c.waitSeen(t, "Firefox to know the share ended", func(s seen) error {
		if s.flags.Sharing {
			return fmt.Errorf("%w: flags %+v", browsertest.ErrPending, s.flags)
		}
		return nil
	})
	start := c.fresh(t, off, time.Second)
	end := c.fresh(t, start, 2*time.Second)
	if p0, p1 := screenPackets(start.remote), screenPackets(end.remote); p1 > p0 {
		t.Fatalf("the share ended, yet Firefox received %d screen packets in %.1f s", p1-p0, (end.at-start.at)/1000)
	}
	// The share's m-line must go (the node renegotiates it away) and its
	// tile with it; a frozen share must not stay the large tile.
	var last seen
	err := waitErr(c.rep, shareGone, func(m map[string]browsertest.Report) error {
		s, err := c.seenBy(m)
		if err != nil {
			return err
		}
		last = s
		if s.screen != nil || s.remote.Screen != nil {
			return browsertest.ErrPending
		}
		return nil
	}, c.watch)
	if err != nil {
		t.Errorf("%.1f s after the share ended Firefox still shows it (%v): screen tile %+v, screen stats %+v "+
			"(the node stopped forwarding the screen but left its m-line active, so the page keeps the last frame as its large tile)",
			(last.at-off.at)/1000, err, last.screen, last.remote.Screen)
		return
	}
	t.Logf("share stopped: Firefox has no screen stream or tile left after %.1f s; camera %s", (last.at-off.at)/1000, remoteString(last.remote))
}

// shareGone bounds how long a stopped share may stay on the others' pages.
const shareGone = 10 * time.Second

// TestBrowserMeetingCascadeShare: Chromium shares on one node of a cascade
// of three; a Go participant on another node receives the screen.
func TestBrowserMeetingCascadeShare(t *testing.T) {
	skipShort(t)
	nodes := startCascade(t, []string{"us", "eu", "ap"}, nil)
	const room = "TestBrowserMeetingCascadeShare"
	goPeer := joinAt(t, nodes["ap"], room, "go", "ap", nil)
	rep := browsertest.NewReporter(t)
	a := browsertest.Chromium(t, meetingURL(nodes["us"], room, rep, "a", url.Values{"region": {"us"}, "share": {"1"}}))
	var aID string
	rep.WaitFor(t, browserWait, "Chromium to join and share", func(m map[string]browsertest.Report) error {
		r := m["a"]
		if r.ID == "" || r.Call == nil || r.Call.Local == nil || !r.Call.Local.Sharing {
			return fmt.Errorf("%w: id %q, call %+v, errors %q", browsertest.ErrPending, r.ID, r.Call, r.Errors)
		}
		aID = r.ID
		return nil
	}, a)
	if p, ok := findParticipant(nodes["us"], room, aID); !ok || p.Remote {
		t.Fatalf("Chromium's participant on node us: %+v (found %v), want a local one", p, ok)
	}
	waitFor(t, browserWait, "node ap to show Chromium sharing", func() (bool, string) {
		p, ok := findParticipant(nodes["ap"], room, aID)
		if !ok {
			return false, "not found"
		}
		return p.Remote && p.Sharing, fmt.Sprintf("%+v", *p)
	})
	var first client.Stream
	waitFor(t, browserWait, "the Go participant on node ap to receive the screen", func() (bool, string) {
		s := goPeer.Received()[aID]
		if first.ScreenPackets == 0 {
			first = s
		}
		return s.ScreenKeyframes > 0 && s.ScreenPackets > first.ScreenPackets+50, screenString(s)
	})
	t.Logf("cascade share: the Go participant on ap received from Chromium on us: %s", screenString(goPeer.Received()[aID]))
}

func screenString(s client.Stream) string {
	return fmt.Sprintf("screen %d pkts, %d keyframes, last %dx%d; camera %d pkts",
		s.ScreenPackets, s.ScreenKeyframes, s.ScreenWidth, s.ScreenHeight, s.VideoPackets)
}

// screenSizes are the viewports screenshots are taken at: a laptop and a phone.
var screenSizes = []struct {
	name string
	w, h int
}{
	{"1280x800", 1280, 800},
	{"390x844", 390, 844},
}

// TestBrowserMeetingScreens: the join page and the call page look as the
// reference images in testdata/screens say, at a laptop's and a phone's
// size. Regenerate them with SWITCHYARD_UPDATE_SCREENS=1 (which also
// refreshes docs/call-page.png). The pages are made still: microphone and
// camera off, fixed names, a Go participant whose microphone is off, no focus.
func TestBrowserMeetingScreens(t *testing.T) {
	skipShort(t)
	n := nodetest.Start(t, nil)
	const room = "standup"
	// Ada publishes a microphone she has turned off: a tile (watch-only
	// participants get none) that stays still.
	ada := join(t, n, room, "Ada Lovelace", func(o *client.Options) { o.PublishAudio = true })
	waitFor(t, 10*time.Second, "the node to receive Ada's microphone", func() (bool, string) {
		p, _ := findParticipant(n, room, ada.ID())
		return p != nil && p.Audio, fmt.Sprintf("%+v", p)
	})
	if err := ada.SetPublishState(true, false); err != nil {
		t.Fatal(err)
	}
	rep := browsertest.NewReporter(t)
	// No name: the join page, which then joins this same room.
	q := url.Values{"report": {rep.URL("a")}, "mic": {"0"}, "camera": {"0"}}
	a := browsertest.Options{DevTools: true, ChromiumFlags: []string{"--window-size=1280,800", "--hide-scrollbars"}}.
		Chromium(t, n.URL()+"/r/"+room+"?"+q.Encode())
	dt := a.DevTools(t)
	eval := func(expr string) json.RawMessage {
		t.Helper()
		v, err := dt.Eval(expr, 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	waitEval := func(what, expr string) {
		t.Helper()
		waitFor(t, browserWait, what, func() (bool, string) {
			v, err := dt.Eval(expr, 5*time.Second)
			return err == nil && string(v) == "true", fmt.Sprintf("%s: %s %v", expr, v, err)
		})
	}
	waitEval("the join page with its devices listed",
		`!document.getElementById('join-view').hidden && document.getElementById('prejoin-mic').options.length > 0`)
	eval(`document.getElementById('join-form').name.value = 'Grace Hopper'`)
	shoot(t, dt, "join")

	eval(`document.getElementById('join-form').requestSubmit()`)
	rep.WaitFor(t, browserWait, "the call page with Ada's tile", func(m map[string]browsertest.Report) error {
		r := m["a"]
		if r.ID == "" || r.Call == nil || len(r.Call.Participants) != 1 || r.Remotes == nil {
			return fmt.Errorf("%w: id %q, call %+v", browsertest.ErrPending, r.ID, r.Call)
		}
		for _, rm := range r.Remotes {
			if rm.E2ERTT == nil {
				return fmt.Errorf("%w: no RTT to Ada yet", browsertest.ErrPending)
			}
		}
		if _, ok := r.Call.Tiles[ada.ID()]; !ok {
			return fmt.Errorf("%w: no tile for Ada yet: %+v", browsertest.ErrPending, r.Call.Tiles)
		}
		return nil
	}, a)
	shoot(t, dt, "call")
}

// shoot takes page's screenshots at every size and compares each with its
// reference image (or writes it, with SWITCHYARD_UPDATE_SCREENS=1).
func shoot(t *testing.T, dt *browsertest.DevTools, page string) {
	t.Helper()
	for _, size := range screenSizes {
		if err := dt.SetViewport(size.w, size.h); err != nil {
			t.Fatal(err)
		}
		// Let the page lay out again (a ResizeObserver moves the tiles), and
		// take the focus away so no caret blinks.
		if _, err := dt.Eval(`document.activeElement?.blur(); new Promise((r) => setTimeout(r, 500))`, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		shot, err := dt.Screenshot()
		if err != nil {
			t.Fatal(err)
		}
		name := page + "-" + size.name + ".png"
		ref := filepath.Join("testdata", "screens", name)
		if os.Getenv("SWITCHYARD_UPDATE_SCREENS") == "1" {
			writeScreen(t, ref, shot)
			if page == "call" && size.name == "1280x800" {
				writeScreen(t, filepath.Join("..", "docs", "call-page.png"), shot)
			}
			continue
		}
		if err := compareScreen(ref, shot); err != nil {
			dir, derr := os.MkdirTemp("", "switchyard-screens-")
			if derr != nil {
				t.Fatalf("%s: %v (and cannot keep the screenshot: %v)", name, err, derr)
			}
			actual := filepath.Join(dir, name)
			if werr := os.WriteFile(actual, shot, 0o644); werr != nil {
				t.Fatalf("%s: %v (and cannot keep the screenshot: %v)", name, err, werr)
			}
			t.Errorf("%s: %v; the screenshot is %s (SWITCHYARD_UPDATE_SCREENS=1 to accept it)", name, err, actual)
		}
	}
}

func writeScreen(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

// Screenshot tolerance: a pixel differs when one of its channels differs
// by more than screenChannelTolerance; an image differs when more than
// screenPixelShare of its pixels do. The dark theme's panels differ from
// the background by only 10-15 per channel, so a larger tolerance would
// not see a panel move; two runs here differ in 0.01% of the pixels (the
// RTT figure).
const (
	screenChannelTolerance = 8
	screenPixelShare       = 0.01
)

// compareScreen compares a PNG screenshot with the reference PNG at ref.
func compareScreen(ref string, shot []byte) error {
	data, err := os.ReadFile(ref)
	if err != nil {
		return fmt.Errorf("no reference image: %w", err)
	}
	want, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("decode %s: %w", ref, err)
	}
	got, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		return fmt.Errorf("decode the screenshot: %w", err)
	}
	differ, total, err := screenDiff(want, got, screenChannelTolerance)
	if err != nil {
		return err
	}
	if share := float64(differ) / float64(total); share > screenPixelShare {
		return fmt.Errorf("%d of %d pixels (%.1f%%) differ from %s by more than %d in a channel, more than the %.0f%% allowed",
			differ, total, 100*share, ref, screenChannelTolerance, 100*screenPixelShare)
	}
	return nil
}

// screenDiff counts the pixels of a and b (same size) that differ by more
// than tol in any channel (8-bit R, G, B or A).
func screenDiff(a, b image.Image, tol int) (differ, total int, err error) {
	ra, rb := a.Bounds(), b.Bounds()
	if ra.Dx() != rb.Dx() || ra.Dy() != rb.Dy() {
		return 0, 0, fmt.Errorf("size %dx%d, want %dx%d", rb.Dx(), rb.Dy(), ra.Dx(), ra.Dy())
	}
	for y := 0; y < ra.Dy(); y++ {
		for x := 0; x < ra.Dx(); x++ {
			r1, g1, b1, a1 := a.At(ra.Min.X+x, ra.Min.Y+y).RGBA()
			r2, g2, b2, a2 := b.At(rb.Min.X+x, rb.Min.Y+y).RGBA()
			for _, d := range [4][2]uint32{{r1, r2}, {g1, g2}, {b1, b2}, {a1, a2}} {
				if diff := int(d[0]>>8) - int(d[1]>>8); diff > tol || -diff > tol {
					differ++
					break
				}
			}
		}
	}
	return differ, ra.Dx() * ra.Dy(), nil
}

func TestScreenDiff(t *testing.T) {
	const w, h = 10, 10
	base := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range base.Pix {
		base.Pix[i] = 100
	}
	changed := func(n int, delta uint8, channel int) image.Image {
		img := image.NewRGBA(base.Rect)
		copy(img.Pix, base.Pix)
		for p := 0; p < n; p++ {
			img.Pix[4*p+channel] += delta
		}
		return img
	}
	tests := []struct {
		name   string
		b      image.Image
		differ int
		err    bool
	}{
		{"same", changed(0, 0, 0), 0, false},
		{"within tolerance", changed(30, screenChannelTolerance, 1), 0, false},
		{"beyond tolerance in green", changed(30, screenChannelTolerance+1, 1), 30, false},
		{"beyond tolerance in alpha", changed(5, 100, 3), 5, false},
		{"every pixel", changed(w*h, 60, 2), w * h, false},
		{"other size", image.NewRGBA(image.Rect(0, 0, w, h+1)), 0, true},
	}
	for _, tc := range tests {
		differ, total, err := screenDiff(base, tc.b, screenChannelTolerance)
		if (err != nil) != tc.err || differ != tc.differ || (!tc.err && total != w*h) {
			t.Errorf("%s: %d of %d differ, err %v; want %d, err %v", tc.name, differ, total, err, tc.differ, tc.err)
		}
	}
}

// webmInfo is what ffprobe finds in a recording.
type webmInfo struct {
	duration                  float64 // seconds
	how                       string  // where duration comes from
	videoFrames, audioPackets int
	streams                   []string // one line per stream, for the log
}

// probeWebM measures a WebM file with ffprobe. MediaRecorder writes live
// WebM, whose header has no duration (ffprobe's format=duration says N/A),
// so the duration is then where the last packet of any stream ends (its
// pts plus, where known, its duration).
func probeWebM(file string) (webmInfo, error) {
	var info webmInfo
	if _, err := exec.LookPath("ffprobe"); err != nil {
		return info, fmt.Errorf("ffprobe not found (apt-get install ffmpeg): %w", err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-of", "json", "-show_entries",
		"format=duration:stream=index,codec_type,codec_name,width,height:packet=stream_index,pts_time,duration_time", file).Output()
	if err != nil {
		return info, fmt.Errorf("ffprobe %s: %w", file, err)
	}
	var probe struct {
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
		Streams []struct {
			Index     int    `json:"index"`
			CodecType string `json:"codec_type"`
			CodecName string `json:"codec_name"`
			Width     int    `json:"width"`
			Height    int    `json:"height"`
		} `json:"streams"`
		Packets []struct {
			StreamIndex int    `json:"stream_index"`
			PTS         string `json:"pts_time"`
			Duration    string `json:"duration_time"`
		} `json:"packets"`
	}
	if err := json.Unmarshal(out, &probe); err != nil {
		return info, fmt.Errorf("ffprobe %s: decode: %w", file, err)
	}
	count := map[int]int{}
	end := 0.0
	for _, p := range probe.Packets {
		count[p.StreamIndex]++
		pts, err := strconv.ParseFloat(p.PTS, 64)
		if err != nil {
			continue
		}
		if d, err := strconv.ParseFloat(p.Duration, 64); err == nil {
			pts += d
		}
		end = max(end, pts)
	}
	for _, st := range probe.Streams {
		n := count[st.Index]
		switch st.CodecType {
		case "video":
			info.videoFrames += n
			info.streams = append(info.streams, fmt.Sprintf("%s %dx%d: %d frames", st.CodecName, st.Width, st.Height, n))
		case "audio":
			info.audioPackets += n
			info.streams = append(info.streams, fmt.Sprintf("%s: %d packets", st.CodecName, n))
		}
	}
	if d, err := strconv.ParseFloat(probe.Format.Duration, 64); err == nil {
		info.duration, info.how = d, "the container's duration"
		return info, nil
	}
	if end == 0 {
		return info, fmt.Errorf("ffprobe found no timed packets in %s", file)
	}
	info.duration, info.how = end, "the last packet's end (no duration in the header)"
	return info, nil
}

// meetingURL is the room page of n for the page tagged tag, joining
// directly (a name is given), reporting to rep; extra adds parameters.
func meetingURL(n *node.Node, room string, rep *browsertest.Reporter, tag string, extra url.Values) string {
	q := url.Values{"name": {tag}, "report": {rep.URL(tag)}, "debug": {"1"}}
	for k, v := range extra {
		q[k] = v
	}
	return n.URL() + "/r/" + room + "?" + q.Encode()
}

func audioPackets(r browsertest.Remote) int64 {
	if r.Audio == nil {
		return 0
	}
	return r.Audio.PacketsReceived
}

func screenPackets(r browsertest.Remote) int64 {
	if r.Screen == nil {
		return 0
	}
	return r.Screen.PacketsReceived
}

func framesDecoded(v *browsertest.VideoStats) int64 {
	if v == nil {
		return 0
	}
	return v.FramesDecoded
}

func remoteString(r browsertest.Remote) string {
	v := func(s *browsertest.VideoStats) string {
		if s == nil {
			return "none"
		}
		return fmt.Sprintf("%d frames %dx%d", s.FramesDecoded, s.FrameWidth, s.FrameHeight)
	}
	return fmt.Sprintf("video %s, screen %s, audio %d packets", v(r.Video), v(r.Screen), audioPackets(r))
}
