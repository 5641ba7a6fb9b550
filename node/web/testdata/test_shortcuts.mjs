// Shortcuts: one key each, never while typing or with a modifier.
import { eq } from './assert.mjs';
import { installShortcuts, shortcutFor } from './shortcuts.js';

const body = { tagName: 'BODY' };
const cases = [
  [{ key: 'm', target: body }, 'mic'],
  [{ key: 'M', target: body }, 'mic'],
  [{ key: 'v', target: body }, 'camera'],
  [{ key: 's', target: body }, 'share'],
  [{ key: 'g', target: body }, 'view'],
  [{ key: 'f', target: body }, 'fullscreen'],
  [{ key: 'r', target: body }, 'record'],
  [{ key: '?', shiftKey: true, target: body }, 'help'],
  [{ key: 'm', target: { tagName: 'BUTTON' } }, 'mic'],
  [{ key: 'm', target: { tagName: 'INPUT' } }, null],
  [{ key: 'm', target: { tagName: 'textarea' } }, null],
  [{ key: 'm', target: { tagName: 'SELECT' } }, null],
  [{ key: 'm', target: { tagName: 'DIV', isContentEditable: true } }, null],
  [{ key: 's', ctrlKey: true, target: body }, null],
  [{ key: 'r', metaKey: true, target: body }, null],
  [{ key: 'f', altKey: true, target: body }, null],
  [{ key: 'M', shiftKey: true, target: body }, null],
  [{ key: 'm', repeat: true, target: body }, null],
  [{ key: 'x', target: body }, null],
  [{ key: 'Enter', target: body }, null],
];
for (const [e, want] of cases) eq(shortcutFor(e), want, `shortcutFor(${JSON.stringify(e)})`);

const target = { addEventListener(t, fn) { this.fn = fn; }, removeEventListener() { this.fn = null; } };
const did = [];
const off = installShortcuts(target, { mic: () => did.push('mic') });
let prevented = 0;
const press = (key, tag) => target.fn({ key, target: { tagName: tag }, preventDefault: () => prevented++ });
press('m', 'BODY');
press('m', 'INPUT');
press('v', 'BODY'); // no action wired
eq([did, prevented], [['mic'], 1], 'installed handler');
off();
eq(target.fn, null, 'uninstalled');
console.log('ok');
