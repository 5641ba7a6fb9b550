//go:build linux

package node_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"

	"github.com/switchyard/switchyard/node/internal/browsertest"
)

// A browser behind a real link of its own: a network namespace for the
// browser, a veth pair from the test's namespace to it, and tc's tbf to cap
// what the node sends it. Everything is torn down when the test ends.

// cappedLink is the browser's namespace and the veth pair that reaches it.
type cappedLink struct {
	ipBin, tcBin string
	ns           string // network namespace name (ip netns)
	nsPath       string // its file, for setns
	nodeIf       string // veth end in the test's namespace
	browserIf    string // veth end in the browser's namespace
	nodeIP       string
	browserIP    string
	prefix       string // the pair's network, for the node's allowed networks
}

// Addresses of the pair: a private /30 that only exists between the two
// namespaces, so its traffic never leaves the machine.
const (
	cappedNodeIP    = "10.231.77.1"
	cappedBrowserIP = "10.231.77.2"
	cappedPrefix    = "10.231.77.0/30"
)

// cappedEnvFail ends the test when the machine cannot build the link: a
// skip, or a failure when SWITCHYARD_REQUIRE_BROWSERS=1 demands the test run.
func cappedEnvFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(browsertest.RequireEnv) == "1" {
		t.Fatalf("%s (%s=1)", msg, browsertest.RequireEnv)
	}
	t.Skipf("%s; set %s=1 to make this a failure", msg, browsertest.RequireEnv)
}

// newCappedLink builds the browser's namespace and the veth pair. It insists
// on running where only loopback is up (the private namespace node tests run
// in), so that it never adds interfaces or routes to a real host.
func newCappedLink(t *testing.T) *cappedLink {
	t.Helper()
	l := &cappedLink{nodeIP: cappedNodeIP, browserIP: cappedBrowserIP, prefix: cappedPrefix}
	var err error
	if l.ipBin, err = exec.LookPath("ip"); err != nil {
		cappedEnvFail(t, "capped link: ip (iproute2) not found: %v", err)
	}
	if l.tcBin, err = exec.LookPath("tc"); err != nil {
		cappedEnvFail(t, "capped link: tc (iproute2) not found: %v", err)
	}
	if os.Geteuid() != 0 {
		cappedEnvFail(t, "capped link: needs root to build a network namespace and a veth pair (run inside `unshare -n`, as root)")
	}
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatalf("capped link: list interfaces: %v", err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagUp != 0 && i.Flags&net.FlagLoopback == 0 {
			cappedEnvFail(t, "capped link: interface %s is up here: run this test in a private network namespace "+
				"(unshare -n sh -c 'ip link set lo up && ip route add default dev lo && go test ...')", i.Name)
		}
	}

	suffix := cappedRandomHex(t, 4)
	l.ns = "sy-capped-" + suffix
	l.nsPath = filepath.Join("/run/netns", l.ns)
	l.nodeIf, l.browserIf = "syc"+suffix+"n", "syc"+suffix+"b" // 12 characters, under IFNAMSIZ
	if out, err := exec.Command(l.ipBin, "netns", "add", l.ns).CombinedOutput(); err != nil {
		cappedEnvFail(t, "capped link: ip netns add %s: %v: %s", l.ns, err, bytes.TrimSpace(out))
	}
	// Registered first, so it runs last: after the browser, which lives in
	// the namespace, is gone. Deleting the node's end removes the pair.
	t.Cleanup(func() {
		if out, err := exec.Command(l.ipBin, "link", "del", l.nodeIf).CombinedOutput(); err != nil && !strings.Contains(string(out), "Cannot find device") {
			t.Errorf("capped link: ip link del %s: %v: %s", l.nodeIf, err, bytes.TrimSpace(out))
		}
		if out, err := exec.Command(l.ipBin, "netns", "del", l.ns).CombinedOutput(); err != nil {
			t.Errorf("capped link: ip netns del %s: %v: %s", l.ns, err, bytes.TrimSpace(out))
		}
	})
	steps := [][]string{
		{"link", "add", l.nodeIf, "type", "veth", "peer", "name", l.browserIf},
		{"link", "set", l.browserIf, "netns", l.ns},
		{"addr", "add", l.nodeIP + "/30", "dev", l.nodeIf},
		{"link", "set", l.nodeIf, "up"},
		{"-n", l.ns, "link", "set", "lo", "up"},
		{"-n", l.ns, "addr", "add", l.browserIP + "/30", "dev", l.browserIf},
		{"-n", l.ns, "link", "set", l.browserIf, "up"},
		// Chromium gathers candidates on the default route's interface;
		// the route ends in the test's namespace, which forwards nothing.
		{"-n", l.ns, "route", "add", "default", "dev", l.browserIf},
	}
	for _, s := range steps {
		if out, err := exec.Command(l.ipBin, s...).CombinedOutput(); err != nil {
			cappedEnvFail(t, "capped link: ip %s: %v: %s", strings.Join(s, " "), err, bytes.TrimSpace(out))
		}
	}
	return l
}

// capRate caps what leaves the node's end (node to browser) with a token
// bucket: rate in bits/s, a 5000-byte bucket and at most 150 ms of queue.
func (l *cappedLink) capRate(t *testing.T, bitsPerSec int) {
	t.Helper()
	args := []string{"qdisc", "add", "dev", l.nodeIf, "root", "tbf",
		"rate", fmt.Sprintf("%dbit", bitsPerSec), "burst", "5000", "latency", "150ms"}
	if out, err := exec.Command(l.tcBin, args...).CombinedOutput(); err != nil {
		cappedEnvFail(t, "capped link: tc %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}

// lift removes the cap.
func (l *cappedLink) lift(t *testing.T) {
	t.Helper()
	if out, err := exec.Command(l.tcBin, "qdisc", "del", "dev", l.nodeIf, "root").CombinedOutput(); err != nil {
		t.Fatalf("capped link: tc qdisc del dev %s root: %v: %s", l.nodeIf, err, bytes.TrimSpace(out))
	}
}

// qdisc is what tc says of the node's end, for the log.
func (l *cappedLink) qdisc() string {
	out, err := exec.Command(l.tcBin, "-s", "qdisc", "show", "dev", l.nodeIf).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(tc: %v)", err)
	}
	return strings.TrimSpace(string(out))
}

// dial connects from inside the browser's namespace (to its loopback, where
// Chromium's DevTools listens): the socket is made on an OS thread switched
// into that namespace, and keeps it after the thread switches back.
func (l *cappedLink) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		c, back, err := l.dialOnThread(ctx, network, addr)
		if back {
			runtime.UnlockOSThread()
		} // else the thread is left locked and ends with this goroutine
		done <- result{c, err}
	}()
	r := <-done
	return r.c, r.err
}

// dialOnThread runs on a locked thread; back says whether the thread is in
// the test's namespace again.
func (l *cappedLink) dialOnThread(ctx context.Context, network, addr string) (net.Conn, bool, error) {
	self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return nil, true, fmt.Errorf("capped link: open own netns: %w", err)
	}
	defer self.Close()
	target, err := os.Open(l.nsPath)
	if err != nil {
		return nil, true, fmt.Errorf("capped link: open %s: %w", l.nsPath, err)
	}
	defer target.Close()
	if err := cappedSetns(target); err != nil {
		return nil, true, fmt.Errorf("capped link: enter %s: %w", l.ns, err)
	}
	var d net.Dialer
	c, dialErr := d.DialContext(ctx, network, addr)
	if err := cappedSetns(self); err != nil {
		if c != nil {
			c.Close()
		}
		return nil, false, fmt.Errorf("capped link: leave %s: %w", l.ns, err)
	}
	if dialErr != nil {
		return nil, true, fmt.Errorf("capped link: dial %s in %s: %w", addr, l.ns, dialErr)
	}
	return c, true, nil
}

func cappedSetns(f *os.File) error {
	return unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
}

func cappedRandomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// cappedDevToolsPort is where Chromium serves DevTools, on the loopback of
// its own namespace, where nothing else listens.
const cappedDevToolsPort = 9222

// chromiumIn makes browsertest start Chromium inside the browser's
// namespace: a chromium first on PATH that runs the real one through
// `ip netns exec`. The process group browsertest kills is the same, as each
// step execs the next.
func (l *cappedLink) chromiumIn(t *testing.T) {
	t.Helper()
	real, err := exec.LookPath("chromium")
	if err != nil {
		cappedEnvFail(t, "capped link: chromium not installed (apt-get install chromium)")
	}
	dir := t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\nexec %s netns exec %s %s \"$@\"\n", l.ipBin, l.ns, real)
	if err := os.WriteFile(filepath.Join(dir, "chromium"), []byte(script), 0o755); err != nil {
		t.Fatalf("capped link: write chromium wrapper: %v", err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// reportProxy serves the reporter (on 127.0.0.1 here) at the node's end of
// the pair, where the browser can reach it, and returns the page's report URL.
func (l *cappedLink) reportProxy(t *testing.T, rep *browsertest.Reporter, tag string) string {
	t.Helper()
	u, err := url.Parse(rep.URL(tag))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(l.nodeIP, "0"))
	if err != nil {
		t.Fatalf("capped link: report proxy: %v", err)
	}
	srv := &http.Server{Handler: httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + u.Path
}

// cappedCDP is a minimal DevTools client for the Chromium in the namespace:
// Runtime.evaluate only.
type cappedCDP struct {
	mu     sync.Mutex
	ws     *websocket.Conn
	nextID int64
}

// devTools connects to the page of the Chromium in the namespace.
func (l *cappedLink) devTools(t *testing.T, b *browsertest.Browser) *cappedCDP {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: l.dial}, Timeout: 5 * time.Second}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(browserWait)
	var last error
	for {
		if gone, err := b.Exited(); gone {
			t.Fatalf("capped link: chromium exited before serving DevTools: %v", err)
		}
		ws, err := cappedPageWebSocket(hc)
		if err == nil {
			d := websocket.Dialer{NetDialContext: l.dial, HandshakeTimeout: 10 * time.Second}
			conn, _, err := d.Dial(ws, nil)
			if err != nil {
				t.Fatalf("capped link: dial DevTools %s: %v", ws, err)
			}
			t.Cleanup(func() { conn.Close() })
			return &cappedCDP{ws: conn}
		}
		last = err
		if time.Now().After(deadline) {
			t.Fatalf("capped link: no DevTools page within %v: %v", browserWait, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func cappedPageWebSocket(hc *http.Client) (string, error) {
	resp, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/json/list", cappedDevToolsPort))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var targets []struct {
		Type string `json:"type"`
		WS   string `json:"webSocketDebuggerUrl"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&targets); err != nil {
		return "", fmt.Errorf("decode /json/list: %w", err)
	}
	for _, tg := range targets {
		if tg.Type == "page" && strings.HasPrefix(tg.WS, "ws://127.0.0.1:") {
			return tg.WS, nil
		}
	}
	return "", fmt.Errorf("no page target among %d", len(targets))
}

// eval runs expr in the page, awaiting a promise, and decodes its value
// (JSON) into out.
func (c *cappedCDP) eval(expr string, out any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	id := c.nextID
	deadline := time.Now().Add(10 * time.Second)
	if err := c.ws.SetWriteDeadline(deadline); err != nil {
		return err
	}
	params := map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}
	if err := c.ws.WriteJSON(map[string]any{"id": id, "method": "Runtime.evaluate", "params": params}); err != nil {
		return fmt.Errorf("devtools: send: %w", err)
	}
	if err := c.ws.SetReadDeadline(deadline); err != nil {
		return err
	}
	for {
		var msg struct {
			ID     int64 `json:"id"`
			Result struct {
				Result struct {
					Value json.RawMessage `json:"value"`
				} `json:"result"`
				Exception *struct {
					Text      string `json:"text"`
					Exception *struct {
						Description string `json:"description"`
					} `json:"exception"`
				} `json:"exceptionDetails"`
			} `json:"result"`
			Error *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := c.ws.ReadJSON(&msg); err != nil {
			return fmt.Errorf("devtools: read: %w", err)
		}
		if msg.ID != id {
			continue // an event
		}
		if msg.Error != nil {
			return fmt.Errorf("devtools: %s", msg.Error.Message)
		}
		if e := msg.Result.Exception; e != nil {
			if e.Exception != nil && e.Exception.Description != "" {
				return fmt.Errorf("devtools: page threw: %s", e.Exception.Description)
			}
			return fmt.Errorf("devtools: page threw: %s", e.Text)
		}
		v := msg.Result.Result.Value
		if len(v) == 0 || string(v) == "null" {
			return errCappedNoValue
		}
		return json.Unmarshal(v, out)
	}
}

var errCappedNoValue = errors.New("devtools: the page returned nothing")
