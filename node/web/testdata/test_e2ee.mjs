// End-to-end encryption's pure parts under node's WebCrypto: the keys a
// passphrase gives (checked against node:crypto's own PBKDF2 and HKDF), the
// frame format (clear codec header, trailer, IV), decryption failures, and
// the worker's frame handling, which must neither throw nor pass on a frame
// it could not handle.
import { eq } from './assert.mjs';
import nodeCrypto from 'node:crypto';
import {
  BAD_TAG, CURRENT_KEY_ID, IV_BYTES, MAX_COUNTER, OVERHEAD, PBKDF2_ITERATIONS, SHORT, Sender, TRAILER_BYTES, UNKNOWN_KEY,
  clearBytes, decryptFrame, deriveKeys, encryptFrame, readCounter, securityCode,
} from './e2ee-frame.js';
import { FrameCrypto } from './e2ee-transform.js';
import { codecsFor, hashFor, passphraseFromHash, pickAPI, tileStatus } from './e2ee.js';

const subtle = globalThis.crypto.subtle;
const bytes = (n, first, fill = 7) => Uint8Array.from({ length: n }, (_, i) => (i === 0 ? first : (i * fill) & 255));
const hex = (b) => Buffer.from(b).toString('hex');
async function throwsAsync(fn) {
  try {
    await fn();
  } catch {
    return true;
  }
  return false;
}

// Keys: the same passphrase and room give the same keys; the derivation is
// the documented one (node:crypto computes it independently).
const room = 'standup';
const k1 = await deriveKeys('correct horse', room);
const k2 = await deriveKeys('correct horse', room);
const other = await deriveKeys('correct horse', 'other-room');
const wrong = await deriveKeys('battery staple', room);
eq(k1.code, k2.code, 'same passphrase, same code');
eq(/^\d{4} \d{4} \d{4}$/.test(k1.code), true, `code format ${k1.code}`);
eq([k1.code !== other.code, k1.code !== wrong.code], [true, true], 'room and passphrase change the code');
eq(await throwsAsync(() => deriveKeys('', room)), true, 'empty passphrase refused');
const secret = nodeCrypto.pbkdf2Sync('correct horse', `switchyard e2ee v1 room ${room}`, PBKDF2_ITERATIONS, 32, 'sha256');
const hkdf = (info, n) => new Uint8Array(nodeCrypto.hkdfSync('sha256', secret, 'switchyard e2ee v1', info, n));
eq(k1.code, securityCode(hkdf('security code', 6)), 'security code = HKDF(PBKDF2(passphrase, room), "security code")');
const reference = await subtle.importKey('raw', hkdf(`frame key ${CURRENT_KEY_ID}`, 16), 'AES-GCM', false, ['encrypt', 'decrypt']);
const sender = new Sender(Uint8Array.of(1, 2, 3, 4, 5, 6));
const byReference = await encryptFrame(reference, sender, 'audio', bytes(50, 0x78));
eq(hex((await decryptFrame(k1.keys, 'audio', byReference)).data), hex(bytes(50, 0x78)), 'frame key = HKDF(..., "frame key 0"), AES-128-GCM');
eq(securityCode(Uint8Array.of(0, 1, 0xff, 0xff, 0x27, 0x10)), '0001 5535 0000', 'code digits');

// The frame format: the codec header in the clear, then ciphertext and
// tag, then the IV (sender id, counter) and the key id.
const cases = [
  { name: 'VP8 keyframe', kind: 'video', data: bytes(300, 0x50), clear: 10 },
  { name: 'VP8 delta frame', kind: 'video', data: bytes(120, 0x31), clear: 3 },
  { name: 'Opus', kind: 'audio', data: bytes(80, 0x78), clear: 1 },
  { name: 'Opus DTX, TOC only', kind: 'audio', data: Uint8Array.of(0x78), clear: 1 },
  { name: 'VP8 keyframe shorter than its header', kind: 'video', data: bytes(6, 0x10), clear: 6 },
  { name: 'VP8 delta shorter than its header', kind: 'video', data: Uint8Array.of(0x01, 0x02), clear: 2 },
];
const s = new Sender(Uint8Array.of(0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6));
for (const [i, c] of cases.entries()) {
  eq(clearBytes(c.kind, c.data), c.clear, `${c.name}: clear bytes`);
  const enc = await encryptFrame(k1.frameKey, s, c.kind, c.data);
  eq(enc.length, c.data.length + OVERHEAD, `${c.name}: length`);
  eq(hex(enc.subarray(0, c.clear)), hex(c.data.subarray(0, c.clear)), `${c.name}: header in the clear`);
  const trailer = enc.subarray(enc.length - TRAILER_BYTES);
  eq([hex(trailer.subarray(0, 6)), readCounter(trailer), trailer[IV_BYTES]], ['a1a2a3a4a5a6', i, CURRENT_KEY_ID], `${c.name}: trailer`);
  if (c.data.length > c.clear + 8) {
    eq(hex(enc.subarray(c.clear, c.data.length)) === hex(c.data.subarray(c.clear)), false, `${c.name}: body encrypted`);
  }
  eq(hex((await decryptFrame(k2.keys, c.kind, enc)).data), hex(c.data), `${c.name}: round trip with the same passphrase`);
  eq((await decryptFrame(wrong.keys, c.kind, enc)).error, BAD_TAG, `${c.name}: wrong passphrase`);
  eq((await decryptFrame(other.keys, c.kind, enc)).error, BAD_TAG, `${c.name}: same passphrase, other room`);
}
eq(hex(await encryptFrame(k1.frameKey, s, 'video', new Uint8Array(0))), '', 'empty frame stays empty');
eq(hex((await decryptFrame(k1.keys, 'video', new Uint8Array(0))).data), '', 'empty frame decrypts to empty');

// Tampering with what the SFU can see or the trailer is caught.
const good = await encryptFrame(k1.frameKey, s, 'video', bytes(200, 0x50));
const flip = (at) => {
  const b = Uint8Array.from(good);
  b[at] ^= 0x04;
  return b;
};
eq((await decryptFrame(k1.keys, 'video', flip(7))).error, BAD_TAG, 'clear header changed');
eq((await decryptFrame(k1.keys, 'video', flip(50))).error, BAD_TAG, 'ciphertext changed');
eq((await decryptFrame(k1.keys, 'video', flip(good.length - 5))).error, BAD_TAG, 'counter changed');
eq((await decryptFrame(k1.keys, 'video', flip(good.length - 1))).error, UNKNOWN_KEY, 'key id changed');
eq((await decryptFrame(k1.keys, 'video', flip(0))).error, BAD_TAG, 'keyframe bit changed');

// IVs never repeat: one counter for every track of a sender.
const seen = new Set();
const ivs = new Sender();
for (let i = 0; i < 5000; i++) seen.add(hex(ivs.nextIV()));
eq(seen.size, 5000, 'IVs unique');
const last = new Sender(Uint8Array.of(9, 9, 9, 9, 9, 9));
last.counter = MAX_COUNTER;
eq(await throwsAsync(() => encryptFrame(k1.frameKey, last, 'audio', bytes(10, 1))), true, 'counter never wraps');
eq(await throwsAsync(async () => new Sender(new Uint8Array(4))), true, 'sender id length checked');

// Whatever arrives, decryption answers without throwing: too short for a
// trailer, or garbage of any length (a participant who does not encrypt).
for (let n = 1; n < OVERHEAD; n++) eq((await decryptFrame(k1.keys, 'video', bytes(n, 0x50))).error, SHORT, `${n} bytes: short`);
let garbage = 0;
for (let n = OVERHEAD; n < OVERHEAD + 300; n += 7) {
  const r = await decryptFrame(k1.keys, n % 2 ? 'audio' : 'video', nodeCrypto.randomBytes(n));
  if (r.error === BAD_TAG || r.error === UNKNOWN_KEY) garbage++;
}
eq(garbage, Math.ceil(300 / 7), 'garbage refused');
eq((await decryptFrame(null, 'audio', byReference)).error, UNKNOWN_KEY, 'no keys at all');

// The worker's frame handling: counts, drops, never the clear text out.
const fc = new FrameCrypto(new Sender(Uint8Array.of(1, 1, 1, 1, 1, 1)));
const rx = new FrameCrypto();
const rxWrong = new FrameCrypto();
const st = () => ({ frames: 0, ok: 0, empty: 0, dropped: 0, reasons: {} });
const frame = (u8) => ({ data: u8.slice().buffer });
const noKey = st();
eq(await fc.handle(frame(bytes(40, 0x50)), 'send', 'video', noKey), false, 'no key yet: not sent');
eq(noKey.reasons, { 'no key': 1 }, 'counted as no key');
eq(await throwsAsync(() => fc.handle(null, 'send', 'video', st())), false, 'no frame: no exception');
await fc.setPassphrase('pw', room);
await rx.setPassphrase('pw', room);
await rxWrong.setPassphrase('pw2', room);
const sendSt = st();
const recvSt = st();
const wrongSt = st();
for (const [kind, data] of [['video', bytes(500, 0x50)], ['video', bytes(90, 0x31)], ['audio', bytes(60, 0x78)], ['audio', new Uint8Array(0)]]) {
  const f = frame(data);
  eq(await fc.handle(f, 'send', kind, sendSt), true, `${kind} ${data.length}: sent`);
  const wire = new Uint8Array(f.data);
  const g = frame(wire);
  eq(await rxWrong.handle(g, 'recv', kind, wrongSt), data.length === 0, `${kind} ${data.length}: wrong passphrase passes empty frames only`);
  eq(await rx.handle(f, 'recv', kind, recvSt), true, `${kind} ${data.length}: received`);
  eq(hex(new Uint8Array(f.data)), hex(data), `${kind} ${data.length}: as sent`);
}
eq([sendSt.ok, sendSt.empty, recvSt.ok, recvSt.empty, recvSt.dropped], [3, 1, 3, 1, 0], 'send and receive counts');
eq([wrongSt.dropped, wrongSt.reasons], [3, { 'bad tag': 3 }], 'wrong passphrase: dropped');
const shortSt = st();
for (let n = 1; n < 12; n++) eq(await rx.handle(frame(bytes(n, 0x50)), 'recv', 'video', shortSt), false, `short ${n}: dropped`);
eq(shortSt.reasons, { short: 11 }, 'short frames counted');

// pipe: frames through real web streams, a sender's into a receiver's.
const wire = [];
const out = [];
const source = (list) => new ReadableStream({ start(c) { for (const f of list) c.enqueue(f); c.close(); } });
await fc.pipe(source([frame(bytes(100, 0x50)), frame(bytes(30, 0x31)), frame(new Uint8Array(0))]),
  new WritableStream({ write(f) { wire.push(f); } }), { id: 1, dir: 'send', kind: 'video' });
eq([wire.length, fc.stats.size], [3, 0], 'sent three, stats gone with the stream');
const forged = frame(bytes(80, 0x31)); // a frame from someone who does not encrypt
await rx.pipe(source([...wire, forged]), new WritableStream({ write(f) { out.push(new Uint8Array(f.data).length); } }), { id: 2, dir: 'recv', kind: 'video' });
eq(out, [100, 30, 0], 'received three; the unencrypted one dropped');

// Which tiles decrypt, from the worker's stats.
const stat = (dir, ok, reasons = {}) => ({ dir, kind: 'video', frames: 0, ok, empty: 0, dropped: 0, reasons });
const owners = new Map([['1', 'p1'], ['2', 'p1'], ['3', 'p2'], ['4', 'p3/screen'], ['9', 'p9']]);
const prev = { 1: stat('recv', 10), 3: stat('recv', 0, { 'bad tag': 5 }), 4: stat('recv', 0) };
const next = { 1: stat('recv', 12), 2: stat('recv', 0, { 'bad tag': 4 }), 3: stat('recv', 0, { 'bad tag': 9 }), 4: stat('recv', 0, { 'no key': 3 }), 5: stat('send', 99) };
eq(tileStatus(prev, next, owners), new Map([['p1', 'ok'], ['p2', 'failing']]), 'ok wins in a tile; no key is not the sender\'s fault; no news, no status');
eq(tileStatus(next, next, owners), new Map(), 'nothing new');

// Codecs an encrypted m-line may use: no RED; VP8 and RTX only.
const audio = [{ mimeType: 'audio/opus' }, { mimeType: 'audio/red' }, { mimeType: 'audio/G722' }];
const video = [{ mimeType: 'video/VP8' }, { mimeType: 'video/rtx' }, { mimeType: 'video/H264' }, { mimeType: 'video/VP9' }, { mimeType: 'video/red' }];
eq(codecsFor('audio', audio).map((c) => c.mimeType), ['audio/opus', 'audio/G722'], 'audio without RED');
eq(codecsFor('video', video).map((c) => c.mimeType), ['video/VP8', 'video/rtx'], 'video: VP8');

// Which API; the passphrase in the fragment.
class Sender2 {}
Sender2.prototype.createEncodedStreams = () => {};
const both = { RTCRtpScriptTransform: class {}, RTCRtpSender: Sender2 };
eq([pickAPI(both), pickAPI(both, 'streams'), pickAPI({ RTCRtpSender: Sender2 }, 'script'), pickAPI({ RTCRtpSender: class {} })], ['script', 'streams', 'streams', ''], 'api choice');
for (const p of ['s3cret', 'a b+c&d=é#%', '']) eq(passphraseFromHash(hashFor(p)), p, `fragment round trip ${JSON.stringify(p)}`);
eq([passphraseFromHash('#e2ee=x&e2ee-api=streams'), passphraseFromHash(''), passphraseFromHash('#other=1'), hashFor('')], ['x', '', '', ''], 'fragment parsing');
console.log('ok');
