// The local camera and microphone: opening them with the chosen devices,
// turning the camera off (which releases it, so its light goes out) and on,
// switching devices, and the choices remembered between visits.

const PREFS_KEY = 'switchyard.devices';
export const VIDEO = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };

// loadPrefs reads the remembered choices; anything malformed is ignored.
export function loadPrefs(storage) {
  const out = { micId: '', camId: '', micOff: false, camOff: false };
  try {
    const p = JSON.parse(storage?.getItem(PREFS_KEY) || '{}');
    for (const k of ['micId', 'camId']) if (typeof p[k] === 'string') out[k] = p[k].slice(0, 256);
    for (const k of ['micOff', 'camOff']) if (typeof p[k] === 'boolean') out[k] = p[k];
  } catch {
    // A damaged entry means defaults.
  }
  return out;
}

export function savePrefs(storage, prefs) {
  try {
    const { micId = '', camId = '', micOff = false, camOff = false } = prefs;
    storage?.setItem(PREFS_KEY, JSON.stringify({ micId, camId, micOff, camOff }));
  } catch {
    // Private mode or a full quota: the choices just are not remembered.
  }
}

// prefsFromURL applies ?mic=0 / ?camera=0 (join with them off) over the
// remembered choices.
export function prefsFromURL(params, prefs) {
  const out = { ...prefs };
  if (params.get('mic') === '0') out.micOff = true;
  if (params.get('camera') === '0') out.camOff = true;
  return out;
}

// deviceConstraint asks for a device by id; exact when the user picked it
// just now (a failure must show), ideal for a remembered one (it may be gone).
export function deviceConstraint(id, base, exact = false) {
  if (!id) return base;
  const deviceId = exact ? { exact: id } : { ideal: id };
  return base === true ? { deviceId } : { ...base, deviceId };
}

export class LocalMedia {
  constructor(prefs) {
    this.prefs = { ...prefs };
    this.mic = null;
    this.cam = null;
    this.stream = typeof MediaStream === 'function' ? new MediaStream() : null;
    this.lastError = '';
  }

  get available() {
    return !!navigator.mediaDevices?.getUserMedia;
  }

  // open gets the microphone and, unless the camera is to stay off, the
  // camera; it settles for what it can get. It returns a message for the
  // user when it got nothing, else ''. With both chosen off it opens
  // nothing: the participant watches and listens, until it turns one on.
  async open({ wantCamera = !this.prefs.camOff } = {}) {
    if (this.prefs.micOff && !wantCamera) return '';
    if (!this.available) {
      return 'This page cannot use the camera here (it needs https or localhost): joining to watch and listen only.';
    }
    const audio = deviceConstraint(this.prefs.micId, true);
    const video = deviceConstraint(this.prefs.camId, VIDEO);
    const tries = wantCamera ? [{ audio, video }, { audio }, { video }] : [{ audio }];
    let last;
    for (const c of tries) {
      try {
        const s = await navigator.mediaDevices.getUserMedia(c);
        this.setMic(s.getAudioTracks()[0] || null);
        this.setCam(s.getVideoTracks()[0] || null);
        return '';
      } catch (err) {
        last = err;
      }
    }
    this.lastError = last?.name || 'unavailable';
    if (last?.name === 'NotAllowedError') {
      return 'Camera and microphone are blocked for this site: joining to watch and listen only. Allow them in the address bar and reload to take part.';
    }
    return `No camera or microphone (${this.lastError}): joining to watch and listen only.`;
  }

  setMic(track) {
    if (this.mic && this.mic !== track) this.drop(this.mic);
    this.mic = track;
    if (track) {
      track.enabled = !this.prefs.micOff;
      this.stream?.addTrack?.(track);
    }
  }

  setCam(track) {
    if (this.cam && this.cam !== track) this.drop(this.cam);
    this.cam = track;
    if (track) this.stream?.addTrack?.(track);
  }

  drop(track) {
    track.stop();
    this.stream?.removeTrack?.(track);
  }

  // openCamera starts the camera (again); deviceId picks one now.
  async openCamera(deviceId = this.prefs.camId, exact = false) {
    const s = await navigator.mediaDevices.getUserMedia({ video: deviceConstraint(deviceId, VIDEO, exact) });
    this.setCam(s.getVideoTracks()[0] || null);
    if (deviceId) this.prefs.camId = deviceId;
    return this.cam;
  }

  async openMic(deviceId = this.prefs.micId, exact = false) {
    const s = await navigator.mediaDevices.getUserMedia({ audio: deviceConstraint(deviceId, true, exact) });
    this.setMic(s.getAudioTracks()[0] || null);
    if (deviceId) this.prefs.micId = deviceId;
    return this.mic;
  }

  // closeCamera releases the camera so its light goes out.
  closeCamera() {
    if (this.cam) this.drop(this.cam);
    this.cam = null;
  }

  stopAll() {
    for (const t of [this.mic, this.cam]) if (t) this.drop(t);
    this.mic = null;
    this.cam = null;
  }

  // devices lists the inputs by kind; labels are empty until permission.
  static async devices() {
    const out = { audioinput: [], videoinput: [] };
    try {
      for (const d of await navigator.mediaDevices.enumerateDevices()) {
        if (out[d.kind]) out[d.kind].push({ id: d.deviceId, label: d.label });
      }
    } catch {
      // No device list: the selectors stay empty.
    }
    return out;
  }
}

// fillSelect puts devices into a <select>, keeping the current choice.
export function fillSelect(select, list, current, noun) {
  if (!select) return;
  select.textContent = '';
  list.forEach((d, i) => {
    const o = document.createElement('option');
    o.value = d.id;
    o.textContent = d.label || `${noun} ${i + 1}`;
    if (d.id === current) o.selected = true;
    select.append(o);
  });
  select.disabled = list.length === 0;
}
