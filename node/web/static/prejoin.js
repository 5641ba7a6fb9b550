// The join page, shown when the address names no participant: name, a
// camera preview, microphone and camera selection, "join with the
// microphone / camera off" (both off: watch and listen only) and end-to-end
// encryption with a room passphrase; the choices but the passphrase are
// remembered for the next visit.
import { LocalMedia, fillSelect, savePrefs } from './media.js';
import { hashFor } from './e2ee.js';
import { $, showView } from './ui.js';

const NAME_KEY = 'switchyard.name';
const REGION_KEY = 'switchyard.region';

function remembered(key) {
  try {
    return localStorage.getItem(key) || '';
  } catch {
    return '';
  }
}

function remember(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Not remembered; nothing else depends on it.
  }
}

// showPrejoin fills and shows the join form. onJoin(room, name, region,
// passphrase) is called when the user joins the room already in the
// address: the call starts with the media opened here, no reload. The
// passphrase ('' without encryption) goes in the address's fragment, so a
// reload or "join again" stays encrypted and the server never sees it.
export async function showPrejoin({ room, name, region, passphrase = '', media, onJoin }) {
  showView('join-view');
  const form = $('join-form');
  form.room.value = room;
  form.name.value = name || remembered(NAME_KEY);
  form.region.value = region || remembered(REGION_KEY);
  (room ? form.name : form.room).focus();
  const micOff = $('prejoin-mic-off');
  const camOff = $('prejoin-camera-off');
  const message = $('prejoin-message');
  micOff.checked = media.prefs.micOff;
  camOff.checked = media.prefs.camOff;
  const e2ee = $('prejoin-e2ee');
  const pass = $('prejoin-passphrase');
  e2ee.checked = !!passphrase;
  pass.value = passphrase;
  const passRow = () => {
    $('prejoin-passphrase-row').hidden = !e2ee.checked;
    pass.required = e2ee.checked;
  };
  e2ee.onchange = passRow;
  passRow();

  const preview = () => {
    const v = $('preview-video');
    v.srcObject = null;
    v.srcObject = media.cam ? media.stream : null;
    $('preview-off').hidden = !!media.cam;
  };
  const devices = async () => {
    const d = await LocalMedia.devices();
    fillSelect($('prejoin-mic'), d.audioinput, media.mic?.getSettings?.().deviceId || media.prefs.micId, 'Microphone');
    fillSelect($('prejoin-camera'), d.videoinput, media.cam?.getSettings?.().deviceId || media.prefs.camId, 'Camera');
  };
  const problem = (text) => {
    message.textContent = text;
    message.hidden = !text;
  };

  form.onsubmit = (e) => {
    e.preventDefault();
    const r = form.room.value.trim();
    const n = form.name.value.trim();
    const g = form.region.value.trim();
    const secret = e2ee.checked ? pass.value : '';
    if (e2ee.checked && !secret) {
      problem('Enter the room passphrase, or turn end-to-end encryption off.');
      return;
    }
    remember(NAME_KEY, n);
    remember(REGION_KEY, g);
    savePrefs(localStorage, media.prefs);
    const q = new URLSearchParams(location.search);
    q.set('name', n);
    if (g) q.set('region', g);
    else q.delete('region');
    const url = `/r/${encodeURIComponent(r)}?${q}${hashFor(secret)}`;
    if (r === room) {
      // Same room: keep the camera open and the preview's choices.
      history.replaceState(null, '', url);
      onJoin(r, n, g, secret);
    } else {
      media.stopAll();
      location.assign(url);
    }
  };
  micOff.onchange = async () => {
    media.prefs.micOff = micOff.checked;
    // Joining with both off opens neither; the microphone opens when wanted.
    if (!micOff.checked && !media.mic) await media.openMic().catch((err) => problem(`Cannot open the microphone (${err.name}).`));
    if (media.mic) media.mic.enabled = !micOff.checked;
  };
  camOff.onchange = async () => {
    media.prefs.camOff = camOff.checked;
    try {
      if (camOff.checked) media.closeCamera();
      else await media.openCamera();
      problem('');
    } catch (err) {
      problem(`Cannot open the camera (${err.name || err.message}).`);
    }
    preview();
  };
  $('prejoin-mic').onchange = (e) => media.openMic(e.target.value, true).then(() => problem(''), (err) => problem(`Cannot use that microphone (${err.name}).`));
  $('prejoin-camera').onchange = (e) => {
    media.prefs.camId = e.target.value;
    if (camOff.checked) return;
    media.openCamera(e.target.value, true).then(() => {
      problem('');
      preview();
    }, (err) => problem(`Cannot use that camera (${err.name}).`));
  };

  problem('');
  media.ready = media.open();
  problem(await media.ready);
  if (media.mic) media.mic.enabled = !media.prefs.micOff;
  preview();
  // Labels are filled only once the page may use the devices.
  await devices();
  navigator.mediaDevices?.addEventListener?.('devicechange', devices);
}
