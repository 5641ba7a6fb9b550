package node_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/node"
	"github.com/switchyard/switchyard/node/internal/browsertest"
	"github.com/switchyard/switchyard/node/nodetest"
)

// TestBrowserSRTPGCM: Chromium and Firefox, one after the other, view a Go
// participant's video through WHEP and negotiate AEAD_AES_128_GCM with the
// node, as the DTLS hellos on the wire show, and decode the video under it;
// their own getStats() (transport srtpCipher) say so too. The node answers
// as the DTLS server, so the browser, as client, offers its profiles and
// the node's preference picks (Chromium, picking, takes
// AES_CM_128_HMAC_SHA1_80 whenever it is offered: found by this test).
func TestBrowserSRTPGCM(t *testing.T) {
	skipShort(t)
	n := nodetest.Start(t, nil)
	const room = "gcm"
	join(t, n, room, "pub", publishing)
	rig := newWHEPRig(t, n, room)
	for _, b := range []struct {
		name   string
		launch launcher
	}{{"chromium", browsertest.Chromium}, {"firefox", browsertest.Firefox}} {
		t.Run(b.name, func(t *testing.T) {
			var fromNode, fromBrowser helloSniffer
			pg := rig.page(t, b.name, func(toBrowser bool, d []byte) bool {
				if toBrowser {
					fromNode.inspect(d)
				} else {
					fromBrowser.inspect(d)
				}
				return true
			})
			br := b.launch(t, rig.url(b.name))
			r := pg.waitFor(t, br, "video decoded", func(r pageReport) error {
				if r.Video == nil || r.Video.FramesDecoded < 30 {
					return fmt.Errorf("connection %q, video %+v", r.Connection, r.Video)
				}
				return nil
			})
			seen, err := checkNodeProfiles(&fromNode, &fromBrowser, b.name+"'s handshake with the node")
			if err != nil {
				t.Fatal(err)
			}
			cipher, _ := r.Transport["srtpCipher"].(string)
			t.Logf("%s: %s; %d frames decoded; getStats() transport srtpCipher %q", b.name, seen, r.Video.FramesDecoded, cipher)
			// The handshake above is the proof: the node's ServerHello
			// selected the profile. getStats() confirms it where the
			// browser has transport statistics: Chromium does; Firefox
			// 140 ESR has none at all (no "transport" type).
			if cipher == "" && !slices.Contains(r.Types, "transport") && b.name == "firefox" {
				t.Logf("%s has no transport statistics (stats types %v): the handshake alone shows the profile", b.name, r.Types)
				return
			}
			// Chromium and Firefox name the profile as the IANA registry
			// does, with the SRTP_ prefix.
			if name := strings.TrimPrefix(cipher, "SRTP_"); name != "AEAD_AES_128_GCM" {
				t.Errorf("%s's getStats() says srtpCipher %q, want AEAD_AES_128_GCM (transport %v, stats types %v)",
					b.name, cipher, r.Transport, r.Types)
			}
		})
	}
}

// whepViewPage is a WHEP viewer of the room's video. It offers through the
// test's server (whepRig.relay), and POSTs its video's inbound-rtp
// statistics, its transport statistics and the statistics types it has to
// the test every half second.
const whepViewPage = `<!doctype html><meta charset="utf-8"><title>WHEP view</title>
<video id="v" autoplay muted playsinline></video>
<script type="module">
const tag = new URLSearchParams(location.search).get("tag");
const errors = [];
let pc;
addEventListener("error", (e) => errors.push(String(e.message)));
addEventListener("unhandledrejection", (e) => errors.push(String(e.reason)));
async function report() {
  const out = {browser: /Firefox\//.test(navigator.userAgent) ? "firefox" : "chromium",
    connection: pc ? pc.connectionState : "starting", errors, video: null, transport: null, types: []};
  if (pc) {
    const types = new Set();
    (await pc.getStats()).forEach((s) => {
      types.add(s.type);
      if (s.type === "inbound-rtp" && s.kind === "video") out.video = s;
      if (s.type === "transport") out.transport = s;
    });
    out.types = [...types].sort();
  }
  await fetch("/report/" + tag, {method: "POST", body: JSON.stringify(out)});
}
setInterval(() => report().catch((e) => errors.push("report: " + e)), 500);
try {
  pc = new RTCPeerConnection();
  pc.addTransceiver("video", {direction: "recvonly"});
  pc.ontrack = (e) => {
    const v = document.getElementById("v");
    v.srcObject = new MediaStream([e.track]);
    v.play().catch(() => {});
  };
  await pc.setLocalDescription(await pc.createOffer());
  const res = await fetch("/whep/" + tag, {method: "POST", headers: {"Content-Type": "application/sdp"}, body: pc.localDescription.sdp});
  if (!res.ok) throw new Error("WHEP " + res.status + ": " + await res.text());
  await pc.setRemoteDescription({type: "answer", sdp: await res.text()});
} catch (e) { errors.push(String(e)); }
</script>`

// pageReport is what whepViewPage POSTs.
type pageReport struct {
	Browser    string         `json:"browser"`
	Connection string         `json:"connection"`
	Errors     []string       `json:"errors"`
	Video      *inboundVideo  `json:"video"`
	Transport  map[string]any `json:"transport"`
	Types      []string       `json:"types"`
}

// inboundVideo is the part of an inbound-rtp entry the tests read; a
// pointer is a figure the browser may not have.
type inboundVideo struct {
	Timestamp                    float64  `json:"timestamp"` // ms since the epoch
	PacketsReceived              int64    `json:"packetsReceived"`
	PacketsLost                  int64    `json:"packetsLost"`
	RetransmittedPacketsReceived *int64   `json:"retransmittedPacketsReceived"`
	RTXSSRC                      *uint32  `json:"rtxSsrc"`
	NackCount                    int64    `json:"nackCount"`
	PliCount                     int64    `json:"pliCount"`
	FramesDecoded                int64    `json:"framesDecoded"`
	KeyFramesDecoded             *int64   `json:"keyFramesDecoded"`
	FreezeCount                  *int64   `json:"freezeCount"`
	TotalFreezesDuration         *float64 `json:"totalFreezesDuration"`
	FrameWidth                   int      `json:"frameWidth"`
}

// whepRig serves whepViewPage and relays its WHEP offers to the node's
// /whep/{room}, rewriting each answer's candidates so that the page's
// connection goes through a UDP proxy of the page's own, where the test
// sees and may drop every datagram.
type whepRig struct {
	n    *node.Node
	room string
	srv  *httptest.Server

	mu    sync.Mutex
	pages map[string]*whepView // by tag
}

// whepView is one page: its proxy, what the node's answer said and the
// page's latest report.
type whepView struct {
	tag   string
	proxy *udpProxy

	mu      sync.Mutex
	media   uint32 // the video SSRCs the node's answer announces
	rtx     uint32
	latest  pageReport
	raw     []byte
	reports int
}

func newWHEPRig(t *testing.T, n *node.Node, room string) *whepRig {
	t.Helper()
	r := &whepRig{n: n, room: room, pages: make(map[string]*whepView)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /view.html", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, whepViewPage)
	})
	mux.HandleFunc("POST /whep/{tag}", r.relay)
	mux.HandleFunc("POST /report/{tag}", r.report)
	r.srv = httptest.NewServer(mux)
	t.Cleanup(r.srv.Close)
	return r
}

// page prepares the page tagged tag, whose datagrams pass through filter
// (toBrowser: from the node; false drops the datagram), before its browser
// opens url(tag).
func (r *whepRig) page(t *testing.T, tag string, filter func(toBrowser bool, b []byte) bool) *whepView {
	t.Helper()
	p, err := newUDPProxy(filter)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	v := &whepView{tag: tag, proxy: p}
	r.mu.Lock()
	r.pages[tag] = v
	r.mu.Unlock()
	return v
}

func (r *whepRig) url(tag string) string { return r.srv.URL + "/view.html?tag=" + tag }

func (r *whepRig) view(tag string) *whepView {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pages[tag]
}

// relay passes a page's offer to the node and the node's answer back, its
// UDP candidates moved to the page's proxy (and any others left out).
func (r *whepRig) relay(w http.ResponseWriter, req *http.Request) {
	v := r.view(req.PathValue("tag"))
	if v == nil {
		http.NotFound(w, req)
		return
	}
	offer, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	resp, err := http.Post(r.n.URL()+"/whep/"+r.room, "application/sdp", bytes.NewReader(offer))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		http.Error(w, fmt.Sprintf("node: %s: %s (%v)", resp.Status, answer, err), http.StatusBadGateway)
		return
	}
	sdp, nodeAddr, err := viaProxy(string(answer), v.proxy.addr())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	v.proxy.setNode(nodeAddr)
	media, rtx := fidSSRCs(sdp)
	v.mu.Lock()
	v.media, v.rtx = media, rtx
	v.mu.Unlock()
	w.Header().Set("Content-Type", "application/sdp")
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, sdp)
}

func (r *whepRig) report(w http.ResponseWriter, req *http.Request) {
	v := r.view(req.PathValue("tag"))
	if v == nil {
		http.NotFound(w, req)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	var rep pageReport
	if err := json.Unmarshal(body, &rep); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	v.mu.Lock()
	v.latest, v.raw = rep, body
	v.reports++
	v.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// ssrcs are the video SSRCs of the node's answer: media and RTX (0 if none).
func (v *whepView) ssrcs() (media, rtx uint32) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.media, v.rtx
}

func (v *whepView) last() (pageReport, string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.latest, string(v.raw)
}

// waitFor polls the page's reports until cond accepts one (page errors
// fail at once), and returns it; it fails the test after browserWait or if
// the browser exits.
func (v *whepView) waitFor(t *testing.T, b *browsertest.Browser, what string, cond func(pageReport) error) pageReport {
	t.Helper()
	deadline := time.Now().Add(browserWait)
	for {
		r, raw := v.last()
		if len(r.Errors) > 0 {
			t.Fatalf("waiting for %s: %s page errors: %q", what, v.tag, r.Errors)
		}
		err := errors.New("no report yet")
		if raw != "" {
			if err = cond(r); err == nil {
				return r
			}
		}
		if gone, werr := b.Exited(); gone {
			t.Fatalf("waiting for %s: %s exited early (%v); last report: %s", what, b.Name, werr, raw)
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not reached within %v: %v; last report: %s", what, browserWait, err, raw)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// viaProxy moves an SDP's UDP candidates to proxy (IPv4 loopback) and
// drops the others; it returns the node's address the first UDP candidate
// named.
func viaProxy(sdp string, proxy netip.AddrPort) (string, netip.AddrPort, error) {
	var node netip.AddrPort
	var out []string
	for _, line := range strings.Split(sdp, "\r\n") {
		if rest, ok := strings.CutPrefix(line, "a=candidate:"); ok {
			f := strings.Fields(rest)
			if len(f) < 8 || !strings.EqualFold(f[2], "udp") {
				continue
			}
			ap, err := netip.ParseAddrPort(net.JoinHostPort(f[4], f[5]))
			if err != nil {
				return "", node, fmt.Errorf("candidate %q: %w", line, err)
			}
			if !ap.Addr().Is4() {
				continue
			}
			if !node.IsValid() {
				node = ap
			}
			f[4], f[5] = proxy.Addr().String(), strconv.Itoa(int(proxy.Port()))
			line = "a=candidate:" + strings.Join(f, " ")
		}
		out = append(out, line)
	}
	if !node.IsValid() {
		return "", node, errors.New("the answer has no IPv4 UDP candidate")
	}
	return strings.Join(out, "\r\n"), node, nil
}

// fidSSRCs reads the first a=ssrc-group:FID line: the media SSRC and its
// RTX SSRC.
func fidSSRCs(sdp string) (media, rtx uint32) {
	for _, line := range strings.Split(sdp, "\r\n") {
		if rest, ok := strings.CutPrefix(line, "a=ssrc-group:FID "); ok {
			f := strings.Fields(rest)
			if len(f) == 2 {
				m, _ := strconv.ParseUint(f[0], 10, 32)
				r, _ := strconv.ParseUint(f[1], 10, 32)
				return uint32(m), uint32(r)
			}
		}
	}
	return 0, 0
}

// udpProxy relays datagrams between browsers and the node on loopback:
// each browser address gets a socket of its own towards the node, so the
// node sees one peer per browser address. filter sees every datagram and
// may drop it.
type udpProxy struct {
	conn   *net.UDPConn // towards the browsers
	filter func(toBrowser bool, b []byte) bool

	mu   sync.Mutex
	node netip.AddrPort
	legs map[netip.AddrPort]*net.UDPConn // by browser address
	done bool
	wg   sync.WaitGroup
}

func newUDPProxy(filter func(toBrowser bool, b []byte) bool) (*udpProxy, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	p := &udpProxy{conn: c, filter: filter, legs: make(map[netip.AddrPort]*net.UDPConn)}
	p.wg.Add(1)
	go p.fromBrowsers()
	return p, nil
}

func (p *udpProxy) addr() netip.AddrPort {
	return p.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

func (p *udpProxy) setNode(a netip.AddrPort) {
	p.mu.Lock()
	p.node = a
	p.mu.Unlock()
}

func (p *udpProxy) fromBrowsers() {
	defer p.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, from, err := p.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		leg := p.leg(from)
		if leg == nil || !p.filter(false, buf[:n]) {
			continue
		}
		_, _ = leg.Write(buf[:n])
	}
}

// leg is the socket towards the node for a browser address, nil before the
// node's address is known.
func (p *udpProxy) leg(browser netip.AddrPort) *net.UDPConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l := p.legs[browser]; l != nil || p.done || !p.node.IsValid() {
		return l
	}
	l, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, net.UDPAddrFromAddrPort(p.node))
	if err != nil {
		return nil
	}
	p.legs[browser] = l
	p.wg.Add(1)
	go p.toBrowser(l, browser)
	return l
}

func (p *udpProxy) toBrowser(l *net.UDPConn, browser netip.AddrPort) {
	defer p.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, err := l.Read(buf)
		if err != nil {
			return
		}
		if p.filter(true, buf[:n]) {
			_, _ = p.conn.WriteToUDPAddrPort(buf[:n], browser)
		}
	}
}

func (p *udpProxy) close() {
	p.mu.Lock()
	p.done = true
	p.conn.Close()
	for _, l := range p.legs {
		l.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// rtpSSRC returns an RTP packet's SSRC and payload type, from its header
// (in the clear under SRTP); ok is false for anything but RTP (RTCP, STUN,
// DTLS).
func rtpSSRC(b []byte) (ssrc uint32, pt uint8, ok bool) {
	if len(b) < 12 || b[0]&0xc0 != 0x80 || b[1] >= 192 && b[1] <= 223 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint32(b[8:]), b[1] & 0x7f, true
}
