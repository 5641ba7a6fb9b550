// Encryption asked for (#e2ee=) in a browser that cannot encrypt: the page
// says so and never opens signaling, so it never joins in the clear.
import { sockets, $, until, check } from './harness.mjs';

location.hash = '#e2ee=s3cret';
await import('./app.js');
await until('refusal shown', () => $('errors').children.some((li) => li.text.includes('cannot encrypt')));
await new Promise((r) => setTimeout(r, 20));
check(sockets.length === 0, 'signaling opened: ' + sockets.map((s) => s.url));
check($('status').textContent === 'not connected', 'status "' + $('status').textContent + '"');
console.log('ok');
process.exit(0);
