// Local recording of the meeting as this browser shows it: the large tile's
// video (the active speaker or a share) drawn onto a canvas, every voice mixed
// through an AudioContext, recorded by MediaRecorder into WebM in one-second
// chunks and downloaded when it stops.

export const MIME_TYPES = ['video/webm;codecs=vp8,opus', 'video/webm'];
const WIDTH = 1280;
const HEIGHT = 720;
const FPS = 30;
const TIMESLICE_MS = 1000;

// pickMimeType returns the first WebM type the browser can record, or ''
// when it can record none (the caller then refuses to record).
export function pickMimeType(isTypeSupported) {
  for (const t of MIME_TYPES) {
    try {
      if (isTypeSupported(t)) return t;
    } catch {
      // A browser that throws on the question cannot answer yes.
    }
  }
  return '';
}

// recordingName is the downloaded file's name: room and local start time.
export function recordingName(room, date) {
  const pad = (n) => String(n).padStart(2, '0');
  const stamp = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}-${pad(date.getHours())}${pad(date.getMinutes())}`;
  const safe = String(room || 'meeting').replace(/[^A-Za-z0-9._-]/g, '_');
  return `switchyard-${safe}-${stamp}.webm`;
}

// fitRect places a w x h picture inside a W x H frame, letterboxed.
export function fitRect(w, h, W, H) {
  if (!(w > 0) || !(h > 0)) return { x: 0, y: 0, w: W, h: H };
  const s = Math.min(W / w, H / h);
  return { x: (W - w * s) / 2, y: (H - h * s) / 2, w: w * s, h: h * s };
}

export class MeetingRecorder {
  // scene() returns {video: HTMLVideoElement|null, label: string} to draw
  // now; audioTracks() every audio track to mix (remote voices and the
  // microphone).
  constructor({ scene, audioTracks }) {
    this.scene = scene;
    this.audioTracks = audioTracks;
    this.mimeType = pickMimeType((t) => globalThis.MediaRecorder?.isTypeSupported?.(t) ?? false);
    this.chunks = [];
    this.bytes = 0;
    this.rec = null;
  }

  get recording() {
    return this.rec?.state === 'recording';
  }

  start() {
    if (!this.mimeType) throw new Error('this browser cannot record WebM');
    this.canvas = document.createElement('canvas');
    this.canvas.width = WIDTH;
    this.canvas.height = HEIGHT;
    this.ctx2d = this.canvas.getContext('2d');
    this.audio = new AudioContext();
    this.mix = this.audio.createMediaStreamDestination();
    this.inputs = new Map(); // track -> its source node in the mix
    this.draw();
    const stream = new MediaStream([
      ...this.canvas.captureStream(FPS).getVideoTracks(),
      ...this.mix.stream.getAudioTracks(),
    ]);
    this.chunks = [];
    this.bytes = 0;
    this.rec = new MediaRecorder(stream, { mimeType: this.mimeType, videoBitsPerSecond: 2_500_000 });
    this.rec.ondataavailable = (e) => {
      if (e.data?.size > 0) {
        this.chunks.push(e.data);
        this.bytes += e.data.size;
      }
    };
    this.stopped = new Promise((resolve) => {
      this.rec.onstop = () => resolve(new Blob(this.chunks, { type: this.mimeType.split(';')[0] }));
    });
    // A timer, not requestAnimationFrame: frames must keep coming when the
    // tab is in the background.
    this.timer = setInterval(() => this.draw(), 1000 / FPS);
    this.rec.start(TIMESLICE_MS);
  }

  // stop ends the recording and resolves with the WebM file.
  async stop() {
    if (!this.rec) return null;
    clearInterval(this.timer);
    if (this.rec.state !== 'inactive') this.rec.stop();
    const blob = await this.stopped;
    for (const t of this.rec.stream.getTracks()) t.stop();
    for (const node of this.inputs.values()) node.disconnect();
    await this.audio.close().catch(() => {});
    this.rec = null;
    this.chunks = [];
    return blob;
  }

  draw() {
    this.syncAudio();
    const c = this.ctx2d;
    const { video, label } = this.scene();
    c.fillStyle = '#111418';
    c.fillRect(0, 0, WIDTH, HEIGHT);
    if (video && video.readyState >= 2 && video.videoWidth > 0) {
      const r = fitRect(video.videoWidth, video.videoHeight, WIDTH, HEIGHT);
      c.drawImage(video, r.x, r.y, r.w, r.h);
    } else if (label) {
      c.fillStyle = '#94a0ae';
      c.font = '600 96px system-ui, sans-serif';
      c.textAlign = 'center';
      c.textBaseline = 'middle';
      c.fillText(label.slice(0, 24), WIDTH / 2, HEIGHT / 2);
    }
    if (label) {
      c.font = '28px system-ui, sans-serif';
      c.textAlign = 'left';
      c.textBaseline = 'bottom';
      c.fillStyle = 'rgb(0 0 0 / 0.6)';
      c.fillRect(16, HEIGHT - 60, Math.min(WIDTH - 32, c.measureText(label).width + 24), 44);
      c.fillStyle = '#e8ecf1';
      c.fillText(label, 28, HEIGHT - 24);
    }
  }

  // syncAudio keeps the mix equal to the voices present now: people join,
  // leave and unmute while the recording runs.
  syncAudio() {
    const now = new Set(this.audioTracks().filter((t) => t && t.readyState !== 'ended'));
    for (const [track, node] of this.inputs) {
      if (!now.has(track)) {
        node.disconnect();
        this.inputs.delete(track);
      }
    }
    for (const track of now) {
      if (this.inputs.has(track)) continue;
      const node = this.audio.createMediaStreamSource(new MediaStream([track]));
      node.connect(this.mix);
      this.inputs.set(track, node);
    }
  }
}

// downloadBlob saves blob under name through a temporary <a download>.
export function downloadBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  // The download has started by the time the click returns; a minute is
  // ample before freeing the memory.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
