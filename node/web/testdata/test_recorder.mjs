// The recorder's choices: WebM type per browser, file name, letterboxing.
import { eq } from './assert.mjs';
import { fitRect, pickMimeType, recordingName } from './recorder.js';

const chromium = new Set(['video/webm;codecs=vp8,opus', 'video/webm;codecs=vp9,opus', 'video/webm']);
eq(pickMimeType((t) => chromium.has(t)), 'video/webm;codecs=vp8,opus', 'chromium: vp8 and opus named');
eq(pickMimeType((t) => t === 'video/webm'), 'video/webm', 'plain webm when codecs cannot be named');
eq(pickMimeType((t) => t === 'video/mp4'), '', 'no webm: refuse');
eq(pickMimeType((t) => { if (t.includes('codecs')) throw new Error('x'); return true; }), 'video/webm', 'a throwing check is a no');
eq(recordingName('team a/b', new Date(2025, 0, 2, 3, 4)), 'switchyard-team_a_b-2025-01-02-0304.webm', 'file name');
eq(fitRect(640, 480, 1280, 720), { x: 160, y: 0, w: 960, h: 720 }, '4:3 pillarboxed');
eq(fitRect(0, 0, 1280, 720), { x: 0, y: 0, w: 1280, h: 720 }, 'unknown size fills');
console.log('ok');
