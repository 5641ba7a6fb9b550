// The one RTCPeerConnection to the node. The client offers once, to publish;
// after that the node offers whenever tracks come or go and the client
// answers. Every step that touches the descriptions runs through one queue so
// that offers, answers and candidates are applied strictly in arrival order.

import { cleanTracks, diffIncoming, mapIncoming, sourcesFor } from './tracks.js';

// Three simulcast layers, smallest first, as the node expects (rids q/h/f).
export const SIMULCAST = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', maxBitrate: 1_500_000 },
];

// A share is sent as one stream of up to this many bits per second.
export const SCREEN_BITRATE = 2_500_000;

// tuneScreen keeps text sharp: one encoding at the share bitrate, and
// frames dropped before resolution when the link is short.
async function tuneScreen(sender) {
  try {
    const p = sender.getParameters();
    if (!p.encodings?.length) p.encodings = [{}];
    p.encodings[0].maxBitrate = SCREEN_BITRATE;
    p.degradationPreference = 'maintain-resolution';
    await sender.setParameters(p);
  } catch (err) {
    // Firefox refuses some of these; the share still goes out.
    console.warn('switchyard: screen sender parameters', err);
  }
}

export class Session {
  // events: onTrack(pid, source, track, mid), onTrackGone(pid, source, mid),
  // onSettled(mids) after each negotiation, with whose each m-line is now,
  // onOffered() once the first offer is out,
  // onState(connectionState), onError(text).
  constructor(sig, events) {
    this.sig = sig;
    this.ev = events;
    this.pc = null;
    this.queue = Promise.resolve();
    this.pendingCandidates = [];
    // mid -> {pid, source, kind, receiver}: whose each receiving m-line is.
    this.mids = new Map();
    this.streamIds = new Map(); // mid -> {streamId, trackId} seen in ontrack
    this.tracks = null; // the last node offer's tracks map, cleaned
    this.senders = {}; // source -> the transceiver publishing it
    this.e2ee = null; // E2EE (e2ee.js) of an encrypted call
    this.closed = false;
  }

  // start creates the connection, adds what the client publishes and sends
  // the client's first and only offer. local: {mic, cam} tracks (either may
  // be null: turned off or missing) and the stream naming them. With
  // opts.publish the offer always carries a mic and a camera m-line (a track
  // can be put on them later without renegotiating) and, with opts.screen, a
  // third video m-line for screen sharing; without it, one recvonly audio
  // m-line. opts.iceServers are the node's TURN servers; opts.relayOnly
  // forces every path through them (?relay=1). opts.e2ee (an E2EE,
  // e2ee.js) encrypts everything sent and decrypts everything received.
  start(local, opts = {}) {
    const e2ee = (this.e2ee = opts.e2ee || null);
    const pc = new RTCPeerConnection({
      bundlePolicy: 'max-bundle',
      rtcpMuxPolicy: 'require',
      iceServers: opts.iceServers || [],
      iceTransportPolicy: opts.relayOnly ? 'relay' : 'all',
      ...e2ee?.pcConfig(),
    });
    this.pc = pc;
    pc.onicecandidate = (e) => {
      if (!e.candidate) {
        this.sig.send({ type: 'candidate' });
      } else if (e.candidate.candidate) {
        // Firefox marks the end of each m-line's gathering with an empty
        // candidate; the null candidate above already says it for all.
        this.sig.send({ type: 'candidate', candidate: e.candidate.toJSON() });
      }
    };
    pc.ontrack = (e) => this.handleTrack(e);
    pc.onconnectionstatechange = () => this.ev.onState?.(pc.connectionState);

    const streams = local?.stream ? [local.stream] : [];
    this.senders = {};
    if (opts.publish) {
      this.senders.mic = pc.addTransceiver(local?.mic || 'audio', { direction: 'sendonly', streams });
      this.senders.camera = pc.addTransceiver(local?.cam || 'video', {
        direction: 'sendonly', streams, sendEncodings: SIMULCAST,
      });
      if (opts.screen) {
        // No track yet and one encoding: a share is sent whole, never simulcast.
        this.senders.screen = pc.addTransceiver('video', {
          direction: 'sendonly', sendEncodings: [{ maxBitrate: SCREEN_BITRATE }],
        });
      }
    } else {
      e2ee?.receiver(pc.addTransceiver('audio', { direction: 'recvonly' }).receiver, 'audio');
    }
    for (const [source, t] of Object.entries(this.senders)) e2ee?.sender(t, source === 'mic' ? 'audio' : 'video');

    this.enqueue('send the first offer', async () => {
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      const msg = { type: 'offer', sdp: pc.localDescription.sdp };
      // Mids exist only now, after setLocalDescription.
      const sources = sourcesFor(this.senders);
      if (Object.keys(sources).length) msg.sources = sources;
      this.sig.send(msg);
      this.ev.onOffered?.();
    });
  }

  // canShare says whether the first offer carried a screen m-line.
  get canShare() {
    return !!this.senders?.screen;
  }

  // setSource puts track (or null: stop sending) on the mic, camera or
  // screen m-line, without renegotiating.
  async setSource(source, track) {
    const t = this.senders?.[source];
    if (!t || this.closed) return false;
    await t.sender.replaceTrack(track);
    if (source === 'screen' && track) await tuneScreen(t.sender);
    return true;
  }

  onAnswer(sdp) {
    this.enqueue('apply the answer', async () => {
      await this.pc.setRemoteDescription({ type: 'answer', sdp });
      await this.flushCandidates();
      this.reconcile();
    });
  }

  // onOffer answers the node's offer; tracks is its mid -> {publisher,
  // source} map (absent from older nodes).
  onOffer(sdp, tracks) {
    this.enqueue('answer the offer', async () => {
      this.tracks = cleanTracks(tracks);
      await this.pc.setRemoteDescription({ type: 'offer', sdp });
      this.e2ee?.beforeAnswer(this.pc);
      await this.flushCandidates();
      const answer = await this.pc.createAnswer();
      await this.pc.setLocalDescription(answer);
      this.sig.send({ type: 'answer', sdp: this.pc.localDescription.sdp });
      this.reconcile();
    });
  }

  onCandidate(candidate) {
    // The node's end-of-candidates needs no action: ICE completes without it.
    if (!candidate?.candidate) return;
    this.enqueue('add a candidate', async () => {
      if (!this.pc.remoteDescription) {
        this.pendingCandidates.push(candidate);
        return;
      }
      await this.addCandidate(candidate);
    });
  }

  async flushCandidates() {
    const pending = this.pendingCandidates;
    this.pendingCandidates = [];
    for (const c of pending) await this.addCandidate(c);
  }

  async addCandidate(c) {
    try {
      await this.pc.addIceCandidate(c);
    } catch (err) {
      // One bad candidate must not stop the others.
      console.warn('switchyard: candidate refused', c.candidate, err);
    }
  }

  enqueue(what, task) {
    this.queue = this.queue.then(async () => {
      if (this.closed) return;
      try {
        await task();
      } catch (err) {
        this.ev.onError?.(`Could not ${what}: ${err.message || err}`);
      }
    });
  }

  // handleTrack only notes the stream and track ids, which name the
  // publisher when the node's offer has no tracks map; reconcile decides.
  handleTrack(e) {
    const mid = e.transceiver?.mid;
    if (mid == null) return;
    // Chromium's createEncodedStreams wants receivers set up right here.
    this.e2ee?.receiver(e.receiver, e.track?.kind);
    this.streamIds.set(mid, { streamId: e.streams[0]?.id || '', trackId: e.track?.id || '' });
  }

  // reconcile works out whose each receiving m-line is now, after every
  // negotiation: the node reuses m-lines for other publishers and sets them
  // inactive when a track goes, and browsers differ in which events (if any)
  // they fire for that, so the negotiated directions and the offer's tracks
  // map are the one source of truth.
  reconcile() {
    const receiving = [];
    const byMid = new Map();
    for (const t of this.pc.getTransceivers()) {
      const dir = t.currentDirection;
      if (t.stopped || t.mid == null || (dir !== 'recvonly' && dir !== 'sendrecv')) continue;
      this.e2ee?.receiver(t.receiver, t.receiver.track.kind);
      const ids = this.streamIds.get(t.mid) || {};
      receiving.push({ mid: t.mid, kind: t.receiver.track.kind, ...ids });
      byMid.set(t.mid, t.receiver);
    }
    const next = mapIncoming(receiving, this.tracks);
    const { gone, added } = diffIncoming(this.mids, next);
    this.mids = new Map([...next].map(([mid, m]) => [mid, { ...m, receiver: byMid.get(mid) }]));
    for (const g of gone) this.ev.onTrackGone?.(g.pid, g.source, g.mid);
    for (const a of added) this.ev.onTrack?.(a.pid, a.source, byMid.get(a.mid).track, a.mid);
    this.ev.onSettled?.(this.mids);
  }

  // receivers lists, per publisher id, the receivers carrying its media.
  receivers() {
    const out = new Map();
    for (const [mid, info] of this.mids) {
      if (!out.has(info.pid)) out.set(info.pid, []);
      out.get(info.pid).push({ mid, kind: info.kind, source: info.source, receiver: info.receiver });
    }
    return out;
  }

  close() {
    this.closed = true;
    this.pc?.close();
  }
}
