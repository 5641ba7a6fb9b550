// The node's recording of the conference ("server-recording" in
// docs/protocol.md), not to be confused with a participant's local recording
// (recorder.js, the Record button, REC marks on tiles): a banner everyone
// sees while the node records, late joiners too; the reason, for a while,
// when it stopped on an error; and, for a moderator only, a button that
// starts and stops it. The rules are pure functions (tested under node);
// ServerRecording applies them to the page.

export const BANNER_TEXT = '● Recording — this meeting is being recorded by the server';
// How long the reason a recording stopped on stays in the banner.
export const NOTICE_MS = 10_000;
// How long a moderator's request may go unanswered before the button is
// usable again (the node answers a request it need not act on with nothing).
export const PENDING_MS = 10_000;
const MAX_TEXT = 200;

const text = (v) => (typeof v === 'string' ? v.slice(0, MAX_TEXT) : '');

// initialState is a conference the page knows nothing about: not recorded.
export function initialState() {
  // on: the node records; reason: why the last recording stopped, if on an
  // error; notice: the reason is still shown; pending: 'start' or 'stop'
  // while a request of this page's is unanswered; error: the node refused it.
  return { on: false, reason: '', notice: false, pending: '', error: '' };
}

// reduce returns the state after one message from the node, or the state
// as it was when the message is not about the server recording. The node
// leaves out "on" when false (omitempty): anything but true is off.
export function reduce(state, msg) {
  if (msg?.type === 'server-recording') {
    const on = msg.on === true;
    const reason = on ? '' : text(msg.reason);
    return { on, reason, notice: !!reason, pending: '', error: '' };
  }
  // "recording" only ever answers a server-recording request; "forbidden"
  // answers many things, so only while this page waits for an answer.
  if (msg?.type === 'error' && (msg.code === 'recording' || (msg.code === 'forbidden' && state.pending))) {
    return { ...state, pending: '', error: text(msg.reason) || text(msg.code) || 'refused' };
  }
  return state;
}

// request is what a moderator's click does: the message to send (null when
// a request is already under way) and the state meanwhile.
export function request(state) {
  if (state.pending) return { state, msg: null };
  const on = !state.on;
  return { state: { ...state, pending: on ? 'start' : 'stop', error: '' }, msg: { type: 'server-recording', on } };
}

// announcement is the chat line for a change, or '' for none.
export function announcement(prev, next) {
  if (next.on && !prev.on) return 'The server is recording this meeting.';
  if (!next.on && prev.on) {
    return next.reason ? `The server recording stopped: ${next.reason}` : 'The server stopped recording this meeting.';
  }
  return '';
}

// view is what the page shows for state: the banner (for everyone) and the
// start/stop button (for a moderator only).
export function view(state, { moderator = false } = {}) {
  let banner = { hidden: true, text: '', stopped: false };
  if (state.on) banner = { hidden: false, text: BANNER_TEXT, stopped: false };
  else if (state.notice && state.reason) banner = { hidden: false, text: `⚠ Server recording stopped: ${state.reason}`, stopped: true };
  const busy = state.pending === 'start' ? 'Starting…' : state.pending === 'stop' ? 'Stopping…' : '';
  const button = {
    hidden: !moderator,
    pressed: state.on,
    disabled: !!state.pending,
    text: busy || (state.on ? 'Stop server rec' : 'Server rec'),
    label: state.on
      ? 'Stop the server recording of this meeting (moderator)'
      : 'Record this meeting on the server, for everyone (moderator; everyone is told)',
  };
  return { banner, button };
}

export class ServerRecording {
  // banner and button are the page's elements (either may be missing);
  // send(msg) sends to the node and returns false when it could not;
  // moderator() says whether this participant may start and stop; chat(text)
  // and error(text) tell the user.
  constructor({ banner, button, send, moderator, chat = () => {}, error = () => {} }) {
    Object.assign(this, { banner, button, send, moderator, chat, error });
    this.state = initialState();
    this.noticeTimer = null;
    this.pendingTimer = null;
  }

  wire() {
    if (this.button) this.button.onclick = () => this.toggle();
    this.render();
  }

  // toggle starts the recording, or stops it; moderators only.
  toggle() {
    if (!this.moderator()) return false;
    const { state, msg } = request(this.state);
    if (!msg) return false;
    if (!this.send(msg)) {
      this.error('Not connected: the server recording was not changed.');
      return false;
    }
    this.set(state);
    clearTimeout(this.pendingTimer);
    this.pendingTimer = setTimeout(() => this.state.pending && this.set({ ...this.state, pending: '' }), PENDING_MS);
    return true;
  }

  // onMessage takes the node's server-recording messages.
  onMessage(m) {
    const next = reduce(this.state, m);
    const said = announcement(this.state, next);
    if (said) this.chat(said);
    this.set(next);
    clearTimeout(this.noticeTimer);
    if (next.notice) this.noticeTimer = setTimeout(() => this.set({ ...this.state, notice: false }), NOTICE_MS);
  }

  // onNodeError takes the refusals of this page's requests; true when it
  // handled the error.
  onNodeError(m) {
    const next = reduce(this.state, m);
    if (next === this.state) return false;
    this.set(next);
    this.error(`Server recording: ${next.error}.`);
    return true;
  }

  // reset forgets the recording (the page left the node; the next node
  // says whether it records).
  reset() {
    clearTimeout(this.noticeTimer);
    clearTimeout(this.pendingTimer);
    this.set(initialState());
  }

  set(state) {
    this.state = state;
    this.render();
  }

  render() {
    const v = view(this.state, { moderator: !!this.moderator() });
    const b = this.banner;
    if (b) {
      b.hidden = v.banner.hidden;
      b.textContent = v.banner.text;
      b.classList?.toggle('stopped', v.banner.stopped);
    }
    const btn = this.button;
    if (btn) {
      btn.hidden = v.button.hidden;
      btn.disabled = v.button.disabled;
      btn.title = v.button.label;
      btn.setAttribute?.('aria-pressed', String(v.button.pressed));
      btn.setAttribute?.('aria-label', v.button.label);
      const t = btn.querySelector?.('.label');
      if (t) t.textContent = v.button.text;
    }
  }

  // testState is what the test reports carry (testhooks.js).
  testState() {
    const s = this.state;
    return {
      serverRecording: s.on,
      serverRecordingReason: s.reason,
      serverRecordingBanner: this.banner && !this.banner.hidden ? this.banner.textContent : '',
      serverRecordingControl: !!this.button && !this.button.hidden,
      serverRecordingPending: s.pending,
      serverRecordingError: s.error,
    };
  }
}
