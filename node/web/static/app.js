// Entry point of the Switchyard web client: the join page, and the room page
// that ties signaling, the peer connection, the stage of tiles, the controls,
// the participant list, chat, the RTT probe and end-to-end encryption
// together, and moves the call to another node when the node redirects the
// client or goes away.
import { Signaling, signalingURL } from './signaling.js';
import { Session } from './session.js';
import { TileGrid } from './tiles.js';
import { RttProbe } from './rtt.js';
import { startReporting } from './report.js';
import { startTestHooks } from './testhooks.js';
import { Reconnect, ROUNDS, usableURL } from './reconnect.js';
import { $, addChat, errors, setStatus, showError, showView, wireChat } from './ui.js';
import { LocalMedia, loadPrefs, prefsFromURL } from './media.js';
import { CallControls } from './controls.js';
import { PeoplePanel } from './panel.js';
import { QualityMonitor } from './quality.js';
import { reduceParticipants, selfUpdate, tokenName } from './participants.js';
import { showPrejoin } from './prejoin.js';
import { withMedia } from './tracks.js';
import { passphraseFromHash } from './e2ee.js';
import { startE2EE } from './e2ee-ui.js';
import { newApp } from './state.js';

const ROOM_RE = /^[A-Za-z0-9._-]{1,64}$/;
// Redirects followed in a row without a join: more means nodes disagree.
const MAX_REDIRECTS = 5;
// Fatal errors after which rejoining elsewhere makes sense: the node failed
// or is going away. Others (removed by an operator, room full) are final.
const REJOIN_AFTER = new Set(['internal', 'draining', 'node-full']);

// Everything the page knows (state.js); report.js reads it too.
const app = newApp(errors);

function main() {
  const params = new URLSearchParams(location.search);
  const m = location.pathname.match(/^\/r\/([^/]+)$/);
  const room = m ? decodeURIComponent(m[1]) : '';
  const token = (params.get('token') || '').trim();
  const name = (params.get('name') || tokenName(token)).trim();
  const region = (params.get('region') || '').trim();
  // In the fragment, so that the server never sees it.
  const passphrase = passphraseFromHash(location.hash);
  app.token = token;
  app.relayOnly = params.get('relay') === '1';

  app.debug = params.has('debug');
  const report = params.get('report');
  if (report) {
    window.addEventListener('error', (e) => app.errors.push(`page error: ${e.message}`));
    window.addEventListener('unhandledrejection', (e) => app.errors.push(`unhandled: ${e.reason}`));
    startReporting(report, app, Number(params.get('framepoll')) || undefined);
    startTestHooks(report, params, app);
  }

  app.media = new LocalMedia(prefsFromURL(params, loadPrefs(globalThis.localStorage)));
  if (room && name && ROOM_RE.test(room)) {
    enterRoom(room, name, region, passphrase);
  } else {
    showPrejoin({ room: ROOM_RE.test(room) ? room : '', name, region, passphrase, media: app.media, onJoin: enterRoom });
  }
}

async function enterRoom(room, name, region, passphrase = '') {
  Object.assign(app, { room, name, region });
  showView('room-view');
  document.title = `${room} · Switchyard`;
  $('room-label').textContent = room;
  $('self-label').textContent = `${name} (you)`;
  setStatus('starting camera…');

  app.grid = new TileGrid($('grid'), {
    onConstraints: sendConstraints,
    onAudioBlocked: () => ($('audio-unlock').hidden = false),
    onView: () => app.controls?.render(),
    selfEl: $('self'),
  });
  app.rtt = new RttProbe(
    (to, payload) => app.sig?.send({ type: 'message', to, payload }),
    (pid, ms) => app.grid.setRTT(pid, ms),
  );
  app.quality = new QualityMonitor({
    receivers: () => app.session?.receivers() || new Map(),
    rtt: (pid) => app.rtt.latest.get(pid) ?? null,
    want: (key) => app.grid.layout.get(key)?.h * (window.devicePixelRatio || 1) || 0,
    videoOn: (key) => !app.participants.get(key)?.camera_off,
    show: (key, q) => app.grid.setQuality(key, q),
  });
  app.people = new PeoplePanel($('people-list'), $('people-count'), $('rec-indicator'), (msg) => app.sig?.send(msg));

  // The join page opened the devices already; a direct link opens them now.
  const problem = await (app.media.ready ||= app.media.open());
  if (problem) showError(problem);
  $('self-video').srcObject = app.media.stream;
  // Never join unencrypted when encryption was asked for.
  if (passphrase && !(await startE2EE(app, passphrase))) return;
  app.controls = new CallControls(app);
  app.onLocalState = renderPeople;
  app.controls.wire();
  wireControls();
  connect(signalingURL());
}

function wireControls() {
  $('leave').hidden = false;
  $('leave').onclick = leave;
  $('audio-unlock').onclick = async () => {
    $('audio-unlock').hidden = true;
    for (const tile of app.grid.tiles.values()) await tile.resumeAudio().catch(() => {});
  };
  wireChat((text) => app.sig?.send({ type: 'message', payload: { kind: 'chat', text } }));
}

// connect opens signaling to url and joins; status says why, meanwhile.
async function connect(url, status = 'connecting…') {
  const sig = new Signaling(url, { debug: app.debug });
  Object.assign(app, { sig, url, leaving: false, fatal: '' });
  // A socket the client has moved away from (redirect, rejoin) may still
  // deliver a message or two; they must not reach the new session.
  const mine = (fn) => (m) => app.sig === sig && fn(m);
  sig
    .on('joined', mine(onJoined))
    .on('answer', mine((m) => app.mark('answer') && app.session?.onAnswer(m.sdp)))
    .on('offer', mine((m) => app.mark('nodeOffer') && app.session?.onOffer(m.sdp, m.tracks)))
    .on('candidate', mine((m) => app.session?.onCandidate(m.candidate)))
    .on('participant-joined', mine((m) => onParticipants(m, true)))
    .on('participant-updated', mine((m) => onParticipants(m, false)))
    .on('participant-left', mine((m) => removeParticipant(m.id)))
    .on('dominant-speaker', mine((m) => setDominant(m.id)))
    .on('message', mine((m) => onEndpointMessage(m.from, m.payload)))
    .on('server-recording', mine((m) => app.controls?.serverRec.onMessage(m)))
    .on('error', mine(onNodeError))
    // The node shuts down with nowhere to move us (a rejoin elsewhere, if any, follows).
    .on('node-stopping', mine((m) => addChat('', `The node is stopping: ${String(m.reason || '').slice(0, 200)}.`, 'system')))
    .on('redirect', mine(onRedirect));
  sig.onbad = (text) => app.sig === sig && showError(text);
  // A failed open reports both through onclose and the rejected promise;
  // the loss is handled once.
  let ended = false;
  const lost = (why) => {
    if (ended || app.sig !== sig) return;
    ended = true;
    app.signalingState = 'closed';
    if (!app.leaving) onLost(why);
  };
  sig.onclose = (code, reason) => lost(`${reason ? `${reason}, ` : ''}code ${code}`);

  setStatus(status);
  try {
    await sig.open();
  } catch (err) {
    app.signalingState = 'failed';
    lost(err.message);
    return;
  }
  if (app.sig !== sig) return;
  app.signalingState = 'open';
  app.mark('joinSent');
  sig.send({
    type: 'join',
    room: app.room,
    name: app.name,
    region: app.region || undefined,
    token: app.token || undefined,
    e2ee: app.e2ee ? true : undefined,
  });
}

function onJoined(m) {
  app.mark('joined');
  app.id = m.id;
  app.node = m.node || '';
  app.signalingState = 'joined';
  app.inCall = true;
  app.redirects = 0;
  app.fallback = (Array.isArray(m.fallback) ? m.fallback : []).filter(usableURL);
  if (app.reconnect) {
    app.reconnect.cancel();
    app.reconnect = null;
    app.reconnects++;
    addChat('', `Rejoined through node ${m.node || '?'}.`, 'system');
  }
  app.grid.setLocalNode(app.node);
  $('self-label').textContent = `${app.name} (you) · ${m.region || '?'} · ${m.node || '?'}`;
  setStatus(`joined as ${whoAmI()}`);
  app.participants = reduceParticipants(app.participants, m, app.id);
  for (const p of app.participants.values()) app.grid.ensure(p.id, p);
  updateEmpty();

  app.session = new Session(app.sig, {
    // A participant's tile comes with its first microphone or camera track.
    onTrack: (pid, source, track, mid) => {
      app.grid.setTrack(pid, source, track, mid);
      // A share is shown large for everyone.
      if (source === 'screen') app.grid.setView('speaker');
      updateEmpty();
    },
    onTrackGone: (pid, source, mid) => app.grid.clearTrack(pid, source, mid),
    onSettled: (mids) => {
      app.grid.prune(withMedia(mids));
      updateEmpty();
    },
    onOffered: () => app.mark('offerSent') && app.controls.afterOffer(),
    onState: (state) => {
      if (state === 'connected') app.mark('connected');
      setStatus(`${state} as ${whoAmI()}`);
      if (state === 'failed') showError('The media connection to the node failed.');
    },
    onError: (text) => showError(text),
  });
  app.grants = m.grants || { publish: true, subscribe: true, moderator: false };
  app.session.start(app.controls.localTracks(), {
    publish: !!app.grants.publish,
    screen: !!app.grants.publish && !!navigator.mediaDevices?.getDisplayMedia,
    iceServers: Array.isArray(m.ice_servers) ? m.ice_servers : [],
    relayOnly: app.relayOnly,
    e2ee: app.e2ee,
  });
  // The grants are known now: one who may not publish has no tile of its own.
  app.controls.render();
  app.rtt.start(() => app.peerIds());
  app.quality.start();
  app.grid.scheduleConstraints();
  renderPeople();
}

// onRedirect moves the client to another node, at join (bridge selection)
// or mid-call (this node is draining): the media session is rebuilt there,
// with the same camera and microphone.
function onRedirect(m) {
  if (!usableURL(m.url)) {
    showError('The node sent a redirect without a usable address.');
    return;
  }
  app.leaving = true;
  app.sig.close('redirected');
  teardown();
  if (++app.redirects > MAX_REDIRECTS) {
    showError('The nodes keep redirecting this client; stopped following them.', true);
    if (app.reconnect) retry();
    else setStatus('not connected');
    return;
  }
  const why = typeof m.reason === 'string' ? m.reason.slice(0, 200) : '';
  addChat('', `Moving to another node${why ? ` (${why})` : ''}…`, 'system');
  connect(m.url, why ? `moving: ${why}…` : 'moving…');
}

function onNodeError(m) {
  if (app.controls?.onNodeError(m)) return;
  if (m.fatal) app.fatal = typeof m.code === 'string' ? m.code : 'unknown';
  showError(`${m.reason || 'error'} (${m.code || 'unknown'})`, m.fatal);
}

// onLost handles a signaling channel that closed without the user leaving
// or a redirect: the node failed, went away or refused the client.
function onLost(why) {
  teardown();
  // While rejoining, a node that refuses is just one that did not work.
  const final = !app.reconnect && app.fatal && !REJOIN_AFTER.has(app.fatal);
  if (!app.inCall || final) {
    showError(app.inCall ? `Disconnected by the node (${app.fatal}).` : `Cannot reach the node at ${app.url} (${why}).`, true);
    setStatus(app.inCall ? 'disconnected' : 'not connected');
    app.inCall = false;
    return;
  }
  if (!app.reconnect) {
    app.reconnect = new Reconnect(app.fallback, app.url);
    addChat('', `Lost node ${app.node || '?'} (${why}); reconnecting…`, 'system');
  }
  retry();
}

// retry tries the next node after a short pause, or gives up.
function retry() {
  const next = app.reconnect?.next();
  if (!next) {
    app.reconnect = null;
    app.inCall = false;
    showError('Could not reach any node of this conference. Reload the page to try again.', true);
    setStatus('disconnected');
    return;
  }
  const status = `Reconnecting… (try ${next.round} of ${ROUNDS})`;
  setStatus(status);
  app.reconnect.timer = setTimeout(() => connect(next.url, status), next.delay);
}

// onParticipants applies participant-joined and participant-updated.
function onParticipants(m, announce) {
  const mine = selfUpdate(m, app.id);
  if (mine) app.controls.onSelfUpdate(mine);
  const before = app.participants;
  app.participants = reduceParticipants(before, m, app.id);
  const p = app.participants.get(m.participant?.id);
  if (!p || app.participants === before) return;
  const was = before.get(p.id);
  app.grid.ensure(p.id, p);
  updateEmpty();
  if (announce && !was) addChat('', `${p.name || p.id} joined`, 'system');
  if (was && p.recording !== was.recording) {
    addChat('', `${p.name || p.id} ${p.recording ? 'started' : 'stopped'} recording this meeting.`, 'system');
  }
  renderPeople();
}

function removeParticipant(id) {
  const p = app.participants.get(id);
  app.participants = reduceParticipants(app.participants, { type: 'participant-left', id }, app.id);
  app.rtt.forget(id);
  app.grid.remove(id);
  updateEmpty();
  renderPeople();
  if (p) addChat('', `${p.name || id} left`, 'system');
}

// renderPeople redraws the participant list and the recording indicator.
function renderPeople() {
  if (!app.people || !app.controls) return;
  const moderator = !!app.grants?.moderator;
  const self = app.id ? { id: app.id, name: app.name, ...app.controls.state, moderator, e2ee: !!app.e2ee } : null;
  app.people.render(self, app.participants, { moderator, localNode: app.node });
}

function setDominant(id) {
  app.dominant = id || '';
  app.grid.setDominant(id, app.id);
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
  app.inCall = false;
  app.reconnect?.cancel();
  app.reconnect = null;
  app.controls?.stopRecording();
  app.controls?.stopShare();
  app.sig?.send({ type: 'leave' });
  app.sig?.close();
  teardown();
  app.media?.stopAll();
  $('leave').hidden = true;
  $('audio-unlock').hidden = true;
  $('rejoin').href = location.href;
  setStatus('');
  showView('left-view');
}

// teardown drops the media session and the remote tiles; the local camera
// stays on so that a redirect or a rejoin can publish it again.
function teardown() {
  app.rtt?.stop();
  app.quality?.stop();
  // The screen m-line goes with the session; the share ends with it.
  app.controls?.stopShare(false);
  app.session?.close();
  app.session = null;
  // The next node, if any, says whether it records.
  app.controls?.serverRec.reset();
  app.grid?.clear();
  app.participants = new Map();
  app.id = '';
  updateEmpty();
  renderPeople();
}

// whoAmI names this participant in the status line: "Ana on us-east".
function whoAmI() {
  return app.node ? `${app.name} on ${app.node}` : app.name;
}

// updateEmpty explains an empty stage: nobody else here, or nobody with a
// camera or microphone (they are in the participant list).
function updateEmpty() {
  const others = app.participants.size > 0;
  $('empty').hidden = !!app.grid && app.grid.size > 0;
  $('empty').textContent = others ? 'Nobody here sends video or sound; see People for who is here.' : 'Waiting for others to join…';
}

main();
