package browsertest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// DevTools drives one Chromium page through the Chrome DevTools Protocol,
// on loopback: enough to call the page's test hooks and to take
// screenshots of it at a chosen viewport size. Its methods are safe for
// concurrent use (commands go one at a time).
type DevTools struct {
	mu     sync.Mutex // one command at a time; guards ws and nextID
	ws     *websocket.Conn
	nextID int64
}

// devToolsWait bounds how long Chromium may take to open its DevTools port.
const devToolsWait = 30 * time.Second

// DevTools connects to the page of a Chromium started with Options.DevTools
// and closes the connection when the test ends.
func (b *Browser) DevTools(t testing.TB) *DevTools {
	t.Helper()
	if b.profile == "" {
		t.Fatalf("browsertest: %s was not started with Options.DevTools", b.Name)
	}
	// Chromium writes the port it picked to DevToolsActivePort in its profile.
	portFile := filepath.Join(b.profile, "DevToolsActivePort")
	deadline := time.Now().Add(devToolsWait)
	var port int
	for {
		data, err := os.ReadFile(portFile)
		if err == nil {
			first, _, _ := strings.Cut(string(data), "\n")
			if p, err := strconv.Atoi(strings.TrimSpace(first)); err == nil && p > 0 {
				port = p
				break
			}
		}
		if gone, err := b.Exited(); gone {
			t.Fatalf("browsertest: %s exited before opening DevTools: %v", b.Name, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("browsertest: %s wrote no DevTools port within %v (%s)", b.Name, devToolsWait, portFile)
		}
		time.Sleep(100 * time.Millisecond)
	}
	wsURL, err := pageTarget(port)
	if err != nil {
		t.Fatalf("browsertest: %s: %v", b.Name, err)
	}
	ws, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatalf("browsertest: %s: dial DevTools %s: %v", b.Name, wsURL, err)
	}
	d := &DevTools{ws: ws}
	t.Cleanup(func() { ws.Close() })
	return d
}

// pageTarget finds the page's DevTools WebSocket among the browser's targets.
func pageTarget(port int) (string, error) {
	deadline := time.Now().Add(devToolsWait)
	for {
		var targets []struct {
			Type string `json:"type"`
			URL  string `json:"url"`
			WS   string `json:"webSocketDebuggerUrl"`
		}
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/json/list", port))
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&targets)
			resp.Body.Close()
		}
		for _, tg := range targets {
			if tg.Type == "page" && tg.WS != "" && strings.HasPrefix(tg.WS, "ws://127.0.0.1:") {
				return tg.WS, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no page target on DevTools port %d (last error %v, targets %+v)", port, err, targets)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// call sends one command and waits (up to timeout) for its result, skipping
// the events Chromium sends meanwhile.
func (d *DevTools) call(method string, params any, result any, timeout time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nextID++
	id := d.nextID
	if err := d.ws.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if err := d.ws.WriteJSON(map[string]any{"id": id, "method": method, "params": params}); err != nil {
		return fmt.Errorf("devtools: send %s: %w", method, err)
	}
	if err := d.ws.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	for {
		var msg struct {
			ID     int64           `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := d.ws.ReadJSON(&msg); err != nil {
			return fmt.Errorf("devtools: %s: %w", method, err)
		}
		if msg.ID != id {
			continue
		}
		if msg.Error != nil {
			return fmt.Errorf("devtools: %s: %s (%d)", method, msg.Error.Message, msg.Error.Code)
		}
		if result == nil {
			return nil
		}
		if err := json.Unmarshal(msg.Result, result); err != nil {
			return fmt.Errorf("devtools: %s: decode result: %w", method, err)
		}
		return nil
	}
}

// Eval runs a JavaScript expression in the page, waits for it if it is a
// promise, and returns its value as JSON (null for undefined). A thrown
// error or rejected promise is returned as an error.
func (d *DevTools) Eval(expr string, timeout time.Duration) (json.RawMessage, error) {
	var res struct {
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text      string `json:"text"`
			Exception *struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	params := map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}
	if err := d.call("Runtime.evaluate", params, &res, timeout); err != nil {
		return nil, err
	}
	if e := res.Exception; e != nil {
		msg := e.Text
		if e.Exception != nil && e.Exception.Description != "" {
			msg = e.Exception.Description
		}
		return nil, fmt.Errorf("devtools: %s: %s", expr, msg)
	}
	if len(res.Result.Value) == 0 {
		return json.RawMessage("null"), nil
	}
	return res.Result.Value, nil
}

// SetViewport makes the page's viewport w x h CSS pixels at one device
// pixel per CSS pixel, as a window of that size would.
func (d *DevTools) SetViewport(w, h int) error {
	return d.call("Emulation.setDeviceMetricsOverride",
		map[string]any{"width": w, "height": h, "deviceScaleFactor": 1, "mobile": false}, nil, 10*time.Second)
}

// Screenshot returns a PNG of the page's viewport.
func (d *DevTools) Screenshot() ([]byte, error) {
	var res struct {
		Data string `json:"data"`
	}
	if err := d.call("Page.captureScreenshot", map[string]any{"format": "png"}, &res, 30*time.Second); err != nil {
		return nil, err
	}
	png, err := base64.StdEncoding.DecodeString(res.Data)
	if err != nil {
		return nil, fmt.Errorf("devtools: screenshot: %w", err)
	}
	if len(png) == 0 {
		return nil, errors.New("devtools: empty screenshot")
	}
	return png, nil
}
