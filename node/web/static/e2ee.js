// End-to-end encryption, the page's side: the room passphrase from the
// join page or the address's fragment (#e2ee=..., which never reaches the
// server), the e2ee worker that holds the keys and handles every frame
// (e2ee-worker.js, e2ee-frame.js), a transform on every sender and receiver
// of the peer connection, and per tile whether its frames decrypt.
//
// Frames reach the worker through RTCRtpScriptTransform where the browser
// has it (Firefox, recent Chromium), else through Chromium's
// createEncodedStreams (the peer connection then needs
// encodedInsertableStreams). The SFU must still read the codec headers, so
// video is VP8 only, and audio is plain Opus. Audio RED (red/48000/2, which
// Chromium offers and the node prefers) is left out of every audio m-line:
// with RED negotiated, Chromium's transform is handed the whole RFC 2198
// payload (mimeType audio/red: block headers, the redundant copy, then the
// primary), so encryption would hide the block headers from the node,
// which then can neither forward-strip RED for Firefox nor parse it at all.
import { tileKey } from './tracks.js';

const WORKER_URL = '/assets/e2ee-worker.js';
const READY_TIMEOUT_MS = 15000;
// Drops that mean the frames are not for our key: a wrong passphrase, or
// a participant that does not encrypt.
const NOT_OURS = ['bad tag', 'unknown key', 'short'];

// passphraseFromHash reads #e2ee=<passphrase>; '' when absent.
export function passphraseFromHash(hash) {
  try {
    return new URLSearchParams(String(hash || '').replace(/^#/, '')).get('e2ee') || '';
  } catch {
    return '';
  }
}

// hashFor is the fragment that carries passphrase (and nothing else).
export function hashFor(passphrase) {
  return passphrase ? `#${new URLSearchParams({ e2ee: passphrase })}` : '';
}

// pickAPI says how frames reach the worker: 'script', 'streams' or ''
// (neither: this browser cannot encrypt). want ('script' or 'streams',
// from #e2ee-api= for tests) picks one the browser has.
export function pickAPI(g = globalThis, want = '') {
  const has = {
    script: typeof g.RTCRtpScriptTransform === 'function',
    streams: typeof g.RTCRtpSender?.prototype?.createEncodedStreams === 'function',
  };
  if (has[want]) return want;
  return has.script ? 'script' : has.streams ? 'streams' : '';
}

// codecsFor keeps the codecs an encrypted m-line of kind may use: audio
// without RED, video VP8 (and its retransmissions).
export function codecsFor(kind, codecs) {
  const name = (c) => String(c.mimeType || '').toLowerCase();
  if (kind === 'audio') return codecs.filter((c) => name(c) !== 'audio/red');
  return codecs.filter((c) => name(c) === 'video/vp8' || name(c) === 'video/rtx');
}

// tileStatus compares two stats snapshots of the worker ({id: counts})
// and says, per tile key, whether frames now decrypt ('ok') or all fail
// ('failing'); tiles without news are left out. owners maps a receiving
// transform's id to its tile key.
export function tileStatus(prev, next, owners) {
  const sums = new Map();
  for (const [id, key] of owners) {
    const now = next[id];
    if (!now || now.dir !== 'recv') continue;
    const was = prev[id] || { ok: 0, reasons: {} };
    const s = sums.get(key) || { ok: 0, bad: 0 };
    s.ok += Math.max(0, now.ok - was.ok);
    for (const r of NOT_OURS) s.bad += Math.max(0, (now.reasons[r] || 0) - (was.reasons?.[r] || 0));
    sums.set(key, s);
  }
  const out = new Map();
  for (const [key, s] of sums) {
    if (s.ok > 0) out.set(key, 'ok');
    else if (s.bad > 0) out.set(key, 'failing');
  }
  return out;
}

export class E2EE {
  // receivers() is the session's pid -> [{source, receiver}] (session.js);
  // onTile(key, 'ok'|'failing') follows each tile's decryption.
  constructor({ passphrase, room, api = pickAPI(), receivers = () => new Map(), onTile = () => {} }) {
    Object.assign(this, { passphrase, room, api, receivers, onTile });
    this.worker = null;
    this.code = ''; // security code: the same for everyone with the passphrase
    this.ids = new WeakMap(); // sender or receiver -> transform id
    this.nextId = 0;
    this.stats = {}; // the worker's last stats
  }

  // start runs the worker and derives the keys; it returns '' or why
  // encryption is not possible here.
  async start() {
    if (!this.api) return 'This browser cannot encrypt calls end to end; not joining.';
    try {
      this.worker = new Worker(WORKER_URL, { type: 'module', name: 'switchyard-e2ee' });
      this.code = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no answer from the encryption worker')), READY_TIMEOUT_MS);
        this.worker.onerror = (e) => reject(new Error(e.message || 'the encryption worker failed'));
        this.worker.onmessage = ({ data: m }) => {
          if (m?.op === 'stats') return this.onStats(m.stats);
          clearTimeout(timer);
          if (m?.op === 'ready') resolve(m.code);
          else reject(new Error(m?.error || 'key derivation failed'));
        };
        this.worker.postMessage({ op: 'init', passphrase: this.passphrase, room: this.room });
      });
    } catch (err) {
      this.close();
      return `Cannot start end-to-end encryption (${err.message}); not joining.`;
    }
    return '';
  }

  // pcConfig is what the peer connection needs for the chosen API.
  pcConfig() {
    return this.api === 'streams' ? { encodedInsertableStreams: true } : {};
  }

  // sender encrypts what transceiver sends, restricted to codecs the
  // transform understands.
  sender(transceiver, kind) {
    this.preferCodecs(transceiver, kind);
    this.attach(transceiver.sender, 'send', kind);
  }

  // receiver decrypts what receiver gets; once per receiver.
  receiver(receiver, kind) {
    this.attach(receiver, 'recv', kind);
  }

  // beforeAnswer keeps RED out of the answer's audio m-lines.
  beforeAnswer(pc) {
    for (const t of pc.getTransceivers()) {
      if (t.receiver?.track?.kind === 'audio' && !t.stopped) this.preferCodecs(t, 'audio');
    }
  }

  preferCodecs(transceiver, kind) {
    const caps = globalThis.RTCRtpReceiver?.getCapabilities?.(kind)?.codecs;
    if (!caps || !transceiver.setCodecPreferences) return;
    try {
      transceiver.setCodecPreferences(codecsFor(kind, caps));
    } catch (err) {
      console.warn('switchyard: e2ee codec preferences', kind, err);
    }
  }

  attach(endpoint, dir, kind) {
    if (!endpoint || this.ids.has(endpoint) || !this.worker) return;
    const options = { id: ++this.nextId, dir, kind };
    this.ids.set(endpoint, options.id);
    if (this.api === 'script') {
      endpoint.transform = new RTCRtpScriptTransform(this.worker, options);
      return;
    }
    const { readable, writable } = endpoint.createEncodedStreams();
    this.worker.postMessage({ op: 'stream', readable, writable, options }, [readable, writable]);
  }

  onStats(stats) {
    const owners = new Map();
    for (const [pid, list] of this.receivers() || []) {
      for (const { source, receiver } of list) {
        const id = this.ids.get(receiver);
        if (id != null) owners.set(String(id), tileKey(pid, source));
      }
    }
    // Told every time: a tile made again (after a rejoin) learns it too.
    for (const [key, s] of tileStatus(this.stats, stats, owners)) this.onTile(key, s);
    this.stats = stats;
  }

  // totals sums the worker's counts, for the test reports.
  totals() {
    const out = { encrypted: 0, decrypted: 0, dropped: 0, reasons: {} };
    for (const s of Object.values(this.stats)) {
      out[s.dir === 'send' ? 'encrypted' : 'decrypted'] += s.ok;
      out.dropped += s.dropped;
      for (const [r, n] of Object.entries(s.reasons)) out.reasons[`${s.dir} ${r}`] = (out.reasons[`${s.dir} ${r}`] || 0) + n;
    }
    return out;
  }

  close() {
    this.worker?.terminate();
    this.worker = null;
  }
}
