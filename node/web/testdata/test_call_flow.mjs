// A whole call against the fake page: the first offer names its three
// sources; publish-state, share and recording go to the node; the node's
// tracks map puts a share in its own large tile; a moderator mutes and
// removes; shortcuts are ignored while typing.
import { sockets, pcs, $, until, check, socket, created } from './harness.mjs';
import { eq } from './assert.mjs';

// Fakes for what this flow touches beyond the harness.
const posts = [];
globalThis.fetch = async (url, init) => { posts.push({ url, body: init?.body }); return {}; };
location.search = '?name=ann&report=' + encodeURIComponent('http://reports.test/report/a');
const grid = $('grid');
grid.clientWidth = 1280;
grid.clientHeight = 720;
const display = { kind: 'video', contentHint: '', stopped: false, on: {},
  addEventListener(t, fn) { this.on[t] = fn; }, stop() { this.stopped = true; } };
navigator.mediaDevices.getDisplayMedia = async () => new MediaStream([display]);
const recorders = [];
globalThis.MediaRecorder = class {
  static isTypeSupported(t) { return t === 'video/webm'; }
  constructor(stream, opts) { Object.assign(this, { stream, opts, state: 'inactive' }); recorders.push(this); }
  start(ms) { this.timeslice = ms; this.state = 'recording'; }
  stop() { this.state = 'inactive'; this.ondataavailable({ data: new Blob(['webm']) }); this.onstop(); }
};
globalThis.AudioContext = class {
  createMediaStreamDestination() { return { stream: new MediaStream([{ kind: 'audio', stop() {} }]) }; }
  createMediaStreamSource() { return { connect() {}, disconnect() {} }; }
  async resume() {} async close() {}
};
const createElement = document.createElement;
document.createElement = (tag) => {
  const e = createElement(tag);
  if (tag === 'canvas') {
    e.getContext = () => new Proxy({}, { get: (o, k) => (k in o ? o[k] : () => ({ width: 10 })), set: (o, k, v) => ((o[k] = v), true) });
    e.captureStream = () => new MediaStream([{ kind: 'video', stop() {} }]);
  }
  return e;
};

await import('./app.js');
const ws = await socket(0, 'ws://a/ws');
ws.accept();
await until('join', () => ws.sent.some((m) => m.type === 'join'));
ws.deliver({ type: 'joined', id: 'p1', room: 'demo', node: 'n1', region: 'r', grants: { publish: true, subscribe: true, moderator: true },
  participants: [{ id: 'p2', name: 'Bo Day', node: 'n1', region: 'eu' }, { id: 'p3', name: 'Cy', node: 'n2' }, { id: 'p4', name: 'Di Watcher', node: 'n1' }] });
await until('offer', () => ws.sent.some((m) => m.type === 'offer'));
const sent = (type) => ws.sent.filter((m) => m.type === type);
const offer = sent('offer')[0];
eq(offer.sources, { 0: 'mic', 1: 'camera', 2: 'screen' }, 'first offer names its sources');
const pc = pcs[0];
const [mic, cam, screen] = pc.ts;
eq(cam.init.sendEncodings.map((e) => e.rid), ['q', 'h', 'f'], 'camera simulcast');
eq(screen.init.sendEncodings, [{ maxBitrate: 2500000 }], 'screen: one encoding, no rid');
eq([screen.sender.track, screen.direction], [null, 'sendonly'], 'screen m-line without a track');
await until('publish-state', () => sent('publish-state').length > 0);
eq(ws.sent.findIndex((m) => m.type === 'publish-state') > ws.sent.findIndex((m) => m.type === 'offer'), true, 'publish-state after the offer');
eq(sent('publish-state')[0], { type: 'publish-state', mic_off: false, camera_off: true }, 'no camera: camera_off');

ws.deliver({ type: 'answer', sdp: 'v=0' });
const mline = (mid, kind, dir = 'recvonly') => ({ mid, kind, dir });
// p3 has a microphone only, p4 nothing: it only watches and listens.
ws.deliver({ type: 'offer', sdp: JSON.stringify([mline('3', 'audio'), mline('4', 'video'), mline('5', 'video'), mline('6', 'audio')]),
  tracks: { 3: { publisher: 'p2', source: 'mic' }, 4: { publisher: 'p2', source: 'camera' }, 5: { publisher: 'p2', source: 'screen' }, 6: { publisher: 'p3', source: 'mic' } } });
await until('answer', () => sent('answer').length === 1);
const tiles = () => grid.children.filter((c) => c.classList.contains('tile'));
await until('screen tile', () => tiles().some((t) => t.dataset.source === 'screen'));
const shareTile = tiles().find((t) => t.dataset.source === 'screen');
eq([shareTile.dataset.id, shareTile.classList.contains('role-main')], ['p2', true], 'share large');
const bo = tiles().find((t) => t.dataset.id === 'p2' && t.dataset.source === 'camera');
eq(bo.classList.contains('role-pip'), true, "sharer's camera as a thumbnail");
// Constraints are sent as the layout settles: wait for the one that
// follows the share's layout (the last one sent, whatever it says, is checked).
await until('constraints for the share', () => 'p2/screen' in (sent('constraints').at(-1)?.tiles || {})).catch(() => {});
const c = sent('constraints').at(-1)?.tiles || {};
eq([c['p2/screen'] > 500, c.p2 > 0 && c.p2 < 200, c.p3 > 0 && c.p3 < 200], [true, true, true],
  `constraints follow the layout, the share apart from the camera ${JSON.stringify(c)}`);

// The share ends: its m-line goes inactive and its tile goes.
ws.deliver({ type: 'offer', sdp: JSON.stringify([mline('3', 'audio'), mline('4', 'video'), mline('5', 'video', 'inactive'), mline('6', 'audio')]),
  tracks: { 3: { publisher: 'p2', source: 'mic' }, 4: { publisher: 'p2', source: 'camera' }, 6: { publisher: 'p3', source: 'mic' } } });
await until('screen tile gone', () => sent('answer').length === 2 && !window.__switchyard.grid.tiles.has('p2/screen'));
// Watching only: no tile, but listed by name; no camera here, a microphone: a tile of your own.
eq([...window.__switchyard.grid.tiles.keys()], ['p2', 'p3'], 'tiles of those with tracks only');
eq(window.__switchyard.grid.keys().includes('self'), true, 'own tile: a microphone');
eq($('people-list').children.map((r) => r.dataset.id), ['p1', 'p2', 'p3', 'p4'], 'the watcher listed');
eq($('empty').hidden, true, 'stage not empty');
// Someone who encrypts, seen by a page that does not: a notice, not garbage.
ws.deliver({ type: 'participant-updated', participant: { id: 'p3', name: 'Cy', node: 'n2', e2ee: true } });
const cy = window.__switchyard.grid.tiles.get('p3');
eq([cy.lockEl.hidden, cy.noteEl.hidden, cy.noteEl.textContent, cy.el.classList.contains('no-video')], [false, false, 'Cy is end-to-end encrypted', true], 'encrypted participant, no passphrase here');

// Others' state on their tiles.
ws.deliver({ type: 'participant-updated', participant: { id: 'p2', name: 'Bo Day', node: 'n1', mic_off: true, camera_off: true } });
const boTile = window.__switchyard.grid.tiles.get('p2');
eq([boTile.micEl.hidden, boTile.el.classList.contains('no-video'), boTile.avatar.textContent], [false, true, 'BD'], 'muted mark and avatar');

// Mic off: nothing sent, the node told.
await $('mic-toggle').onclick();
eq([mic.sender.track, sent('publish-state').at(-1).mic_off], [null, true], 'mic off');
eq($('mic-toggle').attrs['aria-pressed'], 'true', 'mic button pressed');

// Share, then the browser's own "stop sharing".
await $('share-toggle').onclick();
eq([display.contentHint, screen.sender.track === display, screen.sender.params.encodings[0].maxBitrate], ['detail', true, 2500000], 'sharing');
eq(sent('share').at(-1), { type: 'share', on: true }, 'share on');
await display.on.ended();
eq([screen.sender.track, display.stopped, sent('share').at(-1)], [null, true, { type: 'share', on: false }], 'stopped from the browser');
// Refused: someone else shares.
display.stopped = false;
await $('share-toggle').onclick();
const shares = sent('share').length;
ws.deliver({ type: 'error', code: 'share-busy', reason: 'p3 shares', fatal: false });
await until('share dropped', () => screen.sender.track === null && display.stopped);
eq(sent('share').length, shares, 'no share off after a refusal');

// A moderator mutes and removes; not someone on another node.
const rows = $('people-list').children;
const row = (id) => rows.find((r) => r.dataset.id === id);
const button = (r, cls) => r.children.find((b) => b.className?.includes(cls));
eq(button(row('p2'), 'mute').disabled, true, 'already muted: mute disabled');
eq(button(row('p3'), 'kick').disabled, true, 'other node: kick disabled');
button(row('p2'), 'kick').onclick();
eq(sent('kick').at(-1), { type: 'kick', id: 'p2' }, 'kick');
ws.deliver({ type: 'participant-updated', participant: { id: 'p2', name: 'Bo Day', node: 'n1', mic_off: false } });
button($('people-list').children.find((r) => r.dataset.id === 'p2'), 'mute').onclick();
eq(sent('mute').at(-1), { type: 'mute', id: 'p2', muted: true }, 'mute');

// Recording: WebM chunks of a second, the node told, a download, the test hook.
await $('record-toggle').onclick();
eq([recorders[0].opts.mimeType, recorders[0].timeslice, sent('recording').at(-1)], ['video/webm', 1000, { type: 'recording', on: true }], 'recording');
eq($('rec-indicator').hidden, false, 'recording indicator');
await $('record-toggle').onclick();
eq(sent('recording').at(-1), { type: 'recording', on: false }, 'recording off');
const a = created.find((e) => e.tagName === 'a' && e.download);
eq([a?.download.endsWith('.webm'), a?.clicked, a?.href.startsWith('blob:')], [true, true, true], 'downloaded');
await until('recording posted', () => posts.some((p) => p.url === 'http://reports.test/report/a/recording'));
eq(window.__lastRecording instanceof Blob && window.__lastRecording.size > 0, true, 'window.__lastRecording');

// Shortcuts: m unmutes; not while typing in the chat.
const key = (k, tagName) => document.listeners.keydown.forEach((fn) => fn({ key: k, target: { tagName }, preventDefault() {} }));
const before = sent('publish-state').length;
key('m', 'INPUT');
await new Promise((r) => setTimeout(r, 5));
eq(sent('publish-state').length, before, 'typing m in a field does nothing');
key('m', 'BODY');
await until('unmuted', () => sent('publish-state').length === before + 1);
eq([sent('publish-state').at(-1).mic_off, mic.sender.track?.kind], [false, 'audio'], 'm unmutes');
key('g', 'BODY');
eq(window.__switchyard.grid.view, 'grid', 'g: grid view');
check(sockets.length === 1, 'one socket');
console.log('ok');
process.exit(0);
