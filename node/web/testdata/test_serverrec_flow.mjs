// The server recording in a call against the fake page: a moderator joins a
// conference the node already records (told right after joined), stops it,
// is refused once, starts it again, and sees it stop on an error; a redirect
// forgets it. (The harness cuts every pause to a few milliseconds, so what
// lasts a while in a browser is checked right after the message.)
import { sockets, $, until, socket, joinOn } from './harness.mjs';
import { eq } from './assert.mjs';

globalThis.fetch = async () => ({});
location.search = '?name=ann&report=' + encodeURIComponent('http://reports.test/report/a');
await import('./app.js');
const ws = await socket(0, 'ws://a/ws');
ws.accept();
await until('join', () => ws.sent.some((m) => m.type === 'join'));
const banner = $('server-rec-banner');
const button = $('server-record-toggle');
const state = () => window.__switchyard.callState();
const pick = (s) => [s.serverRecording, s.serverRecordingReason, s.serverRecordingControl, s.serverRecordingPending];
const sent = () => ws.sent.filter((m) => m.type === 'server-recording');
const chat = () => $('chat-log').children.map((li) => li.children.map((c) => c.text).join(''));
eq([banner.hidden, button.hidden], [true, true], 'before joining: no banner, no button');

// The node records already: it says so right after joined.
ws.deliver({ type: 'joined', id: 'p1', room: 'demo', node: 'n1', region: 'r', grants: { publish: true, subscribe: true, moderator: true }, participants: [] });
ws.deliver({ type: 'server-recording', on: true });
eq([banner.hidden, banner.textContent], [false, '● Recording — this meeting is being recorded by the server'], 'late joiner sees the banner');
eq([button.hidden, button.attrs['aria-pressed'], button.disabled], [false, 'true', false], 'moderator: a pressed stop button');
eq(pick(state()), [true, '', true, ''], 'call state: recorded, control shown');
eq(state().serverRecordingBanner, banner.textContent, 'call state: the banner');
eq(chat().at(-1), 'The server is recording this meeting.', 'chat line');

// Stop: one message, the button busy until the node answers.
button.onclick();
button.onclick();
eq(sent(), [{ type: 'server-recording', on: false }], 'stop sent once');
eq([button.disabled, state().serverRecordingPending], [true, 'stop'], 'waiting for the node');
// The node leaves "on" out when false.
ws.deliver({ type: 'server-recording' });
eq([banner.hidden, button.attrs['aria-pressed'], button.disabled], [true, 'false', false], 'stopped: banner gone, start button');
eq(pick(state()), [false, '', true, ''], 'call state: not recorded');
eq(state().serverRecordingBanner, '', 'call state: no banner');
eq(chat().at(-1), 'The server stopped recording this meeting.', 'chat: stopped');

// Start refused: the error is shown, the button usable again.
button.onclick();
eq(sent().at(-1), { type: 'server-recording', on: true }, 'start sent');
ws.deliver({ type: 'error', code: 'recording', reason: 'start recording: mkdir /rec: permission denied' });
eq([button.disabled, banner.hidden, state().serverRecordingError], [false, true, 'start recording: mkdir /rec: permission denied'], 'refused');
eq($('errors').children.at(-1)?.text, 'Server recording: start recording: mkdir /rec: permission denied.', 'error shown');
// A forbidden answer to something else (a share) is not taken for ours.
ws.deliver({ type: 'error', code: 'forbidden', reason: 'no publish grant' });
eq(state().serverRecordingError, 'start recording: mkdir /rec: permission denied', 'forbidden while not waiting: not ours');

// Started, then stopped by a full disk: the reason in the banner.
button.onclick();
ws.deliver({ type: 'server-recording', on: true });
eq([banner.hidden, state().serverRecording], [false, true], 'recording again');
ws.deliver({ type: 'server-recording', on: false, reason: 'the recording stopped: no space left on device' });
eq([banner.hidden, banner.textContent, banner.classList.contains('stopped')],
  [false, '⚠ Server recording stopped: the recording stopped: no space left on device', true], 'stopped on an error: the reason shown');
eq(pick(state()), [false, 'the recording stopped: no space left on device', true, ''], 'call state: the reason');
eq(chat().at(-1), 'The server recording stopped: the recording stopped: no space left on device', 'chat: the reason');
await until('the notice to go', () => banner.hidden);
eq(state().serverRecordingReason, 'the recording stopped: no space left on device', 'the reason stays in the call state');

// Moving to another node forgets the recording; the new node says.
ws.deliver({ type: 'server-recording', on: true });
ws.deliver({ type: 'redirect', url: 'ws://b/ws?redirected=1', reason: 'node draining' });
eq([banner.hidden, state().serverRecording], [true, false], 'forgotten on leaving the node');
const b = await socket(1, 'ws://b/ws?redirected=1');
// Not a moderator there: no button; told that node records.
await joinOn(b, 'p9', 'n2', []);
b.deliver({ type: 'server-recording', on: true });
eq([banner.hidden, button.hidden], [false, true], 'participant: banner, no button');
eq(pick(state()), [true, '', false, ''], 'participant call state');
button.onclick();
eq(b.sent.filter((m) => m.type === 'server-recording'), [], 'a participant sends nothing');
eq(sockets.length, 2, 'two sockets');
console.log('ok');
process.exit(0);
