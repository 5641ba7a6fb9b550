// Layout of the speaker and grid views, and the constraint heights that
// follow from it.
import { eq } from './assert.mjs';
import { computeLayout, constraintHeights, gridColumns, pickMain, shownHeight } from './layout.js';

// gridColumns: the most area per tile.
const cols = [
  [1, 1280, 720, 1], [2, 1280, 720, 2], [4, 1280, 720, 2], [5, 1280, 720, 3], [9, 1280, 720, 3],
  [2, 374, 600, 1], [4, 374, 600, 1], [6, 374, 600, 2],
];
for (const [n, w, h, want] of cols) eq(gridColumns(n, w, h), want, `gridColumns(${n}, ${w}x${h})`);

// pickMain precedence.
const keys = ['p2/screen', 'p1', 'p2', 'self'];
eq(pickMain({ keys, pinned: 'p1', dominant: 'p2' }), 'p1', 'pinned wins');
eq(pickMain({ keys, dominant: 'p1' }), 'p2/screen', 'a share beats the speaker');
eq(pickMain({ keys: ['p1', 'p2', 'self'], dominant: 'p2', previous: 'p1' }), 'p2', 'dominant');
eq(pickMain({ keys: ['p1', 'p2', 'self'], dominant: 'self', previous: 'p2' }), 'p2', 'you speaking keeps the stage');
eq(pickMain({ keys: ['p1', 'p2', 'self'], pinned: 'gone' }), 'p1', 'stale pin ignored');
eq(pickMain({ keys: ['self'] }), 'self', 'alone');

// Grid view: equal 16:9 tiles, all drawn.
const g = computeLayout({ view: 'grid', keys: ['a', 'b', 'c', 'd'], box: { w: 1288, h: 728 } });
eq([...g.values()].map((r) => [r.w, r.h, r.role]), Array(4).fill([640, 360, 'grid']), 'grid 2x2');
eq([g.get('a').x, g.get('b').x, g.get('c').y], [0, 648, 368], 'grid positions');

// Speaker view: main on top, strip below; too many for the strip are hidden.
const many = ['m', ...Array.from({ length: 20 }, (_, i) => `s${i}`)];
const s = computeLayout({ view: 'speaker', keys: many, main: 'm', box: { w: 1000, h: 700 } });
const main = s.get('m');
eq([main.role, main.w, main.h], ['main', 1000, 566], 'main tile');
const strip = [...s.values()].filter((r) => r.role === 'strip');
const hidden = [...s.values()].filter((r) => r.role === 'hidden');
eq([strip.length, hidden.length], [9, 11], 'strip fits 9 at the minimum width, hides the rest');
eq(strip.every((r) => r.y >= main.h && r.w >= 96), true, 'strip below main, tiles not narrower than 96');

// A share: large, its sharer's camera in its corner, not in the strip.
const sh = computeLayout({ view: 'speaker', keys: ['p2/screen', 'p1', 'p2', 'self'], main: 'p2/screen', box: { w: 1280, h: 720 } });
eq(sh.get('p2').role, 'pip', 'sharer camera as picture in picture');
eq(sh.get('p1').role, 'strip', 'others in the strip');
eq(sh.get('p2').x + sh.get('p2').w <= 1280 && sh.get('p2').y + sh.get('p2').h <= sh.get('p2/screen').h, true, 'pip inside the share');

// Phone width.
const phone = computeLayout({ view: 'speaker', keys: ['p1', 'p2', 'self'], main: 'p1', box: { w: 374, h: 500 } });
eq([...phone.values()].every((r) => r.x >= 0 && r.x + r.w <= 374 && r.role !== 'hidden'), true, 'phone: everything fits');

// Constraint heights: per publisher, its largest drawn video; hidden asks 0.
eq(shownHeight(1000, 566), 562.5, 'letterboxed 16:9');
eq(shownHeight(1000, 566, 9 / 16), 566, 'portrait video fills the height');
const hs = constraintHeights(s, { pids: ['m', 's0', 's15'] });
eq([hs.m, hs.s15], [563, 0], 'main tall, hidden zero');
eq(hs.s0 > 40 && hs.s0 < 80, true, `strip small (${hs.s0})`);
{
  const c = constraintHeights(sh, { pids: ['p1', 'p2'], dpr: 2 });
  eq([c['p2/screen'], c.p2 < c['p2/screen'], 'p1' in c], [1164, true, true], `the share asks apart from its sharer's camera, at 2x ${JSON.stringify(c)}`);
}
eq(constraintHeights(g, { pids: ['a'], override: { key: 'a', w: 1920, h: 1080, role: 'main' } }), { a: 1080 }, 'full screen');
eq(constraintHeights(g, { pids: ['a', 'gone'] }), { a: 360, gone: 0 }, 'no tile: 0; self never listed');
eq(constraintHeights(new Map([['self', { w: 100, h: 100, role: 'main' }]]), { pids: [] }), {}, 'self left out');
console.log('ok');
