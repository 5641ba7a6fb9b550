// The e2ee worker (a module worker started by e2ee.js): it derives the
// room's keys and encrypts and decrypts every encoded frame, whether the
// browser hands the frames over with RTCRtpScriptTransform (rtctransform
// events) or the page transfers createEncodedStreams' streams here.
// Messages from the page:
//   {op: 'init', passphrase, room}      -> {op: 'ready', code} or {op: 'failed', error}
//   {op: 'stream', readable, writable, options: {id, dir, kind}}
// and every STATS_MS, when anything changed: {op: 'stats', stats: {id: counts}}.
import { FrameCrypto } from './e2ee-transform.js';

const STATS_MS = 500;
const frames = new FrameCrypto();

self.onmessage = async ({ data: m }) => {
  if (m?.op === 'init') {
    try {
      self.postMessage({ op: 'ready', code: await frames.setPassphrase(m.passphrase, m.room) });
    } catch (err) {
      self.postMessage({ op: 'failed', error: String(err?.message || err) });
    }
  } else if (m?.op === 'stream') {
    frames.pipe(m.readable, m.writable, m.options || {});
  }
};

self.onrtctransform = ({ transformer }) => {
  frames.pipe(transformer.readable, transformer.writable, transformer.options || {});
};

let last = '';
setInterval(() => {
  const text = JSON.stringify(Object.fromEntries(frames.stats));
  if (text === last) return;
  last = text;
  self.postMessage({ op: 'stats', stats: JSON.parse(text) });
}, STATS_MS);
