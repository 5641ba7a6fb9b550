// End-to-end round-trip time to each remote participant, measured with
// ping/pong endpoint messages relayed by the node (browser -> node -> peer
// browser and back), so it includes both legs and the node's own delay.

const INTERVAL_MS = 2000;
// Pings not answered within this long are forgotten.
const EXPIRE_MS = 10_000;

export class RttProbe {
  // send(to, payload) sends an endpoint message; onRtt(pid, ms) gets results.
  constructor(send, onRtt) {
    this.send = send;
    this.onRtt = onRtt;
    this.seq = 0;
    this.outstanding = new Map(); // `${pid}/${seq}` -> time sent
    this.latest = new Map(); // pid -> ms
    this.timer = 0;
  }

  // start pings every peer listed by peers() every two seconds.
  start(peers) {
    this.stop();
    this.timer = setInterval(() => this.tick(peers()), INTERVAL_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = 0;
  }

  tick(pids) {
    const now = performance.now();
    for (const [key, t] of this.outstanding) {
      if (now - t > EXPIRE_MS) this.outstanding.delete(key);
    }
    for (const pid of pids) {
      const seq = ++this.seq;
      this.outstanding.set(`${pid}/${seq}`, now);
      // rtt: our last measurement to this peer, so the node can show it.
      const last = this.latest.get(pid);
      const ping = { kind: 'ping', seq, t: now };
      if (last !== undefined) ping.rtt = Math.round(last * 10) / 10;
      this.send(pid, ping);
    }
  }

  // handle answers pings and takes pongs; it returns false for payloads that
  // are not part of the probe.
  handle(from, payload) {
    if (payload?.kind === 'ping') {
      this.send(from, { kind: 'pong', seq: payload.seq, t: payload.t });
      return true;
    }
    if (payload?.kind !== 'pong') return false;
    // Time from our own record, not the echoed t, so a peer cannot fake it.
    const key = `${from}/${payload.seq}`;
    const sent = this.outstanding.get(key);
    if (sent === undefined) return true;
    this.outstanding.delete(key);
    const ms = performance.now() - sent;
    this.latest.set(from, ms);
    this.onRtt(from, ms);
    return true;
  }

  forget(pid) {
    this.latest.delete(pid);
  }
}
