// The connection indicator on each tile, from what the page itself measures:
// the end-to-end RTT probe, inbound packet loss per track (getStats), and
// which simulcast layer arrives compared with how tall the tile is drawn.

import { tileKey } from './tracks.js';

const POLL_MS = 2000;

// lossBetween gives the fraction of packets lost between two inbound-rtp
// samples ({packetsLost, packetsReceived}); null when nothing was expected.
export function lossBetween(prev, cur) {
  if (!prev || !cur) return null;
  const lost = Math.max(0, (cur.packetsLost ?? 0) - (prev.packetsLost ?? 0));
  const got = Math.max(0, (cur.packetsReceived ?? 0) - (prev.packetsReceived ?? 0));
  return lost + got > 0 ? lost / (lost + got) : null;
}

// assess rates a tile's connection: level is 'good', 'fair', 'poor' or
// 'unknown' with the reasons behind it, fit for a tooltip.
// rtt: ms or null; loss: fraction or null; frameHeight: height of the video
// arriving (0 when none); wantHeight: device pixels the tile is drawn at;
// videoOn: whether video is expected at all (camera on).
export function assess({ rtt = null, loss = null, frameHeight = 0, wantHeight = 0, videoOn = true }) {
  const reasons = [];
  let level = 0; // 0 good, 1 fair, 2 poor
  const worse = (l, why) => {
    level = Math.max(level, l);
    reasons.push(why);
  };
  if (rtt != null) {
    const ms = Math.round(rtt);
    if (rtt > 400) worse(2, `round trip ${ms} ms`);
    else if (rtt > 200) worse(1, `round trip ${ms} ms`);
  }
  if (loss != null) {
    const pct = (loss * 100).toFixed(1);
    if (loss > 0.1) worse(2, `${pct}% packets lost`);
    else if (loss > 0.03) worse(1, `${pct}% packets lost`);
  }
  // A layer well below what the tile shows means the sender's uplink or the
  // node's budget for this receiver is short. Cameras rarely send above 720p.
  const want = Math.min(wantHeight, 720);
  if (videoOn && frameHeight > 0 && want >= 180 && frameHeight < want / 2) {
    worse(1, `receiving ${frameHeight}p for a ${Math.round(wantHeight)}p tile`);
  }
  if (rtt == null && loss == null && !(frameHeight > 0)) return { level: 'unknown', reasons: ['no measurements yet'] };
  if (reasons.length === 0) {
    const parts = [];
    if (rtt != null) parts.push(`round trip ${Math.round(rtt)} ms`);
    if (loss != null) parts.push(`${(loss * 100).toFixed(1)}% loss`);
    if (frameHeight > 0) parts.push(`${frameHeight}p`);
    reasons.push(parts.join(', '));
  }
  return { level: ['good', 'fair', 'poor'][level], reasons };
}

// QualityMonitor polls the receivers every two seconds and hands each tile
// key its assessment.
export class QualityMonitor {
  // receivers() returns the session's pid -> [{kind, source, receiver}];
  // rtt(pid) the probe's latest ms; want(key) the tile's drawn height;
  // videoOn(key) whether its camera is on; show(key, result) draws it.
  constructor({ receivers, rtt, want, videoOn, show }) {
    Object.assign(this, { receivers, rtt, want, videoOn, show });
    this.prev = new WeakMap(); // receiver -> last inbound-rtp sample
    this.timer = 0;
  }

  start() {
    this.stop();
    this.timer = setInterval(() => this.poll().catch(() => {}), POLL_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = 0;
  }

  async poll() {
    const byKey = new Map();
    const all = [];
    for (const [pid, list] of this.receivers()) {
      for (const r of list) all.push({ ...r, pid, key: tileKey(pid, r.source) });
    }
    for (const { key, pid, kind, receiver } of all) {
      const entry = byKey.get(key) || { pid, loss: null, frameHeight: 0, hasVideo: false };
      byKey.set(key, entry);
      let sample = null;
      (await receiver.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp') sample = s;
      });
      if (!sample) continue;
      const loss = lossBetween(this.prev.get(receiver), sample);
      this.prev.set(receiver, { packetsLost: sample.packetsLost, packetsReceived: sample.packetsReceived });
      if (loss != null) entry.loss = Math.max(entry.loss ?? 0, loss);
      if (kind === 'video') {
        entry.hasVideo = true;
        entry.frameHeight = sample.frameHeight ?? 0;
      }
    }
    for (const [key, e] of byKey) {
      this.show(key, assess({
        rtt: this.rtt(e.pid), loss: e.loss, frameHeight: e.frameHeight,
        wantHeight: this.want(key), videoOn: e.hasVideo && this.videoOn(key),
      }));
    }
  }
}
