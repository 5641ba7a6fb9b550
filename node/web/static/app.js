// Entry point of the Switchyard web client: the join form, and the room page
// that ties signaling, the peer connection, the tile grid, chat and the RTT
// probe together.
import { Signaling, signalingURL } from './signaling.js';
import { Session } from './session.js';
import { TileGrid } from './tiles.js';
import { RttProbe } from './rtt.js';
import { startReporting } from './report.js';

const $ = (id) => document.getElementById(id);
const ROOM_RE = /^[A-Za-z0-9._-]{1,64}$/;
const ERROR_SHOW_MS = 8000;

// Everything the page knows; report.js reads it too.
const app = {
  id: '',
  room: '',
  name: '',
  region: '',
  node: '',
  dominant: '',
  signalingState: 'idle',
  lastConstraints: null,
  errors: [],
  participants: new Map(), // id -> {name, region, node}
  localStream: null,
  sig: null,
  session: null,
  grid: null,
  rtt: null,
  leaving: false,
  debug: false,
  peerIds() {
    return [...this.participants.keys()];
  },
};

function main() {
  const params = new URLSearchParams(location.search);
  const m = location.pathname.match(/^\/r\/([^/]+)$/);
  const room = m ? decodeURIComponent(m[1]) : '';
  const name = (params.get('name') || '').trim();
  const region = (params.get('region') || '').trim();

  app.debug = params.has('debug');
  const report = params.get('report');
  if (report) {
    window.addEventListener('error', (e) => app.errors.push(`page error: ${e.message}`));
    window.addEventListener('unhandledrejection', (e) => app.errors.push(`unhandled: ${e.reason}`));
    startReporting(report, app);
  }

  if (room && name && ROOM_RE.test(room)) {
    enterRoom(room, name, region);
  } else {
    showJoinForm(room, name, region);
  }
}

function showView(id) {
  for (const v of ['join-view', 'room-view', 'left-view']) $(v).hidden = v !== id;
}

function showJoinForm(room, name, region) {
  showView('join-view');
  const form = $('join-form');
  form.room.value = room;
  form.name.value = name || localStorage.getItem('switchyard.name') || '';
  form.region.value = region || localStorage.getItem('switchyard.region') || '';
  (room ? form.name : form.room).focus();
  form.onsubmit = (e) => {
    e.preventDefault();
    const q = new URLSearchParams({ name: form.name.value.trim() });
    const r = form.region.value.trim();
    if (r) q.set('region', r);
    localStorage.setItem('switchyard.name', form.name.value.trim());
    localStorage.setItem('switchyard.region', r);
    location.assign(`/r/${encodeURIComponent(form.room.value.trim())}?${q}`);
  };
}

async function enterRoom(room, name, region) {
  Object.assign(app, { room, name, region });
  showView('room-view');
  document.title = `${room} · Switchyard`;
  $('room-label').textContent = room;
  $('self-label').textContent = `${name} (you)`;
  setStatus('starting camera…');

  app.grid = new TileGrid($('grid'), {
    onConstraints: sendConstraints,
    onAudioBlocked: () => ($('audio-unlock').hidden = false),
  });
  app.rtt = new RttProbe(
    (to, payload) => app.sig?.send({ type: 'message', to, payload }),
    (pid, ms) => app.grid.setRTT(pid, ms),
  );
  wireControls();

  app.localStream = await getLocalMedia();
  if (app.localStream) $('self-video').srcObject = app.localStream;
  else $('self').hidden = true;
  connect(signalingURL());
}

function wireControls() {
  $('leave').hidden = false;
  $('leave').onclick = leave;
  $('audio-unlock').onclick = async () => {
    $('audio-unlock').hidden = true;
    for (const tile of app.grid.tiles.values()) await tile.resumeAudio().catch(() => {});
  };
  $('chat-form').onsubmit = (e) => {
    e.preventDefault();
    const input = $('chat-input');
    const text = input.value.trim();
    if (!text) return;
    if (!app.sig?.send({ type: 'message', payload: { kind: 'chat', text } })) {
      showError('Not connected: the message was not sent.');
      return;
    }
    addChat('you', text, 'me');
    input.value = '';
  };
}

async function getLocalMedia() {
  if (!navigator.mediaDevices?.getUserMedia) {
    showError('This page cannot use the camera here (it needs https or localhost): joining to watch and listen only.');
    return null;
  }
  const video = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
  let last;
  for (const c of [{ audio: true, video }, { audio: true }, { video }]) {
    try {
      return await navigator.mediaDevices.getUserMedia(c);
    } catch (err) {
      last = err;
    }
  }
  showError(`No camera or microphone (${last?.name || 'unavailable'}): joining to watch and listen only.`);
  return null;
}

async function connect(url) {
  const sig = new Signaling(url, { debug: app.debug });
  app.sig = sig;
  app.leaving = false;
  sig
    .on('joined', onJoined)
    .on('answer', (m) => app.session?.onAnswer(m.sdp))
    .on('offer', (m) => app.session?.onOffer(m.sdp))
    .on('candidate', (m) => app.session?.onCandidate(m.candidate))
    .on('participant-joined', (m) => m.participant && addParticipant(m.participant, true))
    .on('participant-left', (m) => removeParticipant(m.id))
    .on('dominant-speaker', (m) => setDominant(m.id))
    .on('message', (m) => onEndpointMessage(m.from, m.payload))
    .on('error', (m) => showError(`${m.reason || 'error'} (${m.code || 'unknown'})`, m.fatal))
    .on('redirect', onRedirect);
  sig.onbad = (text) => showError(text);
  sig.onclose = (code, reason) => {
    app.signalingState = 'closed';
    if (app.leaving) return;
    showError(`Disconnected from the node${reason ? `: ${reason}` : ''} (code ${code}).`, true);
    setStatus('disconnected');
    teardown();
  };

  setStatus('connecting…');
  try {
    await sig.open();
  } catch (err) {
    app.signalingState = 'failed';
    showError(err.message, true);
    setStatus('not connected');
    return;
  }
  app.signalingState = 'open';
  sig.send({ type: 'join', room: app.room, name: app.name, region: app.region || undefined });
}

function onJoined(m) {
  app.id = m.id;
  app.node = m.node || '';
  app.signalingState = 'joined';
  $('self-label').textContent = `${app.name} (you) · ${m.region || '?'} · ${m.node || '?'}`;
  setStatus(`joined as ${m.id}`);
  for (const p of m.participants || []) addParticipant(p, false);

  app.session = new Session(app.sig, {
    onTrack: (pid, kind, track, mid) => {
      if (!app.grid.has(pid)) app.grid.ensure(pid, app.participants.get(pid) || {});
      app.grid.setTrack(pid, kind, track, mid);
      updateEmpty();
    },
    onTrackGone: (pid, kind, mid) => app.grid.clearTrack(pid, kind, mid),
    onState: (state) => {
      setStatus(`${state} as ${app.id}`);
      if (state === 'failed') showError('The media connection to the node failed.');
    },
    onError: (text) => showError(text),
  });
  app.session.start(app.localStream);
  app.rtt.start(() => app.peerIds());
  app.grid.scheduleConstraints();
}

function onRedirect(m) {
  if (typeof m.url !== 'string' || !/^wss?:\/\//.test(m.url)) {
    showError('The node sent a redirect without a usable address.');
    return;
  }
  app.leaving = true;
  app.sig.close('redirected');
  teardown();
  addChat('', `Moving to ${m.url}…`, 'system');
  connect(m.url);
}

function addParticipant(p, announce) {
  if (!p.id || p.id === app.id) return;
  const info = { name: p.name, region: p.region, node: p.node };
  app.participants.set(p.id, info);
  app.grid.ensure(p.id, info);
  updateEmpty();
  if (announce) addChat('', `${p.name || p.id} joined`, 'system');
}

function removeParticipant(id) {
  const p = app.participants.get(id);
  app.participants.delete(id);
  app.rtt.forget(id);
  app.grid.remove(id);
  updateEmpty();
  if (p) addChat('', `${p.name || id} left`, 'system');
}

function setDominant(id) {
  app.dominant = id || '';
  app.grid.setDominant(id);
  $('self').classList.toggle('dominant', !!id && id === app.id);
}

function onEndpointMessage(from, payload) {
  if (!from || !payload || typeof payload !== 'object') return;
  if (app.rtt.handle(from, payload)) return;
  if (payload.kind === 'chat' && typeof payload.text === 'string') {
    addChat(app.participants.get(from)?.name || from, payload.text);
  }
}

function sendConstraints(tiles) {
  if (!app.id || !app.sig) return false;
  app.lastConstraints = tiles;
  return app.sig.send({ type: 'constraints', tiles });
}

function leave() {
  app.leaving = true;
  app.sig?.send({ type: 'leave' });
  app.sig?.close();
  teardown();
  for (const t of app.localStream?.getTracks() || []) t.stop();
  $('leave').hidden = true;
  $('audio-unlock').hidden = true;
  $('rejoin').href = location.href;
  setStatus('');
  showView('left-view');
}

// teardown drops the media session and the remote tiles; the local camera
// stays on so that a redirect can publish it again.
function teardown() {
  app.rtt?.stop();
  app.session?.close();
  app.session = null;
  app.grid?.clear();
  app.participants.clear();
  app.id = '';
  updateEmpty();
}

function updateEmpty() {
  $('empty').hidden = !!app.grid && app.grid.size > 0;
}

function setStatus(text) {
  $('status').textContent = text;
}

function addChat(who, text, cls = '') {
  const li = document.createElement('li');
  if (cls) li.className = cls;
  if (who) {
    const w = document.createElement('span');
    w.className = 'who';
    w.textContent = who;
    li.append(w);
  }
  li.append(document.createTextNode(text));
  const log = $('chat-log');
  log.append(li);
  log.scrollTop = log.scrollHeight;
}

function showError(text, sticky = false) {
  app.errors.push(text);
  console.error('switchyard:', text);
  const li = document.createElement('li');
  li.textContent = text;
  $('errors').append(li);
  if (!sticky) setTimeout(() => li.remove(), ERROR_SHOW_MS);
}

main();
