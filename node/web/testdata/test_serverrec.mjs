// The server recording's rules (serverrec.js): node messages to state, a
// moderator's request, the chat lines, and what a moderator and anyone
// else see.
import { eq } from './assert.mjs';
import { BANNER_TEXT, announcement, initialState, reduce, request, view } from './serverrec.js';

const off = initialState();
const on = { on: true, reason: '', notice: false, pending: '', error: '' };
const disk = 'the recording stopped: write p1-camera.webm: no space left on device';
const long = 'x'.repeat(500);

// reduce: [name, state, message, want]
const reduceCases = [
  ['started', off, { type: 'server-recording', on: true }, on],
  ['started, a reason ignored', off, { type: 'server-recording', on: true, reason: 'x' }, on],
  ['stopped: "on" left out (omitempty)', on, { type: 'server-recording' }, off],
  ['stopped: on false', on, { type: 'server-recording', on: false }, off],
  ['stopped on an error', on, { type: 'server-recording', on: false, reason: disk }, { on: false, reason: disk, notice: true, pending: '', error: '' }],
  ['a reason too long is cut', on, { type: 'server-recording', reason: long }, { on: false, reason: 'x'.repeat(200), notice: true, pending: '', error: '' }],
  ['a reason not a string is none', on, { type: 'server-recording', reason: { a: 1 } }, off],
  ['"on" not true is off', on, { type: 'server-recording', on: 'yes' }, off],
  ['the answer ends a request', { ...off, pending: 'start' }, { type: 'server-recording', on: true }, on],
  ['a new recording clears the old reason', { on: false, reason: disk, notice: true, pending: '', error: '' }, { type: 'server-recording', on: true }, on],
  ['refused: recording', { ...off, pending: 'start' }, { type: 'error', code: 'recording', reason: 'start recording: mkdir: permission denied' },
    { ...off, error: 'start recording: mkdir: permission denied' }],
  ['refused: forbidden while waiting', { ...off, pending: 'start' }, { type: 'error', code: 'forbidden', reason: 'only a moderator may start or stop the recording' },
    { ...off, error: 'only a moderator may start or stop the recording' }],
  ['refused without a reason', { ...on, pending: 'stop' }, { type: 'error', code: 'recording' }, { ...on, error: 'recording' }],
  ['forbidden, not waiting: someone else\'s', off, { type: 'error', code: 'forbidden', reason: 'no publish grant' }, off],
  ['another error', { ...off, pending: 'start' }, { type: 'error', code: 'share-busy' }, { ...off, pending: 'start' }],
  ['another message', on, { type: 'recording', on: false }, on],
  ['garbage', on, null, on],
];
for (const [name, state, msg, want] of reduceCases) eq(reduce(state, msg), want, `reduce: ${name}`);
eq(reduce(on, { type: 'participant-joined' }) === on, true, 'unrelated message: the same state');

// request: a click sends the opposite of what is, once.
eq(request(off), { state: { ...off, pending: 'start' }, msg: { type: 'server-recording', on: true } }, 'start');
eq(request(on), { state: { ...on, pending: 'stop' }, msg: { type: 'server-recording', on: false } }, 'stop');
eq(request({ ...off, pending: 'start' }).msg, null, 'not twice while waiting');
eq(request({ ...off, error: 'denied' }).state.error, '', 'a new try clears the last refusal');

// announcement: chat lines on changes only.
eq(announcement(off, on), 'The server is recording this meeting.', 'started (or a late joiner told)');
eq(announcement(on, off), 'The server stopped recording this meeting.', 'stopped');
eq(announcement(on, reduce(on, { type: 'server-recording', reason: disk })), `The server recording stopped: ${disk}`, 'stopped on an error');
eq([announcement(on, on), announcement(off, off)], ['', ''], 'no change, no line');

// view: [name, state, moderator, banner, button]
const viewCases = [
  ['not recorded, participant', off, false, { hidden: true, text: '', stopped: false }, { hidden: true, pressed: false, disabled: false, text: 'Server rec' }],
  ['recorded, participant', on, false, { hidden: false, text: BANNER_TEXT, stopped: false }, { hidden: true, pressed: true, disabled: false, text: 'Stop server rec' }],
  ['not recorded, moderator', off, true, { hidden: true, text: '', stopped: false }, { hidden: false, pressed: false, disabled: false, text: 'Server rec' }],
  ['recorded, moderator', on, true, { hidden: false, text: BANNER_TEXT, stopped: false }, { hidden: false, pressed: true, disabled: false, text: 'Stop server rec' }],
  ['starting', { ...off, pending: 'start' }, true, { hidden: true, text: '', stopped: false }, { hidden: false, pressed: false, disabled: true, text: 'Starting…' }],
  ['stopping', { ...on, pending: 'stop' }, true, { hidden: false, text: BANNER_TEXT, stopped: false }, { hidden: false, pressed: true, disabled: true, text: 'Stopping…' }],
  ['stopped on an error, shown', { ...off, reason: 'disk full', notice: true }, false,
    { hidden: false, text: '⚠ Server recording stopped: disk full', stopped: true }, { hidden: true, pressed: false, disabled: false, text: 'Server rec' }],
  ['stopped on an error, notice over', { ...off, reason: 'disk full', notice: false }, false, { hidden: true, text: '', stopped: false },
    { hidden: true, pressed: false, disabled: false, text: 'Server rec' }],
];
for (const [name, state, moderator, banner, button] of viewCases) {
  const v = view(state, { moderator });
  eq(v.banner, banner, `view banner: ${name}`);
  const { label, ...rest } = v.button;
  eq(rest, button, `view button: ${name}`);
  eq(label.includes('moderator'), true, `view button label: ${name}`);
}
eq(view(on).banner.text.startsWith('● Recording'), true, 'banner text');
console.log('ok');
