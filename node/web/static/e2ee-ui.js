// End-to-end encryption on the room page: starts it (e2ee.js) before the
// page joins, marks the call as encrypted in the header, and shows on each
// tile whether its media decrypts.
import { E2EE, pickAPI } from './e2ee.js';
import { $, setStatus, showError } from './ui.js';

// startE2EE encrypts app's calls with passphrase. It returns false, having
// told the user, when this browser cannot: the page must not join then.
// #e2ee-api=script|streams picks how frames reach the worker (tests).
export async function startE2EE(app, passphrase) {
  const want = new URLSearchParams(String(globalThis.location?.hash || '').slice(1)).get('e2ee-api') || '';
  const e2ee = new E2EE({
    passphrase,
    room: app.room,
    api: pickAPI(globalThis, want),
    receivers: () => app.session?.receivers() || new Map(),
    onTile: (key, status) => app.grid?.setDecrypt(key, status),
  });
  setStatus('deriving the encryption keys…');
  const problem = await e2ee.start();
  if (problem) {
    showError(problem, true);
    setStatus('not connected');
    return false;
  }
  app.e2ee = e2ee;
  app.grid?.setLocalE2EE(true);
  const badge = $('e2ee-badge');
  badge.hidden = false;
  badge.title = `End-to-end encrypted with the room passphrase: the node forwards media it cannot read. ` +
    `Security code ${e2ee.code}, the same for everyone with this passphrase.`;
  return true;
}
