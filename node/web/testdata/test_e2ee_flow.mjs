// An end-to-end encrypted call against the fake page: the passphrase from
// the fragment starts the worker before joining; join says e2ee; every
// sender and receiver gets a script transform; the codecs exclude RED and
// keep VP8; tiles and the people list show locks; the worker's stats turn
// into "cannot decrypt <name>" on the tile whose frames fail, and back.
import { pcs, $, until, check, socket, publish } from './harness.mjs';
import { eq } from './assert.mjs';

location.hash = '#e2ee=s3cret';
// ?report= turns the test hooks (window.__switchyard) on.
location.search = '?name=ann&report=' + encodeURIComponent('http://reports.test/report/a');
globalThis.fetch = async () => ({});
const workers = [];
globalThis.Worker = class {
  constructor(url, opts) {
    Object.assign(this, { url, opts, posted: [], terminated: false });
    workers.push(this);
  }
  postMessage(m) {
    this.posted.push(m);
    if (m.op === 'init') queueMicrotask(() => this.onmessage({ data: { op: 'ready', code: '1234 5678 9012' } }));
  }
  terminate() { this.terminated = true; }
};
globalThis.RTCRtpScriptTransform = class {
  constructor(worker, options) { Object.assign(this, { worker, options }); }
};
globalThis.RTCRtpReceiver = {
  getCapabilities: (kind) => ({ codecs: kind === 'audio'
    ? [{ mimeType: 'audio/opus' }, { mimeType: 'audio/red' }]
    : [{ mimeType: 'video/VP8' }, { mimeType: 'video/rtx' }, { mimeType: 'video/H264' }] }),
};
const FakePC = globalThis.RTCPeerConnection;
globalThis.RTCPeerConnection = class extends FakePC {
  constructor(cfg) { super(cfg); this.cfg = cfg; }
  addTransceiver(x, init) {
    const t = super.addTransceiver(x, init);
    t.setCodecPreferences = (codecs) => { t.codecs = codecs.map((c) => c.mimeType); };
    return t;
  }
};

await import('./app.js');
const ws = await socket(0, 'ws://a/ws');
const w = workers[0];
eq([w?.url, w?.opts.type, w?.posted[0]], ['/assets/e2ee-worker.js', 'module', { op: 'init', passphrase: 's3cret', room: 'demo' }], 'worker started with the passphrase');
check($('e2ee-badge').title.includes('1234 5678 9012'), 'badge shows the security code');
ws.accept();
await until('join', () => ws.sent.some((m) => m.type === 'join'));
eq(ws.sent.find((m) => m.type === 'join').e2ee, true, 'join says e2ee');
ws.deliver({ type: 'joined', id: 'p1', room: 'demo', node: 'n1', region: 'r',
  participants: [{ id: 'p2', name: 'Bo', node: 'n1', e2ee: true }, { id: 'p3', name: 'Cy', node: 'n1' }] });
await until('offer', () => ws.sent.some((m) => m.type === 'offer'));
const pc = pcs[0];
eq(pc.cfg.encodedInsertableStreams, undefined, 'script transforms need no insertable streams');
const [mic, cam] = pc.ts;
eq([mic.sender.transform?.options, cam.sender.transform?.options], [{ id: 1, dir: 'send', kind: 'audio' }, { id: 2, dir: 'send', kind: 'video' }], 'senders encrypt');
eq([mic.codecs, cam.codecs], [['audio/opus'], ['video/VP8', 'video/rtx']], 'no RED, VP8 only');

await publish(ws, { 3: { publisher: 'p2', source: 'mic' }, 4: { publisher: 'p2', source: 'camera' }, 5: { publisher: 'p3', source: 'mic' } });
const app = window.__switchyard;
const recv = pc.ts.filter((t) => t.mid >= '3').map((t) => t.receiver.transform?.options);
eq(recv, [{ id: 3, dir: 'recv', kind: 'audio' }, { id: 4, dir: 'recv', kind: 'video' }, { id: 5, dir: 'recv', kind: 'audio' }], 'receivers decrypt');
const tile = (id) => app.grid.tiles.get(id);
eq([tile('p2').lockEl.hidden, tile('p3').lockEl.hidden, app.grid.self.lockEl.hidden], [false, true, false], 'locks: p2 and you');
const row = $('people-list').children.find((r) => r.dataset.id === 'p2');
check(JSON.stringify(row).includes('end-to-end encrypted'), 'p2 listed with a lock');

// The worker's stats: p2's frames fail, p3's decrypt.
const stat = (ok, bad = 0) => ({ dir: 'recv', kind: 'video', frames: ok + bad, ok, empty: 0, dropped: bad, reasons: bad ? { 'bad tag': bad } : {} });
w.onmessage({ data: { op: 'stats', stats: { 3: stat(0, 5), 4: stat(0, 9), 5: stat(7) } } });
eq([tile('p2').noteEl.hidden, tile('p2').noteEl.textContent, tile('p2').el.classList.contains('no-video')], [false, 'cannot decrypt Bo', true], 'p2 cannot be decrypted');
eq(tile('p3').noteEl.hidden, true, 'p3 decrypts');
w.onmessage({ data: { op: 'stats', stats: { 3: stat(0, 5), 4: stat(0, 9), 5: stat(7) } } });
eq(tile('p2').noteEl.hidden, false, 'no news: still failing');
w.onmessage({ data: { op: 'stats', stats: { 3: stat(4, 5), 4: stat(2, 9), 5: stat(9) } } });
eq(tile('p2').noteEl.hidden, true, 'p2 decrypts again');
console.log('ok');
process.exit(0);
