// The m-line mapping: the client's own sources, and whose each incoming
// m-line is, from the node's tracks map or (older nodes) the stream ids.
import { eq } from './assert.mjs';
import { cleanTracks, diffIncoming, mapIncoming, showsSelf, sourcesFor, tileKey, withMedia } from './tracks.js';

eq(sourcesFor({ mic: { mid: '0' }, camera: { mid: '1' }, screen: { mid: '2' } }), { 0: 'mic', 1: 'camera', 2: 'screen' }, 'three sources');
eq(sourcesFor({ mic: { mid: '0' }, camera: { mid: null }, bogus: { mid: '5' } }), { 0: 'mic' }, 'no mid yet, unknown source');

eq(cleanTracks(undefined), null, 'absent');
eq(cleanTracks([]), null, 'array');
eq(cleanTracks({ 3: { publisher: 'p1', source: 'camera' }, 4: { publisher: '', source: 'mic' }, 5: { publisher: 'p2', source: 'tv' }, 6: null }),
  { 3: { publisher: 'p1', source: 'camera' } }, 'bad entries dropped');

const recv = [
  { mid: '3', kind: 'audio', streamId: 'sA', trackId: 'x' },
  { mid: '4', kind: 'video', streamId: 'sA', trackId: 'y' },
  { mid: '5', kind: 'video', streamId: 'sA', trackId: 'screen' },
  { mid: '6', kind: 'video', streamId: '', trackId: '' },
];
const tracks = cleanTracks({
  3: { publisher: 'p1', source: 'mic' },
  4: { publisher: 'p1', source: 'camera' },
  5: { publisher: 'p2', source: 'screen' },
  6: { publisher: 'p2', source: 'mic' }, // a kind mismatch: skipped
});
eq(mapIncoming(recv, tracks), new Map([
  ['3', { pid: 'p1', source: 'mic', kind: 'audio' }],
  ['4', { pid: 'p1', source: 'camera', kind: 'video' }],
  ['5', { pid: 'p2', source: 'screen', kind: 'video' }],
]), 'with tracks');
eq(mapIncoming(recv, {}), new Map(), 'tracks map present but empty: nothing guessed');
eq(mapIncoming(recv, null), new Map([
  ['3', { pid: 'sA', source: 'mic', kind: 'audio' }],
  ['4', { pid: 'sA', source: 'camera', kind: 'video' }],
  ['5', { pid: 'sA', source: 'screen', kind: 'video' }],
]), 'fallback to stream ids');

const prev = new Map([['3', { pid: 'p1', source: 'mic', kind: 'audio' }], ['4', { pid: 'p1', source: 'camera', kind: 'video' }]]);
const next = new Map([['3', { pid: 'p1', source: 'mic', kind: 'audio' }], ['4', { pid: 'p2', source: 'screen', kind: 'video' }], ['7', { pid: 'p3', source: 'mic', kind: 'audio' }]]);
eq(diffIncoming(prev, next), {
  gone: [{ mid: '4', pid: 'p1', source: 'camera', kind: 'video' }],
  added: [{ mid: '4', pid: 'p2', source: 'screen', kind: 'video' }, { mid: '7', pid: 'p3', source: 'mic', kind: 'audio' }],
}, 'reused m-line in both lists');
eq(diffIncoming(prev, prev), { gone: [], added: [] }, 'no change');
eq([tileKey('p1', 'mic'), tileKey('p1', 'camera'), tileKey('p1', 'screen')], ['p1', 'p1', 'p1/screen'], 'tile keys');

// Who gets a tile: those with a microphone or camera track; a share alone
// or nothing (watching and listening only) is not enough.
eq([...withMedia(new Map([
  ['3', { pid: 'p1', source: 'mic', kind: 'audio' }],
  ['4', { pid: 'p2', source: 'camera', kind: 'video' }],
  ['5', { pid: 'p3', source: 'screen', kind: 'video' }],
  ['6', { pid: 'p1', source: 'camera', kind: 'video' }],
]))], ['p1', 'p2'], 'participants with media');
eq(withMedia(new Map()).size, 0, 'nobody');
const self = [
  [{ mic: {}, cam: null, publish: true }, true, 'microphone only'],
  [{ mic: null, cam: {}, publish: true }, true, 'camera only'],
  [{ mic: null, cam: null, publish: true }, false, 'no device, denied, or none chosen'],
  [{ mic: {}, cam: {}, publish: false }, false, 'not allowed to publish'],
];
for (const [arg, want, what] of self) eq(showsSelf(arg), want, `own tile: ${what}`);
console.log('ok');
