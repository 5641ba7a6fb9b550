// The participant-state reducer, avatars' initials, the token's name.
import { eq } from './assert.mjs';
import { initials, reduceParticipants, selfUpdate, tokenName } from './participants.js';

let s = reduceParticipants(new Map(), {
  type: 'joined', id: 'me',
  participants: [
    { id: 'p1', name: 'Ann Lee', region: 'eu', node: 'n1', mic_off: true },
    { id: 'me', name: 'self' },
    { id: 7, name: 'bad id' },
    { id: 'p2', name: 'Bo', camera_off: 'yes', sharing: true },
  ],
}, 'me');
eq([...s.keys()], ['p1', 'p2'], 'joined: others only, bad ids dropped');
eq(s.get('p1'), { id: 'p1', name: 'Ann Lee', region: 'eu', node: 'n1', mic_off: true, camera_off: false, sharing: false, recording: false, moderator: false, e2ee: false }, 'normalized');
eq(s.get('p2').camera_off, false, 'non-boolean flag is false');

const before = s;
s = reduceParticipants(s, { type: 'participant-updated', participant: { id: 'p1', mic_off: false, recording: true } }, 'me');
eq([s.get('p1').name, s.get('p1').region, s.get('p1').mic_off, s.get('p1').recording], ['Ann Lee', 'eu', false, true], 'update keeps name, takes flags');
eq(before.get('p1').recording, false, 'input map unchanged');
s = reduceParticipants(s, { type: 'participant-joined', participant: { id: 'p3', name: 'Cy', e2ee: true } }, 'me');
eq([s.size, s.get('p3').e2ee], [3, true], 'joined, encrypting');
eq(reduceParticipants(s, { type: 'participant-updated', participant: { id: 'p3', e2ee: 1 } }, 'me').get('p3').e2ee, false, 'e2ee only when true');
eq(reduceParticipants(s, { type: 'participant-updated', participant: { id: 'me', mic_off: true } }, 'me'), s, 'self not listed');
eq(reduceParticipants(s, { type: 'participant-updated' }, 'me'), s, 'no participant: unchanged');
eq(reduceParticipants(s, { type: 'nonsense' }, 'me'), s, 'unknown type: unchanged');
s = reduceParticipants(s, { type: 'participant-left', id: 'p2' }, 'me');
eq([...s.keys()], ['p1', 'p3'], 'left');

eq(selfUpdate({ type: 'participant-updated', participant: { id: 'me', mic_off: true } }, 'me')?.mic_off, true, 'self update seen');
eq(selfUpdate({ type: 'participant-updated', participant: { id: 'p1', mic_off: true } }, 'me'), null, 'others are not self');

const names = [['Ann Lee', 'AL'], ['ann', 'AN'], ['  jean-luc picard ', 'JP'], ['', '?'], [null, '?'], ['Émile Zola', 'ÉZ'], ['x', 'X'], ['李 小龙', '李小']];
for (const [n, want] of names) eq(initials(n), want, `initials(${n})`);

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
eq(tokenName(`h.${b64({ name: 'Dee' })}.sig`), 'Dee', 'token name');
eq(tokenName('garbage'), '', 'bad token');
console.log('ok');
