// One tile: a participant's camera (with its voice), a participant's shared
// screen, or yourself. It shows the video, or an avatar with initials when the
// camera is off or sends nothing; the name, a muted-microphone mark, a
// recording mark, a lock when the participant encrypts end to end (and
// "cannot decrypt" when its frames do not decrypt here), where the
// participant is (region, node, ⇄ when its media is relayed from another
// node of the cascade), the end-to-end RTT and a connection indicator
// whose tooltip says why.
import { initials } from './participants.js';

const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
};

const iconButton = (cls, label, text) => {
  const b = el('button', `tile-button ${cls}`, text);
  b.type = 'button';
  b.title = label;
  b.setAttribute?.('aria-label', label);
  return b;
};

export class Tile {
  // key: the participant id, `${pid}/screen` or 'self'. hooks: onAudioBlocked(),
  // onPin(key), onFullscreen(key), onVideoSize(key).
  constructor(key, pid, source, hooks, existing = null) {
    Object.assign(this, { key, pid, source, hooks });
    this.mids = { audio: null, video: null };
    this.info = {};
    this.rtt = null;
    this.localNode = '';
    this.videoLive = false;
    this.quality = null;
    this.localE2EE = false; // this client encrypts
    this.decrypt = null; // 'ok' or 'failing' once frames come, when encrypting

    const self = key === 'self';
    this.el = existing || el('div');
    this.el.classList.add('tile');
    this.el.classList.toggle('no-video', true);
    this.el.classList.toggle('screen', source === 'screen');
    this.el.dataset.id = pid;
    this.el.dataset.source = source;
    this.el.tabIndex = 0;
    this.el.setAttribute?.('role', 'group');
    this.video = existing?.querySelector?.('video') || el('video');
    this.video.autoplay = true;
    this.video.playsInline = true;
    // Sound plays through the audio element, so the video stays muted and may
    // always autoplay.
    this.video.muted = true;
    this.video.addEventListener?.('resize', () => hooks.onVideoSize?.(key));
    this.avatar = el('div', 'placeholder avatar');
    this.avatar.setAttribute?.('aria-hidden', 'true');
    const overlay = el('div', 'overlay');
    this.micEl = el('span', 'mic-off', '🎙̸');
    this.micEl.title = 'Microphone off';
    this.micEl.setAttribute?.('aria-label', 'microphone off');
    this.recEl = el('span', 'rec-mark', '● REC');
    this.recEl.title = 'Recording this meeting';
    this.lockEl = el('span', 'lock', '🔒');
    this.lockEl.title = 'End-to-end encrypted';
    this.lockEl.setAttribute?.('aria-label', 'end-to-end encrypted');
    this.nameEl = el('span', 'name');
    const nameLine = el('div', 'name-line');
    // Your own tile keeps its caption (#self-label); it only gets the marks.
    if (self) nameLine.append(this.micEl, this.lockEl);
    else nameLine.append(this.micEl, this.lockEl, this.nameEl, this.recEl);
    overlay.append(nameLine);
    this.noteEl = el('div', 'e2ee-note');
    this.noteEl.setAttribute?.('role', 'status');
    const parts = [this.avatar, this.noteEl, overlay];
    if (!self) {
      this.audio = el('audio');
      this.audio.autoplay = true;
      this.connEl = el('span', 'conn unknown');
      this.connEl.setAttribute?.('role', 'img');
      this.metaEl = el('div', 'meta');
      this.regionEl = el('span', 'region');
      this.nodeEl = el('span', 'node');
      this.rttEl = el('span', 'rtt');
      this.metaEl.append(this.connEl, ' ', this.regionEl, ' · ', this.nodeEl, ' · ', this.rttEl);
      overlay.append(this.metaEl);
      parts.unshift(this.video, this.audio);
    }
    const buttons = el('div', 'tile-buttons');
    this.pinEl = iconButton('pin', 'Pin', '📌');
    this.pinEl.onclick = () => hooks.onPin?.(key);
    this.fullEl = iconButton('full', 'Full screen', '⛶');
    this.fullEl.onclick = () => hooks.onFullscreen?.(key);
    buttons.append(this.pinEl, this.fullEl);
    this.el.append(...parts, buttons);
    this.render();
  }

  setInfo(info) {
    this.info = { ...this.info, ...Object.fromEntries(Object.entries(info).filter(([, v]) => v !== undefined && v !== '')) };
    this.render();
  }

  setRTT(ms) {
    this.rtt = ms;
    this.render();
  }

  setQuality(q) {
    this.quality = q;
    this.render();
  }

  setDecrypt(status) {
    this.decrypt = status;
    this.render();
  }

  // e2eeNote is what the tile says instead of showing undecryptable media.
  e2eeNote() {
    if (this.key === 'self') return null;
    if (this.localE2EE && this.decrypt === 'failing') {
      const why = this.info.e2ee ? 'its frames do not decrypt with this passphrase' : 'it does not encrypt end to end';
      return { text: `cannot decrypt ${this.name}`, title: `Cannot decrypt ${this.name}: ${why}.` };
    }
    if (!this.localE2EE && this.info.e2ee) {
      return { text: `${this.name} is end-to-end encrypted`, title: 'Join with the room passphrase to see and hear them.' };
    }
    return null;
  }

  setPinned(on) {
    this.el.classList.toggle('pinned', on);
    this.pinEl.title = on ? 'Unpin' : 'Pin';
    this.pinEl.setAttribute?.('aria-label', this.pinEl.title);
    this.pinEl.setAttribute?.('aria-pressed', String(on));
  }

  get name() {
    return this.info.name || this.pid;
  }

  render() {
    const screen = this.source === 'screen';
    const name = screen ? `${this.name}'s screen` : this.key === 'self' ? `${this.name} (you)` : this.name;
    this.nameEl.textContent = name;
    this.el.setAttribute?.('aria-label', name);
    this.avatar.textContent = screen ? '🖥' : initials(this.name);
    this.micEl.hidden = screen || !this.info.mic_off;
    this.recEl.hidden = screen || !this.info.recording;
    this.lockEl.hidden = !this.info.e2ee;
    const note = this.e2eeNote();
    this.noteEl.hidden = !note;
    this.noteEl.textContent = note?.text || '';
    this.noteEl.title = note?.title || '';
    this.el.classList.toggle('undecryptable', !!note);
    const cameraOff = !screen && !!this.info.camera_off;
    // Your own camera shows whenever it is on; a remote one once frames come.
    const live = this.key === 'self' || this.videoLive;
    this.el.classList.toggle('no-video', cameraOff || !live || !!note);
    if (this.key === 'self') return;
    const region = this.info.region || '?';
    const node = this.info.node || '?';
    const remote = !!this.info.node && !!this.localNode && this.info.node !== this.localNode;
    this.el.classList.toggle('remote', remote);
    this.el.dataset.node = this.info.node || '';
    this.regionEl.textContent = `region ${region}`;
    this.nodeEl.textContent = remote ? `⇄ node ${node}` : `node ${node}`;
    this.nodeEl.title = remote
      ? `On node ${node} (${region}); its media is relayed to node ${this.localNode}.`
      : `On this node (${node}).`;
    this.rttEl.textContent = `RTT ${this.rtt == null ? '…' : `${Math.round(this.rtt)} ms`}`;
    const q = this.quality || { level: 'unknown', reasons: ['no measurements yet'] };
    this.connEl.className = `conn ${q.level}`;
    this.connEl.title = `Connection ${q.level}: ${q.reasons.join('; ')}`;
    this.connEl.setAttribute?.('aria-label', this.connEl.title);
  }

  // attach shows track: video in the video element, sound in the audio one.
  attach(kind, track, mid) {
    this.mids[kind] = mid;
    const media = kind === 'video' ? this.video : this.audio;
    if (!media) return;
    media.srcObject = new MediaStream([track]);
    if (kind === 'video') {
      // A muted remote track has stopped delivering frames: the node set the
      // m-line inactive, or sends nothing for a hidden tile or a camera off.
      track.onmute = () => this.mids.video === mid && this.showVideo(false);
      track.onunmute = () => this.mids.video === mid && this.showVideo(true);
      this.showVideo(!track.muted);
    }
    media.play().catch((err) => {
      if (err.name === 'NotAllowedError' && kind === 'audio') this.hooks.onAudioBlocked?.();
    });
  }

  detach(kind, mid) {
    if (this.mids[kind] !== mid) return;
    this.mids[kind] = null;
    const media = kind === 'video' ? this.video : this.audio;
    if (media) media.srcObject = null;
    if (kind === 'video') this.showVideo(false);
  }

  showVideo(on) {
    this.videoLive = on;
    this.render();
  }

  // aspect of the video being shown, for the constraint heights; 0 unknown.
  get aspect() {
    const { videoWidth: w, videoHeight: h } = this.video;
    return w > 0 && h > 0 ? w / h : 0;
  }

  audioTrack() {
    return this.audio?.srcObject?.getAudioTracks?.()[0] || null;
  }

  resumeAudio() {
    return this.audio?.srcObject ? this.audio.play() : Promise.resolve();
  }

  place(r) {
    const s = this.el.style;
    s.left = `${r.x}px`;
    s.top = `${r.y}px`;
    s.width = `${r.w}px`;
    s.height = `${r.h}px`;
    this.el.hidden = r.role === 'hidden';
    for (const role of ['main', 'pip', 'strip', 'grid']) this.el.classList.toggle(`role-${role}`, r.role === role);
  }

  destroy() {
    this.video.srcObject = null;
    if (this.audio) this.audio.srcObject = null;
    this.el.remove();
  }
}
