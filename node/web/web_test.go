package web

import (
	"encoding/json"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := Handler()
	tests := []struct {
		name, method, path string
		status             int
		contentType        string
		body               string // substring the body must contain
	}{
		{"join form", "GET", "/", 200, "text/html", `id="join-form"`},
		{"deep link", "GET", "/r/demo?name=ann", 200, "text/html", `src="/assets/app.js"`},
		{"deep link with dots", "GET", "/r/team.a-1_b", 200, "text/html", `id="room-view"`},
		{"bad room", "GET", "/r/a%20b", 400, "text/plain", "room names"},
		{"room too long", "GET", "/r/" + strings.Repeat("x", 65), 400, "text/plain", "room names"},
		{"script", "GET", "/assets/app.js", 200, "text/javascript", "import"},
		{"module", "GET", "/assets/session.js", 200, "text/javascript", "RTCPeerConnection"},
		{"style", "GET", "/assets/style.css", 200, "text/css", ".tile"},
		{"reconnect module", "GET", "/assets/reconnect.js", 200, "text/javascript", "export class Reconnect"},
		{"e2ee worker", "GET", "/assets/e2ee-worker.js", 200, "text/javascript", "onrtctransform"},
		{"ui module", "GET", "/assets/ui.js", 200, "text/javascript", "export function showError"},
		{"remote tile style", "GET", "/assets/style.css", 200, "text/css", ".tile.remote"},
		{"missing asset", "GET", "/assets/nope.js", 404, "", ""},
		{"no listing", "GET", "/assets/", 404, "", ""},
		{"no index under assets", "GET", "/assets/index.html", 404, "", ""},
		{"nested room path", "GET", "/r/demo/x", 404, "", ""},
		{"unknown path", "GET", "/ws-not-here", 404, "", ""},
		{"post refused", "POST", "/", 405, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.status {
				t.Fatalf("%s %s: status %d, want %d", tc.method, tc.path, rec.Code, tc.status)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
				t.Errorf("Content-Type %q, want prefix %q", ct, tc.contentType)
			}
			if !strings.Contains(rec.Body.String(), tc.body) {
				t.Errorf("body lacks %q", tc.body)
			}
		})
	}
}

func TestPageHeaders(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/r/demo", nil))
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "ws:", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
}

var importRE = regexp.MustCompile(`(?m)^import .* from '\./([^']+)';$`)

// TestModulesResolve checks every relative import of every module names an
// embedded file, and that each stays small enough to read.
func TestModulesResolve(t *testing.T) {
	files, err := fs.Glob(static, "static/*.js")
	if err != nil || len(files) == 0 {
		t.Fatalf("no embedded modules (%v)", err)
	}
	for _, f := range files {
		src, err := fs.ReadFile(static, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range importRE.FindAllStringSubmatch(string(src), -1) {
			if _, err := fs.Stat(static, path.Join("static", m[1])); err != nil {
				t.Errorf("%s imports %s, which is not embedded", f, m[1])
			}
		}
		if n := strings.Count(string(src), "\n"); n > 400 {
			t.Errorf("%s has %d lines; split it", f, n)
		}
	}
}

// TestModulesParse runs each module through node's syntax check, when node is
// installed, so a typo fails here rather than in a browser.
func TestModulesParse(t *testing.T) {
	nodeBin := needNode(t, "node (JavaScript) not installed; syntax not checked")
	files, _ := fs.Glob(static, "static/*.js")
	for _, f := range files {
		t.Run(path.Base(f), func(t *testing.T) {
			cmd := exec.Command(nodeBin, "--input-type=module", "--check")
			in, err := static.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			cmd.Stdin = in
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", f, err, out)
			}
		})
	}
}

func TestPageNotCached(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/r/demo?name=a&region=eu")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("status %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
}

// TestReconnectOrder runs reconnect.js under node: after a node is lost the
// client tries the fallback nodes in order, then the lost node, a few rounds
// with growing pauses, and then gives up.
func TestReconnectOrder(t *testing.T) {
	nodeBin := needNode(t, "node (JavaScript) not installed; reconnect.js not run")
	dir := t.TempDir()
	src, err := fs.ReadFile(static, "static/reconnect.js")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "reconnect.mjs"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	type step struct {
		URL   string `json:"url"`
		Delay int    `json:"delay"`
		Round int    `json:"round"`
	}
	cases := []struct {
		name     string
		fallback string // JSON
		lost     string // JSON
		rounds   int
		jitter   float64 // what Math.random returns
		want     []step
	}{
		{
			name: "fallback in order then the lost node, three rounds", fallback: `["ws://b/ws","wss://c/ws"]`, lost: `"ws://a/ws"`, rounds: 3,
			want: []step{
				{"ws://b/ws", 250, 1}, {"wss://c/ws", 250, 1}, {"ws://a/ws", 250, 1},
				{"ws://b/ws", 500, 2}, {"wss://c/ws", 500, 2}, {"ws://a/ws", 500, 2},
				{"ws://b/ws", 1000, 3}, {"wss://c/ws", 1000, 3}, {"ws://a/ws", 1000, 3},
			},
		},
		{
			name: "duplicates and unusable addresses dropped", rounds: 1, jitter: 0.999,
			fallback: `["ws://a/ws","javascript:alert(1)","http://x/","ws://b/ws?redirected=1",7,null,"ws://b/ws?redirected=1","ws://bad host/"]`, lost: `"ws://a/ws"`,
			want: []step{{"ws://a/ws", 499, 1}, {"ws://b/ws?redirected=1", 499, 1}},
		},
		{name: "no fallback: the lost node only", fallback: `null`, lost: `"ws://a/ws"`, rounds: 2, want: []step{{"ws://a/ws", 250, 1}, {"ws://a/ws", 500, 2}}},
		{name: "nothing usable", fallback: `"ws://a/ws"`, lost: `""`, rounds: 3, want: nil},
		{
			name: "pause capped", fallback: `[]`, lost: `"ws://a/ws"`, rounds: 7,
			want: []step{{"ws://a/ws", 250, 1}, {"ws://a/ws", 500, 2}, {"ws://a/ws", 1000, 3}, {"ws://a/ws", 2000, 4}, {"ws://a/ws", 4000, 5}, {"ws://a/ws", 4000, 6}, {"ws://a/ws", 4000, 7}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			script := `import { Reconnect } from './reconnect.mjs';
const r = new Reconnect(` + tc.fallback + `, ` + tc.lost + `, { rounds: ` + itoa(tc.rounds) + `, random: () => ` + ftoa(tc.jitter) + ` });
const out = [];
for (let s = r.next(); s; s = r.next()) { out.push(s); if (out.length > 100) break; }
if (r.next() !== null) throw new Error('next after the end');
console.log(JSON.stringify(out));`
			path := filepath.Join(dir, "case.mjs")
			if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(nodeBin, path).CombinedOutput()
			if err != nil {
				t.Fatalf("node: %v\n%s", err, out)
			}
			var got []step
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("output %q: %v", out, err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d steps %v, want %v", len(got), got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("step %d: %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func ftoa(f float64) string { b, _ := json.Marshal(f); return string(b) }

// TestClientRejoinsAndMoves runs app.js under node against a fake page,
// WebSocket and peer connection: when the node dies mid-call the client
// rejoins the same room through the fallback nodes in order; a redirect
// mid-call moves it without stopping the camera; after being removed it
// stays out; and it gives up after a few rounds.
func TestClientRejoinsAndMoves(t *testing.T) {
	nodeBin := needNode(t, "node (JavaScript) not installed; the client flow not run")
	dir := t.TempDir()
	files, _ := fs.Glob(static, "static/*.js")
	for _, f := range files {
		src, err := fs.ReadFile(static, f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, path.Base(f)), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "harness.mjs"), []byte(fakePage), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, script := range map[string]string{"rejoin": rejoinScript, "give up": giveUpScript} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".mjs")
			if err := os.WriteFile(p, []byte(script), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(nodeBin, p).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "ok" {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

// fakePage is just enough DOM, WebSocket and WebRTC for app.js to run, with
// helpers for the scripts. Pauses are cut to a few milliseconds.
const fakePage = `// A fake page: just enough DOM, WebSocket and WebRTC for app.js to run.
const realSetTimeout = setTimeout;
globalThis.setTimeout = (fn, ms, ...a) => realSetTimeout(fn, Math.min(ms ?? 0, 5), ...a);
const elements = new Map();
function el(tag = 'div') {
  const e = {
    tagName: tag, children: [], dataset: {}, style: {}, hidden: false, title: '',
    // Setting text replaces the children, as in a browser.
    text: '', get textContent() { return this.text; }, set textContent(v) { this.text = String(v); this.children = []; },
    isConnected: true, clientHeight: 360, srcObject: null, value: '',
    attrs: {}, listeners: {},
    classList: {
      s: new Set(),
      toggle(c, on) { (on ?? !this.s.has(c)) ? this.s.add(c) : this.s.delete(c); },
      add(c) { this.s.add(c); }, remove(c) { this.s.delete(c); }, contains(c) { return this.s.has(c); },
    },
    append(...xs) { this.children.push(...xs); }, remove() {}, focus() {}, click() { this.clicked = true; },
    setAttribute(k, v) { this.attrs[k] = String(v); },
    addEventListener(type, fn) { (this.listeners[type] ||= []).push(fn); },
    getClientRects() { return [1]; }, play() { return Promise.resolve(); },
  };
  return e;
}
export const created = [];
globalThis.document = {
  title: '', activeElement: null, body: el('body'),
  getElementById(id) { if (!elements.has(id)) elements.set(id, el()); return elements.get(id); },
  createElement(tag) { const e = el(tag); created.push(e); return e; }, createTextNode: (t) => ({ text: t }),
  listeners: {}, addEventListener(type, fn) { (this.listeners[type] ||= []).push(fn); },
};
globalThis.location = { pathname: '/r/demo', search: '?name=ann', host: 'a', protocol: 'http:' };
globalThis.window = { location: globalThis.location, devicePixelRatio: 1, addEventListener() {} };
globalThis.localStorage = { getItem: () => null, setItem() {} };
globalThis.ResizeObserver = class { observe() {} unobserve() {} };
globalThis.MediaStream = class {
  constructor(t = []) { this.tracks = [...t]; }
  getTracks() { return this.tracks; }
  getAudioTracks() { return this.tracks.filter((t) => t.kind === 'audio'); }
  getVideoTracks() { return this.tracks.filter((t) => t.kind === 'video'); }
  addTrack(t) { this.tracks.push(t); } removeTrack(t) { this.tracks = this.tracks.filter((x) => x !== t); }
};
export const tracks = [{ kind: 'audio', stopped: false, stop() { this.stopped = true; } }];
Object.defineProperty(globalThis, 'navigator', { value: { userAgent: 'node', mediaDevices: {
  getUserMedia: async () => ({ getTracks: () => tracks, getAudioTracks: () => tracks, getVideoTracks: () => [] }),
} } });
// Transceivers get mids at setLocalDescription, as in a browser. A node
// offer's sdp is, here, JSON: [{mid, kind, dir}] for its m-lines.
function transceiver(trackOrKind, init = {}) {
  const kind = typeof trackOrKind === 'string' ? trackOrKind : trackOrKind.kind;
  return {
    mid: null, kind, direction: init.direction, currentDirection: null, stopped: false, init,
    sender: {
      track: typeof trackOrKind === 'string' ? null : trackOrKind, replaced: [], params: null,
      async replaceTrack(t) { this.track = t; this.replaced.push(t); },
      getParameters() { return { encodings: [{}] }; }, async setParameters(p) { this.params = p; },
    },
    receiver: { track: { kind, id: kind + '-r', muted: false }, async getStats() { return new Map(); } },
  };
}
globalThis.RTCPeerConnection = class {
  constructor() { this.closed = false; this.ts = []; pcs.push(this); }
  addTransceiver(x, init) { const t = transceiver(x, init); this.ts.push(t); return t; }
  getTransceivers() { return this.ts; }
  async createOffer() { return { type: 'offer', sdp: 'v=0' }; }
  async createAnswer() { return { type: 'answer', sdp: 'v=0' }; }
  async setLocalDescription(d) {
    this.ts.forEach((t, i) => { if (t.mid == null) t.mid = String(i); });
    if (d.type === 'answer') for (const t of this.ts) t.currentDirection = t.pending ?? t.currentDirection;
    this.localDescription = d;
  }
  async setRemoteDescription(d) {
    this.remoteDescription = d;
    if (d.type === 'answer') { for (const t of this.ts) t.currentDirection = t.direction; return; }
    for (const m of JSON.parse(d.sdp)) {
      let t = this.ts.find((x) => x.mid === m.mid);
      if (!t) { t = transceiver(m.kind, { direction: 'recvonly' }); t.mid = m.mid; this.ts.push(t); }
      t.pending = m.dir;
    }
  }
  async addIceCandidate() {}
  close() { this.closed = true; }
};
export const sockets = [];
export const pcs = [];
globalThis.WebSocket = class {
  static OPEN = 1;
  constructor(url) { this.url = url; this.readyState = 0; this.sent = []; this.closedByClient = false; sockets.push(this); }
  send(t) { this.sent.push(JSON.parse(t)); }
  close() { this.closedByClient = true; this.readyState = 3; queueMicrotask(() => this.onclose?.({ code: 1000, reason: '' })); }
  accept() { this.readyState = 1; this.onopen?.(); }
  refuse() { this.readyState = 3; this.onerror?.(); this.onclose?.({ code: 1006, reason: '' }); }
  deliver(m) { this.onmessage?.({ data: JSON.stringify(m) }); }
  drop(code = 1006, reason = '') { this.readyState = 3; this.onclose?.({ code, reason }); }
};
globalThis.console.error = () => {};
export const $ = (id) => document.getElementById(id);
export async function until(what, cond) {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await new Promise((r) => realSetTimeout(r, 2));
  }
  throw new Error('never happened: ' + (what) + ' (status "' + ($('status').textContent) + '", sockets ' + (sockets.map((s) => s.url)) + ')');
}
export function check(ok, what) { if (!ok) throw new Error(what); }
export async function socket(n, url) {
  await until('socket ' + (n) + ' to ' + (url), () => sockets.length > n);
  check(sockets[n].url === url, 'socket ' + (n) + ' went to ' + (sockets[n].url) + ', want ' + (url));
  return sockets[n];
}
export async function joinOn(ws, id, node, fallback, participants = []) {
  ws.accept();
  await until('join sent on ' + (ws.url), () => ws.sent.some((m) => m.type === 'join'));
  const j = ws.sent.find((m) => m.type === 'join');
  check(j.room === 'demo' && j.name === 'ann', 'join ' + (JSON.stringify(j)));
  ws.deliver({ type: 'joined', id, room: 'demo', node, region: 'r', participants, fallback });
  await until('offer on ' + (ws.url), () => ws.sent.some((m) => m.type === 'offer'));
}
// publish delivers a node offer forwarding tracks ({mid: {publisher, source}})
// and waits for the client's answer.
export async function publish(ws, tracks) {
  const answers = () => ws.sent.filter((m) => m.type === 'answer').length;
  const n = answers();
  const sdp = Object.entries(tracks).map(([mid, t]) => ({ mid, kind: t.source === 'mic' ? 'audio' : 'video', dir: 'recvonly' }));
  ws.deliver({ type: 'offer', sdp: JSON.stringify(sdp), tracks });
  await until('answer on ' + (ws.url), () => answers() > n);
}
`

const rejoinScript = `import { sockets, pcs, tracks, $, until, check, socket, joinOn, publish } from './harness.mjs';
await import('./app.js');
const a = await socket(0, 'ws://a/ws');
await joinOn(a, 'p1', 'n1', ['ws://b/ws', 'wss://c/ws', 'javascript:x'], [{ id: 'p2', name: 'bo', node: 'n2', region: 'eu' }]);
const grid = $('grid');
check(grid.children.length === 0, 'a tile before any track');
check($('status').textContent === 'joined as ann on n1', 'status "' + ($('status').textContent) + '"');
await publish(a, { 2: { publisher: 'p2', source: 'mic' } });
check(grid.children.length === 1, 'one tile');
const tile = grid.children[0];
check(tile.classList.contains('remote'), 'tile of a participant on n2 not marked remote');
check(JSON.stringify(tile).includes('⇄ node n2') && JSON.stringify(tile).includes('region eu'), 'tile lacks node and region');

// The node dies: the client tries b (refused), then c (joins).
a.drop(1006);
const b = await socket(1, 'ws://b/ws');
check($('status').textContent.startsWith('Reconnecting…'), 'status "' + ($('status').textContent) + '"');
check(pcs[0].closed, 'old peer connection left open');
b.refuse();
const c = await socket(2, 'wss://c/ws');
await joinOn(c, 'p7', 'n3', ['ws://a/ws'], [{ id: 'p2', name: 'bo', node: 'n3', region: 'eu' }]);
await publish(c, { 2: { publisher: 'p2', source: 'mic' } });
check(!grid.children.at(-1).classList.contains('remote'), 'participant now on the same node still marked remote');

// Mid-call redirect (draining): teardown then connect, same camera.
c.deliver({ type: 'redirect', url: 'ws://d/ws?redirected=1', reason: 'node draining' });
const d = await socket(3, 'ws://d/ws?redirected=1');
check(c.closedByClient, 'old socket not closed');
check($('status').textContent.includes('node draining'), 'status "' + ($('status').textContent) + '"');
await joinOn(d, 'p9', 'n4', []);
check(pcs.length === 3 && pcs[1].closed && !pcs[2].closed, 'peer connections not replaced');
check(tracks.every((t) => !t.stopped), 'local media stopped');
// Late messages on the old socket do nothing.
c.deliver({ type: 'participant-joined', participant: { id: 'ghost', node: 'n3' } });
check(!JSON.stringify(grid.children).includes('ghost'), 'message from the old socket reached the page');

// Removed by an operator: final, no rejoin.
d.deliver({ type: 'error', code: 'removed', reason: 'removed by an operator', fatal: true });
d.drop(1000, 'removed');
await until('disconnected', () => $('status').textContent === 'disconnected');
await new Promise((r) => setTimeout(r, 50));
check(sockets.length === 4, 'rejoined after being removed: ' + (sockets.map((s) => s.url)));
console.log('ok');
process.exit(0);
`

const giveUpScript = `import { sockets, $, until, check, socket, joinOn } from './harness.mjs';
await import('./app.js');
const a = await socket(0, 'ws://a/ws');
await joinOn(a, 'p1', 'n1', ['ws://b/ws']);
a.drop(1006);
// b, then a itself, three rounds: six tries, then the client gives up.
const want = ['ws://b/ws', 'ws://a/ws', 'ws://b/ws', 'ws://a/ws', 'ws://b/ws', 'ws://a/ws'];
for (let i = 0; i < want.length; i++) (await socket(i + 1, want[i])).refuse();
await until('gave up', () => $('status').textContent === 'disconnected');
await new Promise((r) => setTimeout(r, 50));
check(sockets.length === 7, 'tries: ' + (sockets.map((s) => s.url)));
console.log('ok');
process.exit(0);
`

// needNode finds the node (JavaScript) binary; without it the test skips,
// unless CI requires it (SWITCHYARD_REQUIRE_BROWSERS, set by .ci/run).
func needNode(t *testing.T, why string) string {
	t.Helper()
	bin, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("SWITCHYARD_REQUIRE_BROWSERS") != "" {
			t.Fatalf("%s (SWITCHYARD_REQUIRE_BROWSERS is set)", why)
		}
		t.Skip(why)
	}
	return bin
}

// clientDir copies the client's modules, the fake page and a package.json
// (so node reads .js files as ES modules) into a temporary directory.
func clientDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files, _ := fs.Glob(static, "static/*.js")
	for _, f := range files {
		src, err := fs.ReadFile(static, f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, path.Base(f)), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	extra := map[string]string{"harness.mjs": fakePage, "package.json": `{"type":"module"}`, "assert.mjs": assertJS}
	for name, body := range extra {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runScripts runs each script under node in dir; each must print "ok".
func runScripts(t *testing.T, nodeBin, dir string, scripts map[string]string) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(scripts)) {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".mjs")
			if err := os.WriteFile(p, []byte(scripts[name]), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(nodeBin, p).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "ok" {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

// assertJS is the scripts' one assertion: deep equality through JSON.
const assertJS = `export function eq(got, want, what) {
  const g = JSON.stringify(got instanceof Map ? Object.fromEntries(got) : got);
  const w = JSON.stringify(want instanceof Map ? Object.fromEntries(want) : want);
  if (g !== w) throw new Error(what + ':\n  got  ' + g + '\n  want ' + w);
}
`

// TestClientScripts runs testdata/*.mjs under node beside the client's
// modules: table tests of the pure parts (the m-line mapping, layout and
// constraint heights, the participant reducer, the recorder's choices,
// shortcuts, the connection indicator) and call flows against the fake page.
func TestClientScripts(t *testing.T) {
	nodeBin := needNode(t, "node (JavaScript) not installed; client scripts not run")
	files, err := filepath.Glob(filepath.Join("testdata", "*.mjs"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.mjs (%v)", err)
	}
	scripts := make(map[string]string)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		scripts[strings.TrimSuffix(filepath.Base(f), ".mjs")] = string(src)
	}
	runScripts(t, nodeBin, clientDir(t), scripts)
}
