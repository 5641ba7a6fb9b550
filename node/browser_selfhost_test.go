package node_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchyard/switchyard/certs/acmetest"
	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/node"
	"github.com/switchyard/switchyard/node/internal/browsertest"
	"github.com/switchyard/switchyard/node/nodetest"
	"github.com/switchyard/switchyard/node/signal"
)

// Real browsers against a self-hosted node: HTTPS with a certificate they
// trust, and media that may only go through the node's TURN server, over TCP
// and over TLS.

// TestBrowserHTTPS: Chromium opens the room over HTTPS, trusting exactly the
// node's certificate, and exchanges media with a Go participant that trusts
// the certificate's CA: once with certificate files from a test CA (where a
// second Chromium without the trust must never get the page to run), once
// with a certificate the node obtains through ACME from pebble.
func TestBrowserHTTPS(t *testing.T) {
	skipShort(t)
	t.Run("certificate files", func(t *testing.T) {
		certFile, keyFile, pool := testCA(t, t.TempDir())
		n := nodetest.Start(t, func(c *node.Config) { c.TLS.CertFile, c.TLS.KeyFile = certFile, keyFile })
		trust := browsertest.TrustCertificate(leafCert(t, certFile))
		runHTTPSPage(t, n, n.URL(), trust, &tls.Config{RootCAs: pool}, true)
	})
	t.Run("ACME", func(t *testing.T) {
		const domain = "switchyard.test"
		httpAddr := freeTCPAddr(t)
		_, port, _ := net.SplitHostPort(httpAddr)
		tlsPort, _ := strconv.Atoi(port)
		// pebble validates by tls-alpn-01 on the node's HTTPS port.
		ca := acmetest.Start(t, acmetest.Options{TLSPort: tlsPort})
		n := nodetest.Start(t, func(c *node.Config) {
			c.HTTPAddr = httpAddr
			c.TLS.ACMEDomains, c.TLS.ACMEDirectory, c.TLS.ACMERootCAs = []string{domain}, ca.DirectoryURL, ca.DirectoryRoots
			c.TLS.CacheDir = t.TempDir()
		})
		// The first handshake for the name orders the certificate.
		goTLS := &tls.Config{RootCAs: ca.IssuerRoots, ServerName: domain}
		start := time.Now()
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 30 * time.Second}, "tcp", httpAddr, goTLS)
		if err != nil {
			t.Fatalf("handshake for %s (orders the certificate): %v", domain, err)
		}
		leaf := conn.ConnectionState().PeerCertificates[0]
		conn.Close()
		t.Logf("ACME: certificate for %v from %s issued and served in %v", leaf.DNSNames, leaf.Issuer.CommonName, time.Since(start).Round(time.Millisecond))
		trust := browsertest.TrustCertificate(leaf)
		// Chromium reaches the name on loopback and checks the certificate
		// against it, as a visitor of a real deployment would.
		trust.ChromiumFlags = append(trust.ChromiumFlags, "--host-resolver-rules=MAP "+domain+" 127.0.0.1")
		runHTTPSPage(t, n, "https://"+domain+":"+port, trust, goTLS, false)
	})
}

// runHTTPSPage opens base's room page in Chromium (with trust) next to a
// publishing Go participant (with goTLS) and waits for media both ways; with
// checkUntrusted a second Chromium without the trust must not run the page.
func runHTTPSPage(t *testing.T, n *node.Node, base string, trust browsertest.Options, goTLS *tls.Config, checkUntrusted bool) {
	if !strings.HasPrefix(n.URL(), "https://") {
		t.Fatalf("node URL %s, want https", n.URL())
	}
	room := strings.ReplaceAll(t.Name(), "/", "-")
	goPeer := join(t, n, room, "go", func(o *client.Options) { publishing(o); o.TLS = goTLS })

	rep := browsertest.NewReporter(t)
	page := func(tag string) string {
		q := url.Values{"name": {tag}, "report": {rep.URL(tag)}, "debug": {"1"}}
		return base + "/r/" + room + "?" + q.Encode()
	}
	watch := []*browsertest.Browser{trust.Chromium(t, page("trusted"))}
	if checkUntrusted {
		// Same flags minus the trust: Chromium stops at its certificate
		// interstitial, so the page's script never runs and never reports.
		watch = append(watch, browsertest.Chromium(t, page("untrusted")))
	}
	untrustedRan := func(m map[string]browsertest.Report) error {
		if r := m["untrusted"]; r.ID != "" || r.Browser != "" {
			return fmt.Errorf("Chromium ran the page without trusting its certificate: %+v", r)
		}
		return nil
	}

	rep.WaitFor(t, browserWait, "Chromium to decode the Go participant's video over HTTPS", func(m map[string]browsertest.Report) error {
		if err := untrustedRan(m); err != nil {
			return err
		}
		r := m["trusted"]
		if r.ID == "" {
			return fmt.Errorf("%w: the page has not joined", browsertest.ErrPending)
		}
		v := r.Remotes[goPeer.ID()].Video
		if v == nil || v.FramesDecoded == 0 {
			return fmt.Errorf("%w: no video decoded from %s", browsertest.ErrPending, goPeer.ID())
		}
		return nil
	}, watch...)
	pageID := rep.Latest()["trusted"].ID
	waitFor(t, browserWait, "the Go participant to receive Chromium's media", func() (bool, string) {
		s := goPeer.Received()[pageID]
		return s.VideoPackets > 30 && s.Keyframes > 0 && s.AudioPackets > 20, streamString(s)
	})
	if err := untrustedRan(rep.Latest()); err != nil {
		t.Fatal(err)
	}
	v := rep.Latest()["trusted"].Remotes[goPeer.ID()].Video
	t.Logf("%s: Chromium decoded %d frames %dx%d from the Go participant, the first %s after page load; the Go participant got %s",
		base, v.FramesDecoded, v.FrameWidth, v.FrameHeight, ms(v.FirstFrameMs), streamString(goPeer.Received()[pageID]))
}

// TestBrowserTURN: Chromium and Firefox may use only relay candidates
// (?relay=1), and the node's TURN server offers one transport at a time:
// plain TCP, then TLS. Each browser must decode the other's video, and its
// own getStats() must show the selected pair's local candidate is a relay
// reached over that transport. Browsers that do not trust the node's
// certificate get no relay over TLS, and without TURN the pages never connect.
func TestBrowserTURN(t *testing.T) {
	skipShort(t)
	certFile, keyFile, pool := testCA(t, t.TempDir())
	leaf := leafCert(t, certFile)
	const secret = "turn-browser-secret-0123456789"

	t.Run("tcp", func(t *testing.T) {
		n := nodetest.Start(t, func(c *node.Config) {
			c.TURN.Secret, c.TURN.Host, c.TURN.TCPAddr = secret, "127.0.0.1", freeTCPAddr(t)
		})
		runRelayPair(t, n, browsertest.Options{}, "tcp")
	})

	// Only the turns: URL is handed out, so a connection at all proves TURN
	// over TLS works in both browsers. Its host is localhost, not 127.0.0.1:
	// Firefox drops a turns: URL naming an IP address ("TLS requires FQDN,
	// not IP address"); localhost is still only loopback.
	t.Run("tls", func(t *testing.T) {
		turnAddr := freeTCPAddr(t)
		n := nodetest.Start(t, func(c *node.Config) {
			c.TLS.CertFile, c.TLS.KeyFile = certFile, keyFile
			c.TURN.Secret, c.TURN.Host, c.TURN.TLSAddr = secret, "localhost", turnAddr
		})
		_, port, _ := net.SplitHostPort(turnAddr)
		// The page over HTTPS and the turns: listener each need trusting.
		trust := browsertest.TrustCertificate(leaf, strings.TrimPrefix(n.URL(), "https://"), "localhost:"+port)
		t.Run("media", func(t *testing.T) { runRelayPair(t, n, trust, "tls") })
		t.Run("certificate checked", func(t *testing.T) { turnsNeedsTrust(t, n, pool, trust) })
	})

	t.Run("no turn", func(t *testing.T) {
		runRelayRefused(t, nodetest.Start(t, nil))
	})
}

// gatherPage gathers relay candidates from the one TURN server in its query
// and POSTs what it got (or the errors) to /result, with no media and no
// node page: enough to see whether a browser gets a TURN allocation at all.
const gatherPage = `<!doctype html><script type="module">
const q = new URLSearchParams(location.search);
const browser = /Firefox\//.test(navigator.userAgent) ? 'firefox' : 'chromium';
const candidates = [], errors = [];
let sent = false;
const send = () => {
  if (sent) return;
  sent = true;
  fetch('/result?tag=' + q.get('tag'), {method: 'POST', body: JSON.stringify({browser, candidates, errors})});
};
try {
  const pc = new RTCPeerConnection({iceTransportPolicy: 'relay',
    iceServers: [{urls: q.get('turn'), username: q.get('user'), credential: q.get('pass')}]});
  pc.onicecandidate = (e) => {
    if (!e.candidate) return send();
    if (e.candidate.candidate) candidates.push(e.candidate.candidate);
    if (/ typ relay/.test(e.candidate.candidate)) send();
  };
  pc.onicecandidateerror = (e) => errors.push(e.errorCode + ' ' + e.errorText + ' ' + e.url);
  pc.createDataChannel('probe');
  await pc.setLocalDescription(await pc.createOffer());
} catch (err) { errors.push(String(err)); send(); }
// Firefox does not always end gathering when its TURN server fails; a
// trusted server answers within milliseconds.
setTimeout(send, 6000);
</script>`

// gatherResult is what gatherPage POSTs.
type gatherResult struct {
	Browser    string   `json:"browser"`
	Candidates []string `json:"candidates"`
	Errors     []string `json:"errors"`
}

// turnsNeedsTrust: with the credentials the node hands out in joined, a
// browser gets a relay candidate from the node's turns: URL only when it
// trusts the node's certificate. So the TLS is really checked, and trust is
// what lets the browsers through: Chromium's TURN client honours
// --ignore-certificate-errors-spki-list, Firefox's a cert_override.txt entry
// for the TURN host and port. Chromium with trust is the control that the
// probe itself works.
func turnsNeedsTrust(t *testing.T, n *node.Node, pool *x509.CertPool, trust browsertest.Options) {
	ws, _, err := (&websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}}).Dial(wsURL(n), nil)
	if err != nil {
		t.Fatalf("dial %s: %v", wsURL(n), err)
	}
	defer ws.Close()
	if err := ws.WriteJSON(signal.Message{Type: signal.TypeJoin, Room: "probe", Name: "probe"}); err != nil {
		t.Fatal(err)
	}
	var joined signal.Message
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for joined.Type != signal.TypeJoined {
		if err := ws.ReadJSON(&joined); err != nil {
			t.Fatalf("waiting for joined: %v", err)
		}
	}
	if len(joined.IceServers) != 1 || len(joined.IceServers[0].URLs) != 1 || !strings.HasPrefix(joined.IceServers[0].URLs[0], "turns:localhost:") {
		t.Fatalf("joined hands out %+v, want one turns:localhost URL", joined.IceServers)
	}
	ice := joined.IceServers[0]

	type result struct {
		tag string
		res gatherResult
	}
	results := make(chan result, 4)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/gather":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, gatherPage)
		case "/result":
			var res gatherResult
			if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&res); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			results <- result{r.URL.Query().Get("tag"), res}
		default:
			http.NotFound(w, r)
		}
	}))
	defer page.Close()

	cases := map[string]struct {
		launch    launcher
		wantRelay bool
	}{
		"chromium trusting":     {trust.Chromium, true},
		"chromium not trusting": {browsertest.Chromium, false},
		"firefox not trusting":  {browsertest.Firefox, false},
	}
	start := time.Now()
	var watch []*browsertest.Browser
	for tag, tc := range cases {
		q := url.Values{"tag": {tag}, "turn": {ice.URLs[0]}, "user": {ice.Username}, "pass": {ice.Credential}}
		watch = append(watch, tc.launch(t, page.URL+"/gather?"+q.Encode()))
	}
	deadline := time.After(browserWait)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for seen := 0; seen < len(cases); {
		select {
		case got := <-results:
			seen++
			relays := 0
			for _, c := range got.res.Candidates {
				if strings.Contains(c, " typ relay") {
					relays++
				}
			}
			t.Logf("%s after %v: %d relay candidates; errors %q", got.tag, time.Since(start).Round(100*time.Millisecond), relays, got.res.Errors)
			if want := cases[got.tag].wantRelay; (relays > 0) != want {
				t.Errorf("%s: relay candidates %q, want some: %v", got.tag, got.res.Candidates, want)
			}
		case <-tick.C:
			for _, b := range watch {
				if gone, err := b.Exited(); gone {
					t.Fatalf("%s exited early: %v", b.Name, err)
				}
			}
		case <-deadline:
			t.Fatalf("only %d of %d browsers reported their candidates within %v", seen, len(cases), browserWait)
		}
	}
}

// relayPages opens Chromium (tag a) and Firefox (tag b) on room with ?relay=1.
func relayPages(t *testing.T, n *node.Node, opts browsertest.Options) (*browsertest.Reporter, []*browsertest.Browser) {
	rep := browsertest.NewReporter(t)
	room := strings.ReplaceAll(t.Name(), "/", "-")
	page := func(tag string) string {
		q := url.Values{"name": {tag}, "report": {rep.URL(tag)}, "relay": {"1"}, "debug": {"1"}}
		return n.URL() + "/r/" + room + "?" + q.Encode()
	}
	a := opts.Chromium(t, page("a"))
	b := opts.Firefox(t, page("b"))
	watch := []*browsertest.Browser{a, b}
	rep.WaitFor(t, browserWait, "both pages to join", func(m map[string]browsertest.Report) error {
		for _, tag := range []string{"a", "b"} {
			if m[tag].ID == "" {
				return fmt.Errorf("%w: page %s has not joined", browsertest.ErrPending, tag)
			}
		}
		return nil
	}, watch...)
	return rep, watch
}

func runRelayPair(t *testing.T, n *node.Node, opts browsertest.Options, wantProto string) {
	rep, watch := relayPages(t, n, opts)
	tags := []string{"a", "b"}
	rep.WaitFor(t, browserWait, "each browser to decode the other's video through TURN", func(m map[string]browsertest.Report) error {
		for _, p := range pairs(m, tags) {
			if p.remote.Video == nil || p.remote.Video.FramesDecoded == 0 {
				return fmt.Errorf("%w: %s (%s) has decoded no video from %s; ice %q", browsertest.ErrPending, p.tag, p.self.Browser, p.peerID, p.self.ICE)
			}
			if err := relayedOver(p.self, wantProto); err != nil {
				return err
			}
		}
		return nil
	}, watch...)

	// The received bitrate over a few seconds of steady flow.
	const window = 3 * time.Second
	before := rep.Latest()
	time.Sleep(window)
	var after map[string]browsertest.Report
	rep.WaitFor(t, browserWait, "fresh reports", func(m map[string]browsertest.Report) error {
		for _, tag := range tags {
			if m[tag].Time-before[tag].Time < float64(window.Milliseconds()) {
				return browsertest.ErrPending
			}
		}
		after = m
		return nil
	}, watch...)
	for i, p := range pairs(after, tags) {
		was, now := before[p.tag].Remotes[p.peerID].Video, p.remote.Video
		if now == nil || was == nil {
			t.Errorf("%s (%s) lost the video from %s", p.tag, p.self.Browser, p.peerID)
			continue
		}
		if now.FramesDecoded <= was.FramesDecoded {
			t.Errorf("%s (%s): frames decoded from %s stuck at %d", p.tag, p.self.Browser, p.peerID, now.FramesDecoded)
		}
		if err := relayedOver(p.self, wantProto); err != nil {
			t.Error(err)
			continue
		}
		kbps := float64(now.BytesReceived-was.BytesReceived) * 8 / (p.self.Time - before[p.tag].Time)
		l := p.self.SelectedPair.Local
		t.Logf("TURN/%s %s: first frame %s after its page loaded (%s after the later of the two pages loaded); %.0f kbit/s video received over %v, %d frames %dx%d at %.0f fps, %d lost; local candidate %s/%s relayProtocol %q %s:%d",
			wantProto, p.self.Browser, ms(now.FirstFrameMs), sinceBothLoaded(p.self, after[tags[1-i]], now.FirstFrameMs),
			kbps, window, now.FramesDecoded, now.FrameWidth, now.FrameHeight,
			now.FramesPerSecond, now.PacketsLost, l.CandidateType, l.Protocol, l.RelayProtocol, l.Address, l.Port)
	}
}

// relayedOver checks a page's selected candidate pair: its local candidate
// must be a relay, and where the browser says how it reaches the TURN
// server, that must be proto.
func relayedOver(r browsertest.Report, proto string) error {
	sp := r.SelectedPair
	if sp == nil || sp.Local == nil {
		return fmt.Errorf("%w: %s reports no selected candidate pair", browsertest.ErrPending, r.Browser)
	}
	if sp.Local.CandidateType != "relay" {
		return fmt.Errorf("%s's selected local candidate is %+v, want a relay", r.Browser, *sp.Local)
	}
	if !strings.HasPrefix(sp.Local.Address, "127.") {
		return fmt.Errorf("%s's relay candidate %s is not on loopback", r.Browser, sp.Local.Address)
	}
	// Both browsers name how they reach the TURN server (Firefox 153 too).
	if sp.Local.RelayProtocol != proto {
		return fmt.Errorf("%s relays over %q, want %q", r.Browser, sp.Local.RelayProtocol, proto)
	}
	return nil
}

// runRelayRefused: with relay only and no TURN server the browsers have no
// candidate to offer, so they must never connect or decode anything.
func runRelayRefused(t *testing.T, n *node.Node) {
	rep, watch := relayPages(t, n, browsertest.Options{})
	const hold = 5 * time.Second
	err := waitErr(rep, hold, func(m map[string]browsertest.Report) error {
		for _, p := range pairs(m, []string{"a", "b"}) {
			if p.self.Connection == "connected" || (p.remote.Video != nil && p.remote.Video.FramesDecoded > 0) {
				return fmt.Errorf("%s (%s) connected without a TURN server: connection %q, video %+v", p.tag, p.self.Browser, p.self.Connection, p.remote.Video)
			}
		}
		return browsertest.ErrPending
	}, watch)
	if !errors.Is(err, browsertest.ErrPending) {
		t.Fatal(err)
	}
	for _, tag := range []string{"a", "b"} {
		r := rep.Latest()[tag]
		t.Logf("no TURN: %s after %v: connection %q, ice %q", r.Browser, hold, r.Connection, r.ICE)
	}
}

// waitErr polls cond for d and returns its first non-pending error, or its
// last result when d passes.
func waitErr(rep *browsertest.Reporter, d time.Duration, cond func(map[string]browsertest.Report) error, watch []*browsertest.Browser) error {
	deadline := time.Now().Add(d)
	for {
		err := cond(rep.Latest())
		if !errors.Is(err, browsertest.ErrPending) || time.Now().After(deadline) {
			return err
		}
		for _, b := range watch {
			if gone, werr := b.Exited(); gone {
				return fmt.Errorf("%s exited early: %v", b.Name, werr)
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// leafCert reads the first certificate of a PEM file.
func leafCert(t *testing.T, certFile string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s holds no PEM block", certFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("parse %s: %v", certFile, err)
	}
	return cert
}

// freeTCPAddr is a loopback address with a TCP port free a moment ago.
func freeTCPAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// sinceBothLoaded is when self first decoded other's video, counted from
// the later of the two pages' loads: the first page waits for the second to
// start publishing, which page-load time alone would charge to the path.
// Both browsers run on this machine, so their clocks agree.
func sinceBothLoaded(self, other browsertest.Report, firstFrame *float64) string {
	if firstFrame == nil {
		return "n/a"
	}
	selfLoad, otherLoad := self.Time-self.SinceLoad, other.Time-other.SinceLoad
	d := selfLoad + *firstFrame - max(selfLoad, otherLoad)
	return ms(&d)
}

func ms(f *float64) string {
	if f == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.0f ms", *f)
}
