// The room page's state: everything the page knows, in one object that
// the modules are handed (controls, reports and test hooks read it too).

// newApp returns the state of a page that has not joined yet; errors is
// the list of errors shown (ui.js), which the reports carry.
export function newApp(errors) {
  return {
    id: '',
    room: '',
    name: '',
    token: '', // join token from the page's URL, where the node requires one
    relayOnly: false, // ?relay=1: every path through the node's TURN servers
    grants: null, // what the node lets this participant do, from joined
    region: '',
    node: '',
    dominant: '',
    signalingState: 'idle',
    lastConstraints: null,
    errors, // shown and reported errors, shared with ui.js
    participants: new Map(), // id -> participant object (participants.js)
    media: null, // LocalMedia: this browser's camera and microphone
    controls: null, // CallControls
    people: null, // PeoplePanel
    quality: null, // QualityMonitor
    sig: null,
    session: null,
    grid: null,
    rtt: null,
    leaving: false,
    debug: false,
    url: '', // signaling URL of the node the client is on
    fallback: [], // other nodes' signaling URLs, from the last `joined`
    inCall: false, // joined at least once and not left: a loss is rejoined
    reconnect: null, // a Reconnect while rejoining after a loss
    reconnects: 0, // successful rejoins, for report.js
    // When the page first reached each step of joining, ms since its
    // navigation (joinSent, joined, offerSent, answer, nodeOffer,
    // connected), for report.js.
    timeline: {},
    redirects: 0, // redirects followed since the last join
    fatal: '', // code of a fatal error from the current node
    e2ee: null, // E2EE (e2ee.js) when the call is encrypted end to end
    // mark notes when the page first reached a step of joining and returns
    // true, so that it can lead an expression.
    mark(step) {
      this.timeline[step] ??= performance.now();
      return true;
    },
    peerIds() {
      return [...this.participants.keys()];
    },
  };
}
