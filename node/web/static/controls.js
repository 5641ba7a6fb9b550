// What the user does in a call: microphone and camera off and on, screen
// share, speaker or grid view, full screen, local recording, a moderator's
// server recording (serverrec.js), device changes, keyboard shortcuts and
// their help. Each change that others should see goes to the node
// (publish-state, share, recording, server-recording; docs/protocol.md).
import { LocalMedia, fillSelect, savePrefs } from './media.js';
import { MeetingRecorder, downloadBlob, recordingName } from './recorder.js';
import { ServerRecording } from './serverrec.js';
import { SHORTCUTS, installShortcuts } from './shortcuts.js';
import { $, addChat, showError } from './ui.js';
import { showsSelf } from './tracks.js';

export class CallControls {
  // app: the page's state (sig, session, grid, media, participants, report).
  constructor(app) {
    this.app = app;
    this.media = app.media;
    // What this participant publishes and does; sent as publish-state etc.
    this.state = { mic_off: !!this.media.prefs.micOff || !this.media.mic, camera_off: !this.media.cam, sharing: false, recording: false };
    this.screen = null; // the shared screen's track
    this.recorder = null;
    this.recordings = 0;
    this.lastRecording = null; // {size, type} of the last file, for report.js
    // The node's recording of the conference, which app.js feeds.
    this.serverRec = new ServerRecording({
      banner: $('server-rec-banner'),
      button: $('server-record-toggle'),
      send: (m) => !!app.sig?.send(m),
      moderator: () => !!app.grants?.moderator,
      chat: (text) => addChat('', text, 'system'),
      error: (text) => showError(text),
    });
  }

  wire() {
    const on = (id, fn) => {
      const b = $(id);
      if (b) b.onclick = () => fn();
    };
    on('mic-toggle', () => this.toggleMic());
    on('camera-toggle', () => this.toggleCamera());
    on('share-toggle', () => this.toggleShare());
    on('view-toggle', () => this.toggleView());
    on('record-toggle', () => this.toggleRecord());
    this.serverRec.wire();
    on('devices-toggle', () => this.togglePanel('devices'));
    on('help-toggle', () => this.togglePanel('help'));
    on('help-close', () => ($('help').hidden = true));
    on('people-toggle', () => this.toggleSide('people-panel'));
    on('chat-toggle', () => this.toggleSide('chat-panel'));
    $('mic-select') && ($('mic-select').onchange = (e) => this.switchMic(e.target.value));
    $('camera-select') && ($('camera-select').onchange = (e) => this.switchCamera(e.target.value));
    navigator.mediaDevices?.addEventListener?.('devicechange', () => this.refreshDevices());
    globalThis.document?.addEventListener && installShortcuts(document, {
      mic: () => this.toggleMic(),
      camera: () => this.toggleCamera(),
      share: () => this.toggleShare(),
      view: () => this.toggleView(),
      fullscreen: () => this.app.grid.fullscreen(this.app.grid.focusedKey()),
      record: () => this.toggleRecord(),
      help: () => this.togglePanel('help'),
    });
    const list = $('help-list');
    if (list) {
      for (const s of SHORTCUTS) {
        const li = document.createElement('li');
        const k = document.createElement('kbd');
        k.textContent = s.key;
        li.append(k, ` ${s.help}`);
        list.append(li);
      }
    }
    this.watchTracks();
    this.refreshDevices();
    this.render();
  }

  // toggleSide shows or hides the participant list or the chat; the side
  // column goes when both are hidden, and the stage takes the room.
  toggleSide(id) {
    const p = $(id);
    if (!p) return;
    p.hidden = !p.hidden;
    $(`${id === 'chat-panel' ? 'chat' : 'people'}-toggle`)?.setAttribute?.('aria-pressed', String(!p.hidden));
    $('side').hidden = $('chat-panel').hidden && $('people-panel').hidden;
  }

  togglePanel(id) {
    const p = $(id);
    if (p) p.hidden = !p.hidden;
    if (id === 'devices' && !p?.hidden) this.refreshDevices();
  }

  // afterOffer tells the node (a new one too, after a rejoin) the state,
  // once the first offer has named the sources.
  afterOffer() {
    this.sendState();
    if (this.state.recording) this.app.sig?.send({ type: 'recording', on: true });
  }

  sendState() {
    // A participant without sending m-lines has nothing to turn off; the
    // node would refuse the message.
    if (!this.app.session?.senders?.mic) return;
    const { mic_off, camera_off } = this.state;
    this.app.sig?.send({ type: 'publish-state', mic_off, camera_off });
  }

  // localTracks is what the first offer publishes: a muted microphone is
  // not sent at all.
  localTracks() {
    return { mic: this.state.mic_off ? null : this.media.mic, cam: this.media.cam, stream: this.media.stream };
  }

  async toggleMic(force) {
    const off = force ?? !this.state.mic_off;
    try {
      if (!off && !this.media.mic) await this.media.openMic();
    } catch (err) {
      showError(`Cannot turn the microphone on: ${err.name || err.message}.`);
      return;
    }
    if (!off && !this.media.mic) return;
    this.media.prefs.micOff = off;
    if (this.media.mic) this.media.mic.enabled = !off;
    await this.app.session?.setSource('mic', off ? null : this.media.mic).catch((err) => showError(`Microphone: ${err.message}`));
    this.state.mic_off = off;
    this.changed();
  }

  async toggleCamera(force) {
    const off = force ?? !this.state.camera_off;
    if (off) {
      await this.app.session?.setSource('camera', null).catch(() => {});
      // Releasing the camera turns its light off; turning it on opens it again.
      this.media.closeCamera();
    } else {
      try {
        await this.media.openCamera();
      } catch (err) {
        showError(`Cannot turn the camera on: ${err.name || err.message}.`);
        return;
      }
      await this.app.session?.setSource('camera', this.media.cam).catch((err) => showError(`Camera: ${err.message}`));
    }
    this.media.prefs.camOff = off;
    this.state.camera_off = off || !this.media.cam;
    this.refreshSelf();
    this.changed();
  }

  changed() {
    savePrefs(globalThis.localStorage, this.media.prefs);
    this.watchTracks();
    this.sendState();
    this.render();
  }

  refreshSelf() {
    const v = $('self-video');
    if (v && this.media.stream) {
      v.srcObject = null;
      v.srcObject = this.media.stream;
    }
  }

  async toggleShare() {
    if (this.screen) return this.stopShare();
    if (!this.app.session?.canShare) {
      showError('Screen sharing is not available in this call.');
      return;
    }
    const sharer = [...this.app.participants.values()].find((p) => p.sharing);
    if (sharer) {
      showError(`${sharer.name || sharer.id} is sharing; only one share at a time.`);
      return;
    }
    if (!navigator.mediaDevices?.getDisplayMedia) {
      showError('This browser cannot share its screen.');
      return;
    }
    let track;
    try {
      const s = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: false });
      track = s.getVideoTracks()[0];
    } catch (err) {
      if (err.name !== 'NotAllowedError') showError(`Cannot share the screen: ${err.name || err.message}.`);
      return;
    }
    if (!track) return;
    // Text and lines stay sharp; the encoder drops frames before detail.
    track.contentHint = 'detail';
    this.screen = track;
    // The browser's own "stop sharing" ends the track.
    track.addEventListener('ended', () => this.screen === track && this.stopShare());
    this.app.sig?.send({ type: 'share', on: true });
    await this.app.session?.setSource('screen', track).catch((err) => showError(`Share: ${err.message}`));
    this.state.sharing = true;
    this.render();
  }

  // stopShare ends the share; notify=false when the node already refused it.
  async stopShare(notify = true) {
    const track = this.screen;
    if (!track) return;
    this.screen = null;
    await this.app.session?.setSource('screen', null).catch(() => {});
    track.stop();
    if (notify) this.app.sig?.send({ type: 'share', on: false });
    this.state.sharing = false;
    this.render();
  }

  // onNodeError takes the refusals of a share or of a server recording
  // request; true when it handled the error.
  onNodeError(m) {
    if (this.serverRec.onNodeError(m)) return true;
    if (!this.screen || !['share-busy', 'forbidden', 'protocol'].includes(m.code)) return false;
    this.stopShare(false);
    const why = m.code === 'share-busy' ? 'someone else is sharing' : m.reason || m.code;
    showError(`Screen share refused: ${why}.`);
    return true;
  }

  // onSelfUpdate follows what the node says about this participant: a
  // moderator who muted it.
  onSelfUpdate(p) {
    if (p.mic_off && !this.state.mic_off) {
      this.toggleMic(true);
      addChat('', 'A moderator muted your microphone.', 'system');
    }
  }

  toggleView() {
    const g = this.app.grid;
    g.setView(g.view === 'grid' ? 'speaker' : 'grid');
    this.render();
  }

  async toggleRecord() {
    if (this.recorder) return this.stopRecording();
    const grid = this.app.grid;
    const rec = new MeetingRecorder({
      scene: () => grid.scene(),
      audioTracks: () => [...grid.audioTracks(), this.media.mic],
    });
    try {
      rec.start();
      rec.audio.resume?.().catch(() => {});
    } catch (err) {
      showError(`Cannot record here: ${err.message}.`);
      return;
    }
    this.recorder = rec;
    this.recordStarted = new Date();
    this.state.recording = true;
    this.app.sig?.send({ type: 'recording', on: true });
    addChat('', 'You started recording this meeting on this device.', 'system');
    this.render();
  }

  async stopRecording() {
    const rec = this.recorder;
    if (!rec) return null;
    this.recorder = null;
    this.state.recording = false;
    this.app.sig?.send({ type: 'recording', on: false });
    this.render();
    const blob = await rec.stop();
    if (!blob) return null;
    this.recordings++;
    this.lastRecording = { size: blob.size, type: blob.type };
    downloadBlob(blob, recordingName(this.app.room, this.recordStarted));
    this.app.onRecording?.(blob);
    return blob;
  }

  async switchMic(id) {
    try {
      await this.media.openMic(id, true);
      if (!this.state.mic_off) await this.app.session?.setSource('mic', this.media.mic);
      this.changed();
    } catch (err) {
      showError(`Cannot use that microphone: ${err.name || err.message}.`);
    }
  }

  async switchCamera(id) {
    this.media.prefs.camId = id;
    if (this.state.camera_off) return this.changed();
    try {
      await this.media.openCamera(id, true).catch((err) => {
        // Some systems open one camera at a time: let go of the old one first.
        if (err.name !== 'NotReadableError') throw err;
        this.media.closeCamera();
        return this.media.openCamera(id, true);
      });
      await this.app.session?.setSource('camera', this.media.cam);
      this.refreshSelf();
      this.changed();
    } catch (err) {
      showError(`Cannot use that camera: ${err.name || err.message}.`);
    }
  }

  async refreshDevices() {
    if (!navigator.mediaDevices?.enumerateDevices) return;
    const d = await LocalMedia.devices();
    const micId = this.media.mic?.getSettings?.().deviceId || this.media.prefs.micId;
    const camId = this.media.cam?.getSettings?.().deviceId || this.media.prefs.camId;
    fillSelect($('mic-select'), d.audioinput, micId, 'Microphone');
    fillSelect($('camera-select'), d.videoinput, camId, 'Camera');
  }

  // watchTracks notices a device unplugged mid-call.
  watchTracks() {
    const { mic, cam } = this.media;
    if (mic) mic.onended = () => this.media.mic === mic && this.lostDevice('microphone', () => this.switchMic(''));
    if (cam) cam.onended = () => this.media.cam === cam && this.lostDevice('camera', () => this.toggleCamera(true));
  }

  lostDevice(what, then) {
    showError(`The ${what} stopped (unplugged?).`);
    then();
  }

  render() {
    const s = this.state;
    const set = (id, pressed, label, text) => {
      const b = $(id);
      if (!b) return;
      b.setAttribute?.('aria-pressed', String(pressed));
      b.setAttribute?.('aria-label', label);
      b.title = label;
      b.classList.toggle('off', pressed);
      const t = b.querySelector?.('.label');
      if (t) t.textContent = text;
    };
    set('mic-toggle', s.mic_off, s.mic_off ? 'Unmute microphone (m)' : 'Mute microphone (m)', s.mic_off ? 'Unmute' : 'Mute');
    set('camera-toggle', s.camera_off, s.camera_off ? 'Turn camera on (v)' : 'Turn camera off (v)', s.camera_off ? 'Start video' : 'Stop video');
    set('share-toggle', s.sharing, s.sharing ? 'Stop sharing (s)' : 'Share screen (s)', s.sharing ? 'Stop share' : 'Share');
    set('record-toggle', s.recording, s.recording ? 'Stop recording and download (r)' : 'Record locally (r)', s.recording ? 'Stop rec' : 'Record');
    const grid = this.app.grid?.view === 'grid';
    set('view-toggle', grid, grid ? 'Speaker view (g)' : 'Grid view (g)', grid ? 'Speaker' : 'Grid');
    // The moderator's button appears once the grants are known (joined).
    this.serverRec.render();
    this.app.grid?.setSelfInfo({ mic_off: s.mic_off, camera_off: s.camera_off, recording: s.recording, name: this.app.name, e2ee: !!this.app.e2ee });
    // Watching and listening only (no device, or none chosen): no tile of your own.
    this.app.grid?.setSelfShown(showsSelf({ mic: this.media.mic, cam: this.media.cam, publish: this.app.grants?.publish ?? true }));
    this.app.onLocalState?.();
  }
}
