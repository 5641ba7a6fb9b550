// The connection indicator's rating and its reasons.
import { eq } from './assert.mjs';
import { assess, lossBetween } from './quality.js';

eq(lossBetween(null, { packetsLost: 1, packetsReceived: 9 }), null, 'first sample');
eq(lossBetween({ packetsLost: 1, packetsReceived: 90 }, { packetsLost: 6, packetsReceived: 185 }), 0.05, '5 of 100');
eq(lossBetween({ packetsLost: 5, packetsReceived: 10 }, { packetsLost: 5, packetsReceived: 10 }), null, 'nothing expected');

const cases = [
  [{}, 'unknown', ['no measurements yet']],
  [{ rtt: 40, loss: 0, frameHeight: 720, wantHeight: 720 }, 'good', ['round trip 40 ms, 0.0% loss, 720p']],
  [{ rtt: 250 }, 'fair', ['round trip 250 ms']],
  [{ rtt: 500, loss: 0.2 }, 'poor', ['round trip 500 ms', '20.0% packets lost']],
  [{ loss: 0.05 }, 'fair', ['5.0% packets lost']],
  [{ loss: 0.2 }, 'poor', ['20.0% packets lost']],
  [{ frameHeight: 180, wantHeight: 720 }, 'fair', ['receiving 180p for a 720p tile']],
  [{ frameHeight: 180, wantHeight: 1080 * 2 }, 'fair', ['receiving 180p for a 2160p tile']],
  [{ frameHeight: 540, wantHeight: 2160 }, 'good', ['540p']],
  [{ frameHeight: 180, wantHeight: 200 }, 'good', ['180p']],
  [{ frameHeight: 180, wantHeight: 720, videoOn: false }, 'good', ['180p']],
];
for (const [input, level, reasons] of cases) eq(assess(input), { level, reasons }, `assess(${JSON.stringify(input)})`);
console.log('ok');
