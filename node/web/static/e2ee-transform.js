// The e2ee worker's frame handling, apart from the worker so that node's
// tests run it: one FrameCrypto per page holds the room's keys and the
// sender's counter, and encrypts or decrypts each encoded frame that an
// RTCRtpScriptTransform or createEncodedStreams hands it. A frame that
// cannot be encrypted is never sent in the clear, and one that cannot be
// decrypted never reaches the decoder: both are dropped and counted.
import { Sender, decryptFrame, deriveKeys, encryptFrame } from './e2ee-frame.js';

// newStats is what is counted per transform (one sender's or receiver's
// stream of frames).
export function newStats(dir, kind) {
  return { dir, kind, frames: 0, ok: 0, empty: 0, dropped: 0, reasons: {} };
}

export class FrameCrypto {
  constructor(sender = new Sender()) {
    this.sender = sender;
    this.key = null; // the frame key frames are sent with
    this.keys = null; // key id -> key, for receiving
    this.stats = new Map(); // transform id -> newStats()
  }

  // setPassphrase derives the room's keys; it returns the security code.
  async setPassphrase(passphrase, room) {
    const k = await deriveKeys(passphrase, room);
    this.key = k.frameKey;
    this.keys = k.keys;
    return k.code;
  }

  // handle encrypts (dir 'send') or decrypts (dir 'recv') frame.data in
  // place and reports whether the frame is to be passed on. It never throws.
  async handle(frame, dir, kind, st) {
    st.frames++;
    const drop = (reason) => {
      st.dropped++;
      st.reasons[reason] = (st.reasons[reason] || 0) + 1;
      return false;
    };
    let data;
    try {
      data = new Uint8Array(frame.data);
    } catch {
      return drop('unreadable');
    }
    if (data.length === 0) {
      st.empty++;
      return true;
    }
    if (!this.key) return drop('no key');
    if (dir === 'send') {
      try {
        frame.data = (await encryptFrame(this.key, this.sender, kind, data)).buffer;
      } catch {
        return drop('encrypt failed');
      }
      st.ok++;
      return true;
    }
    const r = await decryptFrame(this.keys, kind, data);
    if (r.error) return drop(r.error);
    frame.data = r.data.buffer;
    st.ok++;
    return true;
  }

  // pipe runs one transform: frames from readable, handled, to writable.
  // id names it in the stats; the stats go when the stream ends.
  pipe(readable, writable, { id, dir, kind }) {
    const st = newStats(dir, kind);
    this.stats.set(id, st);
    const self = this;
    return readable
      .pipeThrough(new TransformStream({
        async transform(frame, controller) {
          if (await self.handle(frame, dir, kind, st)) controller.enqueue(frame);
        },
      }))
      .pipeTo(writable)
      .catch(() => {})
      .finally(() => this.stats.delete(id));
  }
}
