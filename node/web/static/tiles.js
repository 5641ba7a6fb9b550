// The stage: every tile (remote cameras, shared screens, yourself), laid
// out in the speaker view or the grid view by layout.js, with a pinned tile
// and a full-screen tile. A participant gets a tile once it has a
// microphone or camera track (tracks.js withMedia); one who only watches
// and listens is in the participant list only. The stage also tells the
// node how tall each publisher's video is drawn, from the same layout, so
// the node picks the simulcast layer that fits (a hidden or tiny tile asks
// for little).
import { Tile } from './tile.js';
import { computeLayout, constraintHeights, isScreen, pickMain } from './layout.js';
import { tileKey } from './tracks.js';

const CONSTRAINT_DEBOUNCE_MS = 300;

export class TileGrid {
  // onConstraints(tiles) receives {participantId: height in device pixels}.
  // onAudioBlocked() is called when the browser refuses to play sound
  // without a user gesture; onView(view, main) when the layout changes.
  constructor(gridEl, { onConstraints, onAudioBlocked, onView, selfEl = null }) {
    this.grid = gridEl;
    this.onConstraints = onConstraints;
    this.onView = onView;
    this.hooks = {
      onAudioBlocked,
      onPin: (key) => this.pin(this.pinned === key ? '' : key),
      onFullscreen: (key) => this.fullscreen(key),
      onVideoSize: () => this.scheduleConstraints(),
    };
    this.tiles = new Map(); // key -> Tile, in the order they came
    this.infos = new Map(); // pid -> what is known of the participant
    this.self = selfEl ? new Tile('self', 'self', 'camera', this.hooks, selfEl) : null;
    this.selfShown = true;
    this.localNode = '';
    this.localE2EE = false;
    this.view = 'speaker';
    this.pinned = '';
    this.dominant = '';
    this.main = '';
    this.layout = new Map();
    this.lastSent = '';
    this.timer = 0;
    this.frame = 0;
    this.resize = new ResizeObserver(() => this.relayout());
    this.resize.observe(gridEl);
    globalThis.document?.addEventListener?.('fullscreenchange', () => this.scheduleConstraints());
  }

  has(pid) {
    return this.tiles.has(pid);
  }

  // ensure notes what is known of pid (the participant object: name,
  // region, node and the flags) for its tiles, now or once they come.
  ensure(pid, info = {}) {
    this.infos.set(pid, { ...this.infos.get(pid), ...info });
    for (const key of [pid, tileKey(pid, 'screen')]) this.tiles.get(key)?.setInfo(info);
  }

  // prune drops the camera tiles of participants no longer in pids (those
  // with a microphone or camera track).
  prune(pids) {
    for (const [key, tile] of [...this.tiles]) if (tile.source === 'camera' && !pids.has(tile.pid)) this.drop(key);
  }

  tileFor(pid, source) {
    const key = tileKey(pid, source === 'screen' ? 'screen' : 'camera');
    let tile = this.tiles.get(key);
    if (!tile) {
      tile = new Tile(key, pid, source === 'screen' ? 'screen' : 'camera', this.hooks);
      tile.localNode = this.localNode;
      tile.localE2EE = this.localE2EE;
      tile.setInfo(this.infos.get(pid) || {});
      this.tiles.set(key, tile);
      this.grid.append(tile.el);
      this.relayout();
    }
    return tile;
  }

  // remove drops every tile of pid.
  remove(pid) {
    for (const key of [pid, tileKey(pid, 'screen')]) this.drop(key);
    this.infos.delete(pid);
  }

  drop(key) {
    const tile = this.tiles.get(key);
    if (!tile) return;
    tile.destroy();
    this.tiles.delete(key);
    if (this.pinned === key) this.pinned = '';
    this.relayout();
  }

  // setTrack shows a received track; source is mic, camera or screen.
  setTrack(pid, source, track, mid) {
    const tile = this.tileFor(pid, source);
    tile.attach(source === 'mic' ? 'audio' : 'video', track, mid);
  }

  clearTrack(pid, source, mid) {
    const key = tileKey(pid, source);
    const tile = this.tiles.get(key);
    tile?.detach(source === 'mic' ? 'audio' : 'video', mid);
    // A share's tile goes with its track; a camera tile stays with its owner.
    if (source === 'screen' && tile && tile.mids.video == null) this.drop(key);
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

  setSelfInfo(info) {
    this.self?.setInfo(info);
  }

  // setSelfShown shows or hides your own tile (hidden: watching only).
  setSelfShown(on) {
    if (!this.self || this.selfShown === on) return;
    this.selfShown = on;
    this.self.el.hidden = !on;
    if (!on && this.pinned === 'self') this.pinned = '';
    this.relayout();
  }

  // setLocalE2EE says whether this client encrypts: tiles of participants
  // who encrypt show why their media cannot be shown otherwise.
  setLocalE2EE(on) {
    this.localE2EE = !!on;
    for (const [, tile] of this.allTiles()) {
      tile.localE2EE = this.localE2EE;
      tile.render();
    }
  }

  // setDecrypt shows whether the tile's frames decrypt ('ok', 'failing').
  setDecrypt(key, status) {
    this.tiles.get(key)?.setDecrypt(status);
  }

  // setDominant marks the speaker; selfId maps your own id to your tile.
  setDominant(pid, selfId = '') {
    this.dominant = pid && pid === selfId ? 'self' : pid || '';
    for (const [key, tile] of this.tiles) tile.el.classList.toggle('dominant', key === pid);
    this.relayout();
  }

  setRTT(pid, ms) {
    this.tiles.get(pid)?.setRTT(ms);
  }

  setQuality(key, q) {
    this.tiles.get(key)?.setQuality(q);
  }

  setView(view) {
    this.view = view === 'grid' ? 'grid' : 'speaker';
    this.relayout();
  }

  // pin keeps key large (switching to the speaker view); '' unpins.
  pin(key) {
    this.pinned = key && (this.tiles.has(key) || key === 'self') ? key : '';
    if (this.pinned) this.view = 'speaker';
    for (const [k, tile] of this.allTiles()) tile.setPinned(k === this.pinned);
    this.relayout();
  }

  fullscreen(key) {
    const tile = key === 'self' ? this.self : this.tiles.get(key);
    if (!tile) return;
    if (document.fullscreenElement === tile.el) document.exitFullscreen?.();
    else tile.el.requestFullscreen?.().catch(() => {});
  }

  // focusedKey is the tile with the keyboard focus, else the large one.
  focusedKey() {
    for (const [key, tile] of this.allTiles()) if (tile.el === document.activeElement) return key;
    return this.main || [...this.tiles.keys()][0] || '';
  }

  *allTiles() {
    yield* this.tiles;
    if (this.self) yield ['self', this.self];
  }

  // keys orders the tiles: shares first, then cameras as they came, then you.
  keys() {
    const keys = [...this.tiles.keys()];
    const out = [...keys.filter(isScreen), ...keys.filter((k) => !isScreen(k))];
    if (this.self && this.selfShown) out.push('self');
    return out;
  }

  get size() {
    let n = 0;
    for (const key of this.tiles.keys()) if (!isScreen(key)) n++;
    return n;
  }

  // relayout places every tile for the current box and view, then tells the
  // node the new heights.
  relayout() {
    const keys = this.keys();
    const main = this.view === 'speaker' ? pickMain({ keys, pinned: this.pinned, dominant: this.dominant, previous: this.main }) : '';
    const box = { w: this.grid.clientWidth || 0, h: this.grid.clientHeight || 0 };
    this.layout = computeLayout({ view: this.view, keys, main, box });
    for (const [key, r] of this.layout) {
      const tile = key === 'self' ? this.self : this.tiles.get(key);
      tile?.place(r);
    }
    if (main !== this.main || this.lastView !== this.view) {
      this.main = main;
      this.lastView = this.view;
      this.onView?.(this.view, main);
    }
    this.scheduleConstraints();
  }

  // heights gives the constraints for the layout now: a full-screen tile
  // counts at the screen's size.
  heights() {
    let override = null;
    const fs = globalThis.document?.fullscreenElement;
    if (fs) {
      for (const [key, tile] of this.tiles) {
        if (tile.el === fs) override = { key, x: 0, y: 0, w: fs.clientWidth, h: fs.clientHeight, role: 'main' };
      }
    }
    const aspects = {};
    for (const [key, tile] of this.tiles) if (tile.aspect) aspects[key] = tile.aspect;
    const pids = [...this.tiles.keys()].filter((k) => !isScreen(k));
    return constraintHeights(this.layout, { pids, dpr: window.devicePixelRatio || 1, override, aspects });
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

  // mainVideo is what a recording shows: the large tile's video and name.
  scene() {
    const key = this.main || this.keys().find((k) => k !== 'self') || 'self';
    const tile = key === 'self' ? this.self : this.tiles.get(key);
    if (!tile) return { video: null, label: '' };
    const off = tile.el.classList.contains('no-video');
    return { video: off ? null : tile.video, label: tile.nameEl.textContent || tile.name };
  }

  audioTracks() {
    return [...this.tiles.values()].map((t) => t.audioTrack()).filter(Boolean);
  }

  clear() {
    for (const key of [...this.tiles.keys()]) this.drop(key);
    this.infos.clear();
    clearTimeout(this.timer);
    this.lastSent = '';
    this.pinned = '';
  }
}
