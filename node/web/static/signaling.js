// The JSON-over-WebSocket channel to the node (docs/protocol.md).

// signalingURL gives the node's WebSocket on the page's own origin, wss: when
// the page came over https:.
export function signalingURL(loc = window.location) {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}/ws`;
}

export class Signaling {
  // With debug set, every message in and out is written to the console,
  // which the browser tests capture.
  constructor(url, { debug = false } = {}) {
    this.url = url;
    this.debug = debug;
    this.ws = null;
    this.handlers = new Map();
    // Called once with (code, reason) when the socket closes for any reason.
    this.onclose = null;
    // Called with a description when the node sends something unparseable.
    this.onbad = null;
  }

  on(type, fn) {
    this.handlers.set(type, fn);
    return this;
  }

  open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      let opened = false;
      ws.onopen = () => {
        opened = true;
        resolve();
      };
      ws.onerror = () => {
        if (!opened) reject(new Error(`cannot reach the node at ${this.url}`));
      };
      ws.onclose = (e) => {
        if (!opened) reject(new Error(`cannot reach the node at ${this.url}`));
        const cb = this.onclose;
        this.onclose = null;
        cb?.(e.code, e.reason);
      };
      ws.onmessage = (e) => this.dispatch(e.data);
    });
  }

  dispatch(text) {
    if (this.debug) console.log('switchyard: <-', text);
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      this.onbad?.('the node sent a message that is not JSON');
      return;
    }
    if (!msg || typeof msg.type !== 'string') {
      this.onbad?.('the node sent a message without a type');
      return;
    }
    const fn = this.handlers.get(msg.type);
    if (fn) {
      fn(msg);
    } else {
      console.warn('switchyard: ignoring message of type', msg.type);
    }
  }

  send(msg) {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    const text = JSON.stringify(msg);
    if (this.debug) console.log('switchyard: ->', text);
    this.ws.send(text);
    return true;
  }

  // close ends the channel without reporting it through onclose: the caller
  // chose to go.
  close(reason = 'leaving') {
    this.onclose = null;
    this.ws?.close(1000, reason);
  }
}
