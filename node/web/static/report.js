// Test hook: with ?report=URL in the page address, the client POSTs a JSON
// summary of what it receives to URL every second, so a test can tell from
// getStats() that video is decoded and audio is heard.

export function startReporting(url, app) {
  let busy = false;
  return setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      const body = JSON.stringify(await collect(app));
      await fetch(url, { method: 'POST', mode: 'no-cors', body });
    } catch (err) {
      console.warn('switchyard: report failed', err);
    } finally {
      busy = false;
    }
  }, 1000);
}

export function browserName() {
  const ua = navigator.userAgent;
  if (/Firefox\//.test(ua)) return 'firefox';
  if (/Chrom(e|ium)\//.test(ua)) return 'chromium';
  return 'other';
}

async function collect(app) {
  const pc = app.session?.pc;
  const out = {
    browser: browserName(),
    userAgent: navigator.userAgent,
    id: app.id || '',
    room: app.room,
    time: Date.now(),
    signaling: app.signalingState,
    node: app.node || '',
    reconnecting: !!app.reconnect,
    reconnects: app.reconnects || 0,
    connection: pc?.connectionState || '',
    ice: pc?.iceConnectionState || '',
    dominant: app.dominant || '',
    remotes: {},
    outbound: [],
    remoteInbound: [],
    candidatePairRtt: null,
    constraints: app.lastConstraints || null,
    errors: app.errors.slice(-20),
  };
  if (!pc || pc.connectionState === 'closed') return out;

  for (const [pid, list] of app.session.receivers()) {
    const r = (out.remotes[pid] = { e2eRtt: app.rtt?.latest.get(pid) ?? null, video: null, audio: null });
    for (const { kind, receiver } of list) {
      const stats = await receiver.getStats();
      stats.forEach((s) => {
        if (s.type !== 'inbound-rtp') return;
        if (kind === 'video') {
          r.video = {
            framesDecoded: s.framesDecoded ?? 0,
            frameWidth: s.frameWidth ?? 0,
            frameHeight: s.frameHeight ?? 0,
            packetsLost: s.packetsLost ?? 0,
            packetsReceived: s.packetsReceived ?? 0,
            bytesReceived: s.bytesReceived ?? 0,
          };
        } else {
          r.audio = {
            totalSamplesReceived: s.totalSamplesReceived ?? 0,
            totalAudioEnergy: s.totalAudioEnergy ?? 0,
            concealedSamples: s.concealedSamples ?? 0,
            packetsLost: s.packetsLost ?? 0,
            packetsReceived: s.packetsReceived ?? 0,
          };
        }
      });
    }
  }
  // Peers that have a tile but no media yet still show up, with their RTT.
  for (const pid of app.peerIds()) {
    out.remotes[pid] ??= { e2eRtt: app.rtt?.latest.get(pid) ?? null, video: null, audio: null };
  }

  const all = await pc.getStats();
  all.forEach((s) => {
    if (s.type === 'outbound-rtp') {
      out.outbound.push({
        kind: s.kind, rid: s.rid ?? '', bytesSent: s.bytesSent ?? 0,
        framesEncoded: s.framesEncoded ?? null, frameHeight: s.frameHeight ?? null,
        qualityLimitationReason: s.qualityLimitationReason ?? null,
      });
    } else if (s.type === 'remote-inbound-rtp') {
      out.remoteInbound.push({ kind: s.kind, roundTripTime: s.roundTripTime ?? null });
    } else if (s.type === 'candidate-pair' && (s.nominated || s.selected) && s.state === 'succeeded') {
      if (s.currentRoundTripTime != null) out.candidatePairRtt = s.currentRoundTripTime;
    }
  });
  return out;
}
