// End-to-end encryption of media frames: the keys a room passphrase gives
// and the format of an encrypted frame. Pure WebCrypto (the page, the
// e2ee worker and node's tests all have crypto.subtle), no DOM.
//
// Keys. PBKDF2-SHA-256 (PBKDF2_ITERATIONS) turns the passphrase, salted with
// the room name, into a 256-bit secret; HKDF-SHA-256 turns that into one key
// per purpose: the AES-GCM-128 frame key of each key id ("frame key <id>")
// and a short security code people may compare ("security code").
//
// An encrypted frame is
//
//   clear header | AES-GCM ciphertext and 16-byte tag | IV (12) | key id (1)
//
// The clear header is what the SFU needs to read: VP8 keeps its 10-byte
// keyframe header (frame tag, start code, size) or its 3-byte frame tag on
// a delta frame, Opus its 1-byte TOC. The IV is the sender's random 6-byte
// id followed by its 6-byte frame counter, one counter for all its tracks,
// so an IV never repeats under a key (a new id every page load). Header,
// IV and key id are authenticated as additional data. An empty frame (DTX,
// a dropped video frame) stays empty.

export const PBKDF2_ITERATIONS = 100_000;
export const IV_BYTES = 12;
export const SENDER_ID_BYTES = 6;
export const TAG_BYTES = 16;
export const TRAILER_BYTES = IV_BYTES + 1;
// OVERHEAD is what encryption adds to a non-empty frame.
export const OVERHEAD = TAG_BYTES + TRAILER_BYTES;
export const MAX_COUNTER = 2 ** 48 - 1;
// CURRENT_KEY_ID is the key id frames are sent with; receivers know no other.
export const CURRENT_KEY_ID = 0;

const VP8_KEY_HEADER = 10;
const VP8_DELTA_HEADER = 3;
const OPUS_HEADER = 1;

const utf8 = (s) => new TextEncoder().encode(s);
const subtle = () => globalThis.crypto.subtle;

// deriveKeys turns a room passphrase into the room's keys: {frameKey (key
// id CURRENT_KEY_ID), keys: Map(id -> CryptoKey), code}. Everyone in room
// with the same passphrase gets the same keys.
export async function deriveKeys(passphrase, room) {
  if (typeof passphrase !== 'string' || passphrase === '') throw new Error('e2ee: empty passphrase');
  const pass = await subtle().importKey('raw', utf8(passphrase), 'PBKDF2', false, ['deriveBits']);
  const secret = await subtle().deriveBits(
    { name: 'PBKDF2', hash: 'SHA-256', salt: utf8(`switchyard e2ee v1 room ${room}`), iterations: PBKDF2_ITERATIONS },
    pass, 256);
  const hkdf = await subtle().importKey('raw', secret, 'HKDF', false, ['deriveKey', 'deriveBits']);
  const purpose = (info) => ({ name: 'HKDF', hash: 'SHA-256', salt: utf8('switchyard e2ee v1'), info: utf8(info) });
  const frameKey = await subtle().deriveKey(purpose(`frame key ${CURRENT_KEY_ID}`), hkdf,
    { name: 'AES-GCM', length: 128 }, false, ['encrypt', 'decrypt']);
  const codeBits = new Uint8Array(await subtle().deriveBits(purpose('security code'), hkdf, 48));
  return { frameKey, keys: new Map([[CURRENT_KEY_ID, frameKey]]), code: securityCode(codeBits) };
}

// securityCode shows 6 bytes as three groups of four digits.
export function securityCode(bytes) {
  const out = [];
  for (let i = 0; i + 1 < bytes.length && out.length < 3; i += 2) {
    out.push(String(((bytes[i] << 8) | bytes[i + 1]) % 10000).padStart(4, '0'));
  }
  return out.join(' ');
}

// clearBytes is how many leading bytes of a frame of kind ('audio' or
// 'video', VP8) stay readable, never more than the frame has. A VP8
// frame's first bit says keyframe (0) or delta (1).
export function clearBytes(kind, data) {
  if (data.length === 0) return 0;
  const want = kind === 'audio' ? OPUS_HEADER : (data[0] & 1) === 0 ? VP8_KEY_HEADER : VP8_DELTA_HEADER;
  return Math.min(want, data.length);
}

// Sender numbers one participant's frames. Its id is random; the counter
// goes up by one per frame, on every track it encrypts.
export class Sender {
  constructor(id = globalThis.crypto.getRandomValues(new Uint8Array(SENDER_ID_BYTES))) {
    if (id.length !== SENDER_ID_BYTES) throw new Error('e2ee: sender id must be 6 bytes');
    this.id = Uint8Array.from(id);
    this.counter = 0;
  }

  // nextIV returns a fresh IV; it throws rather than ever wrap the counter.
  nextIV() {
    if (this.counter >= MAX_COUNTER) throw new Error('e2ee: frame counter exhausted');
    const iv = new Uint8Array(IV_BYTES);
    iv.set(this.id, 0);
    writeCounter(iv, SENDER_ID_BYTES, this.counter++);
    return iv;
  }
}

function writeCounter(buf, at, n) {
  for (let i = 5; i >= 0; i--) {
    buf[at + i] = n % 256;
    n = Math.floor(n / 256);
  }
}

// readCounter reads the 6-byte counter of an IV, for tests and stats.
export function readCounter(iv) {
  let n = 0;
  for (let i = SENDER_ID_BYTES; i < IV_BYTES; i++) n = n * 256 + iv[i];
  return n;
}

function additionalData(header, trailer) {
  const aad = new Uint8Array(header.length + trailer.length);
  aad.set(header, 0);
  aad.set(trailer, header.length);
  return aad;
}

// encryptFrame returns the encrypted form of one frame (a Uint8Array) of
// kind, sent by sender under key (key id keyId).
export async function encryptFrame(key, sender, kind, data, keyId = CURRENT_KEY_ID) {
  const frame = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (frame.length === 0) return frame;
  const n = clearBytes(kind, frame);
  const header = frame.subarray(0, n);
  const trailer = new Uint8Array(TRAILER_BYTES);
  trailer.set(sender.nextIV(), 0);
  trailer[IV_BYTES] = keyId;
  const iv = trailer.subarray(0, IV_BYTES);
  const sealed = new Uint8Array(await subtle().encrypt(
    { name: 'AES-GCM', iv, additionalData: additionalData(header, trailer), tagLength: TAG_BYTES * 8 },
    key, frame.subarray(n)));
  const out = new Uint8Array(n + sealed.length + TRAILER_BYTES);
  out.set(header, 0);
  out.set(sealed, n);
  out.set(trailer, n + sealed.length);
  return out;
}

// Reasons decryptFrame refuses a frame.
export const SHORT = 'short'; // too short to hold a tag and a trailer
export const UNKNOWN_KEY = 'unknown key';
export const BAD_TAG = 'bad tag'; // another key, or damaged

// decryptFrame returns {data} (a Uint8Array: the frame as it was before
// encryption) or {error} (SHORT, UNKNOWN_KEY or BAD_TAG). keys maps key ids
// to keys. It never throws for any input.
export async function decryptFrame(keys, kind, data) {
  const frame = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (frame.length === 0) return { data: frame };
  if (frame.length < OVERHEAD) return { error: SHORT };
  const trailer = frame.subarray(frame.length - TRAILER_BYTES);
  const key = keys?.get?.(trailer[IV_BYTES]);
  if (!key) return { error: UNKNOWN_KEY };
  const body = frame.subarray(0, frame.length - TRAILER_BYTES);
  const n = clearBytes(kind, body.subarray(0, body.length - TAG_BYTES));
  const header = body.subarray(0, n);
  try {
    const plain = new Uint8Array(await subtle().decrypt(
      { name: 'AES-GCM', iv: trailer.subarray(0, IV_BYTES), additionalData: additionalData(header, trailer), tagLength: TAG_BYTES * 8 },
      key, body.subarray(n)));
    const out = new Uint8Array(n + plain.length);
    out.set(header, 0);
    out.set(plain, n);
    return { data: out };
  } catch {
    return { error: BAD_TAG };
  }
}
