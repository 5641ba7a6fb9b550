// Rejoining after the node is lost: which node to try next, and when. The
// node lists the other nodes of its cascade in `joined.fallback`; the client
// tries them in order, then the lost node itself (it may only have
// blipped), a few rounds each with a growing pause, and then gives up.

export const ROUNDS = 3;
const BASE_MS = 250;
const MAX_MS = 4000;
const MAX_URL = 2048;

// usableURL accepts only WebSocket addresses: a fallback list comes from
// the network and must not send the page anywhere else.
export function usableURL(u) {
  return typeof u === 'string' && u.length <= MAX_URL && /^wss?:\/\/[^\s/?#]+(\/[^\s]*)?$/.test(u);
}

export class Reconnect {
  // fallback: URLs from the last `joined`; lost: the URL of the node that
  // went away. random is replaceable so tests get fixed delays.
  constructor(fallback, lost, { rounds = ROUNDS, random = Math.random } = {}) {
    const list = Array.isArray(fallback) ? fallback : [];
    this.urls = [...new Set([...list, lost].filter(usableURL))];
    this.rounds = rounds;
    this.random = random;
    this.attempt = 0;
    this.timer = 0;
  }

  // next returns {url, delay, round} for the next try, or null once every
  // URL has been tried `rounds` times. The pause doubles each round, with a
  // little jitter so that a room full of clients does not arrive at once.
  next() {
    if (this.attempt >= this.urls.length * this.rounds) return null;
    const i = this.attempt++;
    const round = Math.floor(i / this.urls.length);
    const delay = Math.min(MAX_MS, BASE_MS * 2 ** round) + Math.floor(this.random() * BASE_MS);
    return { url: this.urls[i % this.urls.length], delay, round: round + 1 };
  }

  cancel() {
    clearTimeout(this.timer);
    this.timer = 0;
  }
}
