// The grid of remote participants: one tile per participant with its video,
// its audio, and an overlay naming its region, node and end-to-end RTT; a
// participant on another node of the cascade is marked ⇄ (its media is
// relayed between nodes). The
// grid also tells the node how tall each tile is drawn, so the node can pick
// the simulcast layer that fits.

const CONSTRAINT_DEBOUNCE_MS = 300;

export class TileGrid {
  // onConstraints(tiles) receives {participantId: height in device pixels}.
  // onAudioBlocked() is called when the browser refuses to play sound
  // without a user gesture.
  constructor(gridEl, { onConstraints, onAudioBlocked }) {
    this.grid = gridEl;
    this.onConstraints = onConstraints;
    this.onAudioBlocked = onAudioBlocked;
    this.tiles = new Map();
    this.localNode = '';
    this.lastSent = '';
    this.timer = 0;
    this.resize = new ResizeObserver(() => this.scheduleConstraints());
  }

  has(pid) {
    return this.tiles.has(pid);
  }

  // ensure returns the tile for pid, creating it; info is {name, region, node}.
  ensure(pid, info = {}) {
    let tile = this.tiles.get(pid);
    if (!tile) {
      tile = new Tile(pid, this.onAudioBlocked);
      tile.localNode = this.localNode;
      this.tiles.set(pid, tile);
      this.grid.append(tile.el);
      this.resize.observe(tile.video);
      this.scheduleConstraints();
    }
    tile.setInfo(info);
    return tile;
  }

  remove(pid) {
    const tile = this.tiles.get(pid);
    if (!tile) return;
    this.resize.unobserve(tile.video);
    tile.destroy();
    this.tiles.delete(pid);
    this.scheduleConstraints();
  }

  setTrack(pid, kind, track, mid) {
    this.ensure(pid).attach(kind, track, mid);
  }

  clearTrack(pid, kind, mid) {
    this.tiles.get(pid)?.detach(kind, mid);
  }

  // setLocalNode names the node this client is on, so that tiles of
  // participants elsewhere are marked; it changes after a redirect or rejoin.
  setLocalNode(node) {
    this.localNode = node || '';
    for (const tile of this.tiles.values()) {
      tile.localNode = this.localNode;
      tile.render();
    }
  }

  setDominant(pid) {
    for (const [id, tile] of this.tiles) tile.el.classList.toggle('dominant', id === pid);
  }

  setRTT(pid, ms) {
    this.tiles.get(pid)?.setRTT(ms);
  }

  get size() {
    return this.tiles.size;
  }

  // heights measures every tile now: the rendered height of its video in
  // device pixels, 0 when it is not laid out at all. A tile waiting for
  // frames still counts as shown, or the node would never send any.
  heights() {
    const out = {};
    const dpr = window.devicePixelRatio || 1;
    for (const [pid, tile] of this.tiles) {
      const v = tile.video;
      const shown = v.isConnected && v.getClientRects().length > 0;
      out[pid] = shown ? Math.min(8192, Math.round(v.clientHeight * dpr)) : 0;
    }
    return out;
  }

  scheduleConstraints() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.sendConstraints(), CONSTRAINT_DEBOUNCE_MS);
  }

  sendConstraints() {
    const tiles = this.heights();
    const text = JSON.stringify(tiles);
    if (text === this.lastSent) return;
    if (this.onConstraints(tiles)) this.lastSent = text;
  }

  clear() {
    for (const pid of [...this.tiles.keys()]) this.remove(pid);
    clearTimeout(this.timer);
    this.lastSent = '';
  }
}

class Tile {
  constructor(pid, onAudioBlocked) {
    this.pid = pid;
    this.onAudioBlocked = onAudioBlocked;
    this.mids = { audio: null, video: null };
    this.info = {};
    this.rtt = null;
    this.localNode = '';

    this.el = document.createElement('div');
    this.el.className = 'tile no-video';
    this.el.dataset.id = pid;
    this.video = document.createElement('video');
    this.video.autoplay = true;
    this.video.playsInline = true;
    // Sound plays through the audio element, so the video stays muted and may
    // always autoplay.
    this.video.muted = true;
    this.audio = document.createElement('audio');
    this.audio.autoplay = true;
    this.placeholder = document.createElement('div');
    this.placeholder.className = 'placeholder';
    const overlay = document.createElement('div');
    overlay.className = 'overlay';
    this.nameEl = document.createElement('div');
    this.nameEl.className = 'name';
    this.metaEl = document.createElement('div');
    this.metaEl.className = 'meta';
    this.regionEl = document.createElement('span');
    this.regionEl.className = 'region';
    this.nodeEl = document.createElement('span');
    this.nodeEl.className = 'node';
    this.rttEl = document.createElement('span');
    this.rttEl.className = 'rtt';
    this.metaEl.append(this.regionEl, ' · ', this.nodeEl, ' · ', this.rttEl);
    overlay.append(this.nameEl, this.metaEl);
    this.el.append(this.video, this.audio, this.placeholder, overlay);
    this.render();
  }

  setInfo(info) {
    this.info = { ...this.info, ...Object.fromEntries(Object.entries(info).filter(([, v]) => v)) };
    this.render();
  }

  setRTT(ms) {
    this.rtt = ms;
    this.render();
  }

  render() {
    const name = this.info.name || this.pid;
    this.nameEl.textContent = name;
    this.placeholder.textContent = name.slice(0, 2).toUpperCase();
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
  }

  attach(kind, track, mid) {
    this.mids[kind] = mid;
    const el = kind === 'video' ? this.video : this.audio;
    el.srcObject = new MediaStream([track]);
    if (kind === 'video') {
      // A muted remote track has stopped delivering frames: the node set the
      // m-line inactive, or sends nothing for a hidden tile.
      track.onmute = () => this.mids.video === mid && this.showVideo(false);
      track.onunmute = () => this.mids.video === mid && this.showVideo(true);
      this.showVideo(!track.muted);
    }
    el.play().catch((err) => {
      if (err.name === 'NotAllowedError' && kind === 'audio') this.onAudioBlocked?.();
    });
  }

  detach(kind, mid) {
    if (this.mids[kind] !== mid) return;
    this.mids[kind] = null;
    const el = kind === 'video' ? this.video : this.audio;
    el.srcObject = null;
    if (kind === 'video') this.showVideo(false);
  }

  showVideo(on) {
    this.el.classList.toggle('no-video', !on);
  }

  resumeAudio() {
    return this.audio.srcObject ? this.audio.play() : Promise.resolve();
  }

  destroy() {
    this.video.srcObject = null;
    this.audio.srcObject = null;
    this.el.remove();
  }
}
