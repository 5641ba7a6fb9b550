// Test hook: with ?report=URL in the page address, the client POSTs a JSON
// summary of what it receives to URL every second, so a test can tell from
// getStats() that video is decoded and audio is heard.

// FIRST_FRAME_POLL_MS is how often the page looks for a remote participant's
// first decoded video frame (and first packet), so that time to first frame
// is measured finer than the report interval. ?framepoll=MS polls faster
// for a test that measures it; polling every 10 ms throughout slows a page
// on a loaded machine enough that its reports stop coming.
const FIRST_FRAME_POLL_MS = 100;

export function startReporting(url, app, pollMs = FIRST_FRAME_POLL_MS) {
  let busy = false;
  // pid -> ms since the page's navigation started (performance.now()) at
  // which its first video frame was seen decoded.
  const firstFrames = new Map();
  const firstPackets = new Map();
  watchFirstFrames(app, firstFrames, firstPackets, pollMs);
  return setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      const body = JSON.stringify(await collect(app, firstFrames, firstPackets));
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

// watchFirstFrames records when each remote participant's video first has a
// packet and a decoded frame; it polls getStats only for receivers not yet
// seen decoding.
function watchFirstFrames(app, firstFrames, firstPackets, pollMs) {
  let busy = false;
  setInterval(async () => {
    const pc = app.session?.pc;
    if (busy || !pc || pc.connectionState === 'closed') return;
    busy = true;
    try {
      for (const [pid, list] of app.session.receivers()) {
        if (firstFrames.has(pid)) continue;
        for (const { kind, source, receiver } of list) {
          if (kind !== 'video' || source === 'screen') continue;
          const stats = await receiver.getStats();
          stats.forEach((s) => {
            if (s.type !== 'inbound-rtp') return;
            if (s.packetsReceived > 0 && !firstPackets.has(pid)) firstPackets.set(pid, performance.now());
            if (s.framesDecoded > 0 && !firstFrames.has(pid)) firstFrames.set(pid, performance.now());
          });
        }
      }
    } catch (err) {
      console.warn('switchyard: first-frame poll failed', err);
    } finally {
      busy = false;
    }
  }, pollMs);
}

async function collect(app, firstFrames, firstPackets) {
  const pc = app.session?.pc;
  const out = {
    browser: browserName(),
    userAgent: navigator.userAgent,
    id: app.id || '',
    room: app.room,
    time: Date.now(),
    sinceLoad: performance.now(),
    signaling: app.signalingState,
    node: app.node || '',
    reconnecting: !!app.reconnect,
    reconnects: app.reconnects || 0,
    timeline: app.timeline || {},
    connection: pc?.connectionState || '',
    ice: pc?.iceConnectionState || '',
    dominant: app.dominant || '',
    remotes: {},
    outbound: [],
    remoteInbound: [],
    candidatePairRtt: null,
    selectedPair: null,
    constraints: app.lastConstraints || null,
    errors: app.errors.slice(-20),
    // This page's own call state: mic/camera/share/recording, view, others' flags.
    call: app.callState?.() ?? null,
  };
  if (!pc || pc.connectionState === 'closed') return out;

  for (const [pid, list] of app.session.receivers()) {
    const r = (out.remotes[pid] = { e2eRtt: app.rtt?.latest.get(pid) ?? null, video: null, audio: null });
    for (const { kind, source, receiver } of list) {
      const stats = await receiver.getStats();
      stats.forEach((s) => {
        if (s.type !== 'inbound-rtp') return;
        if (kind === 'video') {
          // A shared screen is reported apart from the camera.
          r[source === 'screen' ? 'screen' : 'video'] = {
            framesDecoded: s.framesDecoded ?? 0,
            frameWidth: s.frameWidth ?? 0,
            frameHeight: s.frameHeight ?? 0,
            packetsLost: s.packetsLost ?? 0,
            packetsReceived: s.packetsReceived ?? 0,
            bytesReceived: s.bytesReceived ?? 0,
            framesPerSecond: s.framesPerSecond ?? 0,
            firstFrameMs: firstFrames.get(pid) ?? null,
            firstPacketMs: firstPackets.get(pid) ?? null,
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
  out.selectedPair = selectedPair(all);
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

// selectedPair describes the candidate pair the connection uses: Chromium
// names it in the transport's selectedCandidatePairId, Firefox marks the pair
// selected. relayProtocol (udp, tcp or tls) is how a relay candidate reaches
// its TURN server.
function selectedPair(all) {
  let pair = null;
  all.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = all.get(s.selectedCandidatePairId) || pair;
  });
  if (!pair) {
    all.forEach((s) => {
      if (s.type === 'candidate-pair' && s.selected && s.state === 'succeeded') pair = s;
    });
  }
  if (!pair) return null;
  const describe = (id) => {
    const c = all.get(id);
    if (!c) return null;
    return {
      candidateType: c.candidateType ?? '',
      protocol: c.protocol ?? '',
      relayProtocol: c.relayProtocol ?? '',
      address: c.address ?? c.ip ?? '',
      port: c.port ?? 0,
    };
  };
  return { state: pair.state ?? '', local: describe(pair.localCandidateId), remote: describe(pair.remoteCandidateId) };
}
