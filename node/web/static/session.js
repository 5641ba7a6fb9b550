// The one RTCPeerConnection to the node. The client offers once, to publish;
// after that the node offers whenever tracks come or go and the client
// answers. Every step that touches the descriptions runs through one queue so
// that offers, answers and candidates are applied strictly in arrival order.

// Three simulcast layers, smallest first, as the node expects (rids q/h/f).
export const SIMULCAST = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', maxBitrate: 1_500_000 },
];

export class Session {
  // events: onTrack(pid, kind, track, mid), onTrackGone(pid, kind, mid),
  // onState(connectionState), onError(text).
  constructor(sig, events) {
    this.sig = sig;
    this.ev = events;
    this.pc = null;
    this.queue = Promise.resolve();
    this.pendingCandidates = [];
    // mid -> {pid, kind, receiver}: which publisher each receiving m-line carries.
    this.mids = new Map();
    this.closed = false;
  }

  // start creates the connection, adds what the client publishes and sends
  // the client's first and only offer. opts.iceServers are the node's TURN
  // servers; opts.relayOnly forces every path through them (?relay=1).
  start(localStream, opts = {}) {
    const pc = new RTCPeerConnection({
      bundlePolicy: 'max-bundle',
      rtcpMuxPolicy: 'require',
      iceServers: opts.iceServers || [],
      iceTransportPolicy: opts.relayOnly ? 'relay' : 'all',
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

    const audio = localStream?.getAudioTracks()[0];
    const video = localStream?.getVideoTracks()[0];
    const streams = localStream ? [localStream] : [];
    if (audio) pc.addTransceiver(audio, { direction: 'sendonly', streams });
    if (video) {
      pc.addTransceiver(video, { direction: 'sendonly', streams, sendEncodings: SIMULCAST });
    }
    if (!audio && !video) pc.addTransceiver('audio', { direction: 'recvonly' });

    this.enqueue('send the first offer', async () => {
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      this.sig.send({ type: 'offer', sdp: pc.localDescription.sdp });
    });
  }

  onAnswer(sdp) {
    this.enqueue('apply the answer', async () => {
      await this.pc.setRemoteDescription({ type: 'answer', sdp });
      await this.flushCandidates();
      this.reconcile();
    });
  }

  onOffer(sdp) {
    this.enqueue('answer the offer', async () => {
      await this.pc.setRemoteDescription({ type: 'offer', sdp });
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

  handleTrack(e) {
    const mid = e.transceiver?.mid;
    const stream = e.streams[0];
    if (!stream || mid == null) {
      console.warn('switchyard: track without a stream or mid; cannot tell whose it is');
      return;
    }
    const pid = stream.id;
    const kind = e.track.kind;
    const prev = this.mids.get(mid);
    if (prev && prev.pid !== pid) this.ev.onTrackGone?.(prev.pid, prev.kind, mid);
    this.mids.set(mid, { pid, kind, receiver: e.receiver });
    this.ev.onTrack?.(pid, kind, e.track, mid);
  }

  // reconcile drops m-lines that no longer receive: the node sets an m-line
  // inactive when its track goes, and browsers differ in which events (if any)
  // they fire for that, so the negotiated direction is the one source of truth.
  reconcile() {
    const receiving = new Set();
    for (const t of this.pc.getTransceivers()) {
      const dir = t.currentDirection;
      if (!t.stopped && t.mid != null && (dir === 'recvonly' || dir === 'sendrecv')) {
        receiving.add(t.mid);
      }
    }
    for (const [mid, info] of this.mids) {
      if (!receiving.has(mid)) {
        this.mids.delete(mid);
        this.ev.onTrackGone?.(info.pid, info.kind, mid);
      }
    }
  }

  // receivers lists, per publisher id, the receivers carrying its media.
  receivers() {
    const out = new Map();
    for (const [mid, info] of this.mids) {
      if (!out.has(info.pid)) out.set(info.pid, []);
      out.get(info.pid).push({ mid, kind: info.kind, receiver: info.receiver });
    }
    return out;
  }

  close() {
    this.closed = true;
    this.pc?.close();
  }
}
