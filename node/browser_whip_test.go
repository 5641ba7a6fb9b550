package node_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/node/internal/browsertest"
	"github.com/switchyard/switchyard/node/nodetest"
)

// The pages below run the WHIP and WHEP clients of the npm package
// whip-whep 1.2.0 (medooze; vendored in testdata/whip-whep) in Chromium,
// served from an origin of their own so that the node's CORS answers are
// part of the test. Each page POSTs a summary to the test's reporter every
// half second: errors (thrown, or rejected promises such as a refused
// PATCH), the connection state, and getStats() figures.

const whipPage = `<!doctype html><meta charset="utf-8"><title>WHIP</title>
<script type="module">
import { WHIPClient } from "/whip.js";
const q = new URLSearchParams(location.search);
const errors = [];
let pc, whip, resource = "", stopped = false;
addEventListener("error", (e) => errors.push(String(e.message)));
addEventListener("unhandledrejection", (e) => errors.push(String(e.reason)));
window.stopWHIP = async () => { await whip.stop(); stopped = true; return "stopped"; };
async function report() {
  const outbound = [];
  if (pc && !stopped) (await pc.getStats()).forEach((s) => {
    if (s.type === "outbound-rtp") outbound.push({kind: s.kind, bytesSent: s.bytesSent, framesEncoded: s.framesEncoded, frameHeight: s.frameHeight});
  });
  const connection = stopped ? "stopped" : pc ? pc.connectionState : "starting";
  fetch(q.get("report"), {method: "POST", mode: "no-cors", body: JSON.stringify({browser: "chromium", id: resource, connection, outbound, errors})});
}
setInterval(report, 500);
try {
  const stream = await navigator.mediaDevices.getUserMedia({audio: true, video: {width: 640, height: 360}});
  pc = new RTCPeerConnection({bundlePolicy: "max-bundle"});
  for (const track of stream.getTracks()) pc.addTransceiver(track, {direction: "sendonly"});
  whip = new WHIPClient();
  await whip.publish(pc, q.get("url"), q.get("token") || undefined);
  resource = String(whip.resourceURL);
} catch (e) { errors.push(String(e)); }
</script>`

const whepPage = `<!doctype html><meta charset="utf-8"><title>WHEP</title>
<video id="v" autoplay muted playsinline></video>
<script type="module">
import { WHEPClient } from "/whep.js";
const q = new URLSearchParams(location.search);
const errors = [];
let pc, resource = "";
addEventListener("error", (e) => errors.push(String(e.message)));
addEventListener("unhandledrejection", (e) => errors.push(String(e.reason)));
async function report() {
  let video = null, audio = null;
  if (pc) (await pc.getStats()).forEach((s) => {
    if (s.type !== "inbound-rtp") return;
    if (s.kind === "video") video = {framesDecoded: s.framesDecoded, frameWidth: s.frameWidth, frameHeight: s.frameHeight, packetsLost: s.packetsLost, packetsReceived: s.packetsReceived};
    if (s.kind === "audio") audio = {totalSamplesReceived: s.totalSamplesReceived, concealedSamples: s.concealedSamples, packetsReceived: s.packetsReceived};
  });
  const connection = pc ? pc.connectionState : "starting";
  fetch(q.get("report"), {method: "POST", mode: "no-cors", body: JSON.stringify({browser: "chromium", id: resource, connection, remotes: {whep: {video, audio}}, errors})});
}
setInterval(report, 500);
try {
  pc = new RTCPeerConnection({bundlePolicy: "max-bundle"});
  pc.addTransceiver("audio", {direction: "recvonly"});
  pc.addTransceiver("video", {direction: "recvonly"});
  const stream = new MediaStream();
  pc.ontrack = (e) => { stream.addTrack(e.track); const v = document.getElementById("v"); v.srcObject = stream; v.play().catch(() => {}); };
  const whep = new WHEPClient();
  await whep.view(pc, q.get("url"), q.get("token") || undefined);
  resource = String(whep.resourceURL);
} catch (e) { errors.push(String(e)); }
</script>`

// pageServer serves the two pages and the vendored clients.
func pageServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for name, page := range map[string]string{"/whip.html": whipPage, "/whep.html": whepPage} {
		mux.HandleFunc("GET "+name, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, page)
		})
	}
	for _, name := range []string{"whip.js", "whep.js"} {
		body, err := os.ReadFile(filepath.Join("testdata", "whip-whep", name))
		if err != nil {
			t.Fatal(err)
		}
		mux.HandleFunc("GET /"+name, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			_, _ = w.Write(body)
		})
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func pageURL(srv *httptest.Server, page, endpoint, report string) string {
	return srv.URL + "/" + page + "?" + url.Values{"url": {endpoint}, "report": {report}}.Encode()
}

// TestWHIPBrowserClient: Chromium publishes its fake camera and microphone
// with whip.js into a room where a Go participant receives both; the page
// trickles its candidates with PATCH and ends with DELETE (whip.stop()),
// and the participant leaves.
func TestWHIPBrowserClient(t *testing.T) {
	skipShort(t)
	n := nodetest.Start(t, nil)
	const room = "whipjs"
	viewer := join(t, n, room, "viewer", nil)
	rep := browsertest.NewReporter(t)
	srv := pageServer(t)
	b := browsertest.Options{DevTools: true}.Chromium(t, pageURL(srv, "whip.html", n.URL()+"/whip/"+room, rep.URL("whip")))

	rep.WaitFor(t, browserWait, "whip.js to publish and connect", func(m map[string]browsertest.Report) error {
		r := m["whip"]
		if len(r.Errors) > 0 {
			return fmt.Errorf("page errors: %q", r.Errors)
		}
		if r.ID == "" || r.Connection != "connected" {
			return fmt.Errorf("%w: resource %q, connection %q", browsertest.ErrPending, r.ID, r.Connection)
		}
		return nil
	}, b)
	id, ok := endpoint(n, room, "whip")
	if !ok {
		t.Fatal("the API lists no WHIP participant")
	}
	receivesFrom(t, browserWait, viewer, id, 0)
	s := viewer.Received()[id]
	t.Logf("viewer from whip.js: %s", streamString(s))
	if s.BadPayloads != 0 || s.Height == 0 {
		t.Errorf("the Go participant got %d unparsable VP8 payloads, keyframe height %d", s.BadPayloads, s.Height)
	}

	if _, err := b.DevTools(t).Eval("window.stopWHIP()", 10*time.Second); err != nil {
		t.Fatalf("whip.stop(): %v", err)
	}
	waitFor(t, 10*time.Second, "whip.js's DELETE to remove the participant", func() (bool, string) {
		_, there := endpoint(n, room, "whip")
		return !there, "still listed"
	})
	if errs := rep.Latest()["whip"].Errors; len(errs) > 0 {
		t.Errorf("page errors: %q", errs)
	}
}

// TestWHIPBrowserWHEPClient: Chromium plays a Go participant's camera and
// microphone through whep.js and decodes the video.
func TestWHIPBrowserWHEPClient(t *testing.T) {
	skipShort(t)
	n := nodetest.Start(t, nil)
	const room = "whepjs"
	pub := join(t, n, room, "pub", publishing)
	rep := browsertest.NewReporter(t)
	srv := pageServer(t)
	b := browsertest.Chromium(t, pageURL(srv, "whep.html", n.URL()+"/whep/"+room, rep.URL("whep")))

	rep.WaitFor(t, browserWait, "whep.js to decode the Go participant's video and receive its audio", func(m map[string]browsertest.Report) error {
		r := m["whep"]
		if len(r.Errors) > 0 {
			return fmt.Errorf("page errors: %q", r.Errors)
		}
		got := r.Remotes["whep"]
		if got.Video == nil || got.Video.FramesDecoded == 0 || got.Audio == nil || got.Audio.TotalSamplesReceived == 0 {
			return fmt.Errorf("%w: connection %q, %+v", browsertest.ErrPending, r.Connection, got)
		}
		return nil
	}, b)
	id, _ := endpoint(n, room, "whep")
	audio, video := following(n, room, id)
	r := rep.Latest()["whep"].Remotes["whep"]
	t.Logf("whep.js: %d frames decoded at %dx%d, %d audio samples; follows audio %s video %s",
		r.Video.FramesDecoded, r.Video.FrameWidth, r.Video.FrameHeight, r.Audio.TotalSamplesReceived, audio, video)
	if audio != pub.ID() || video != pub.ID() {
		t.Errorf("the session follows %s/%s, want %s", audio, video, pub.ID())
	}
	if !strings.HasPrefix(rep.Latest()["whep"].ID, n.URL()+"/whep/"+room+"/") {
		t.Errorf("whep.js's resource URL %q is not under the endpoint", rep.Latest()["whep"].ID)
	}
}
