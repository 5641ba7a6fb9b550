// Test hooks, active only with ?report=URL (report.js posts the page's stats
// there). They let a real-browser test drive the call without a mouse:
//   window.__switchyard         the page's state; .controls.toggleMic() etc.
//   window.__lastRecording      the last local recording (a WebM Blob)
//   POST ${report}/recording    the same file, as soon as a recording stops
//   &record=SECONDS             record that long, starting 2 s after joining
//   &share=1                    share the screen once joined
// and add the call's own state to every report (report.js: `call`).

const RECORD_DELAY_MS = 2000;

export function startTestHooks(report, params, app) {
  window.__switchyard = app;
  app.onRecording = (blob) => {
    window.__lastRecording = blob;
    fetch(`${report}/recording`, { method: 'POST', mode: 'no-cors', body: blob }).catch((err) => {
      app.errors.push(`recording upload failed: ${err.message || err}`);
    });
  };
  app.callState = () => callState(app);

  const seconds = Number(params.get('record'));
  const share = params.get('share') === '1';
  if (!(seconds > 0) && !share) return;
  const joined = setInterval(() => {
    if (!app.id || !app.session || !app.controls) return;
    clearInterval(joined);
    if (share) app.controls.toggleShare();
    if (seconds > 0) {
      setTimeout(async () => {
        await app.controls.toggleRecord();
        setTimeout(() => app.controls.stopRecording(), Math.min(seconds, 600) * 1000);
      }, RECORD_DELAY_MS);
    }
  }, 100);
}

// callState summarises what the page shows and does, for the reports.
export function callState(app) {
  const c = app.controls;
  const participants = {};
  for (const [id, p] of app.participants) {
    participants[id] = { mic_off: p.mic_off, camera_off: p.camera_off, sharing: p.sharing, recording: p.recording, e2ee: p.e2ee };
  }
  return {
    local: c ? { ...c.state } : null,
    view: app.grid?.view || '',
    main: app.grid?.main || '',
    canShare: !!app.session?.canShare,
    participants,
    tiles: tileState(app.grid),
    recordings: c?.recordings || 0,
    lastRecording: c?.lastRecording || null,
    recordingMimeType: c?.recorder?.mimeType || '',
    e2ee: e2eeState(app),
    // The node's recording (serverrec.js): serverRecording, its reason,
    // whether this page shows the moderator's button, and so on.
    ...(c?.serverRec.testState() ?? { serverRecording: false, serverRecordingReason: '', serverRecordingControl: false }),
  };
}

// e2eeState is end-to-end encryption as the page runs it: on or not, how
// frames reach the worker, the codecs the page sends with (no RED, VP8),
// the frames encrypted, decrypted and dropped, and the header badge.
function e2eeState(app) {
  const e = app.e2ee;
  if (!e) return { on: false };
  const codecs = {};
  for (const [source, t] of Object.entries(app.session?.senders || {})) {
    codecs[source] = t.sender?.getParameters?.().codecs?.[0]?.mimeType || '';
  }
  return { on: true, api: e.api, codecs, badge: !document.getElementById('e2ee-badge')?.hidden, ...e.totals() };
}

// tileState is what each tile shows, read from the page itself: the avatar
// instead of video, the muted and recording marks, and where it is placed.
function tileState(grid) {
  const out = {};
  if (!grid) return out;
  for (const [key, tile] of grid.allTiles()) {
    const r = grid.layout.get(key) || { role: 'hidden', w: 0, h: 0 };
    out[key] = {
      noVideo: tile.el.classList.contains('no-video'),
      micOff: !tile.micEl.hidden,
      recording: !tile.recEl.hidden,
      locked: !tile.lockEl.hidden, // the end-to-end encryption lock
      cannotDecrypt: tile.noteEl.hidden ? '' : tile.noteEl.textContent,
      role: tile.el.hidden ? 'hidden' : r.role,
      width: Math.round(r.w),
      height: Math.round(r.h),
    };
  }
  return out;
}
