package node_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchyard/switchyard/node"
	"github.com/switchyard/switchyard/node/nodetest"
	"github.com/switchyard/switchyard/node/signal"
)

type wsConn struct {
	t *testing.T
	c *websocket.Conn
}

func dialWS(t *testing.T, n *node.Node) *wsConn {
	t.Helper()
	url := "ws" + strings.TrimPrefix(n.URL(), "http") + "/ws"
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return &wsConn{t, c}
}

func (w *wsConn) send(s string) {
	w.t.Helper()
	if err := w.c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

// next reads messages until one of the given type ("" = any); a closed connection ends it.
func (w *wsConn) next(typ string) (signal.Message, error) {
	_ = w.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, data, err := w.c.ReadMessage()
		if err != nil {
			return signal.Message{}, err
		}
		var m signal.Message
		if err := json.Unmarshal(data, &m); err != nil {
			w.t.Fatalf("node sent invalid JSON %q: %v", data, err)
		}
		if m.Type == typ || typ == "" {
			return m, nil
		}
	}
}

func (w *wsConn) wantError(code string, fatal bool) {
	w.t.Helper()
	m, err := w.next(signal.TypeError)
	if err != nil {
		w.t.Fatalf("waiting for error %q: %v", code, err)
	}
	if m.Code != code || m.Fatal != fatal || m.Reason == "" {
		w.t.Fatalf("got error %+v, want code %q fatal %v with a reason", m, code, fatal)
	}
}

func TestBadSignalingInput(t *testing.T) {
	n := nodetest.Start(t, func(c *node.Config) { c.MaxRoomSize = 2; c.MessageRate = 5; c.MessageBurst = 10 })

	t.Run("garbage then a good join still works", func(t *testing.T) {
		w := dialWS(t, n)
		w.send(`{not json`)
		w.wantError(signal.CodeBadMessage, false)
		w.send(`{"type":"launch-missiles"}`)
		w.wantError(signal.CodeBadMessage, false)
		w.send(`{"type":"offer","sdp":"v=0"}`)
		w.wantError(signal.CodeNotJoined, false)
		w.send(`{"type":"join","room":"r1","name":"ann"}`)
		if _, err := w.next(signal.TypeJoined); err != nil {
			t.Fatalf("join after bad input: %v", err)
		}
		w.send(`{"type":"offer","sdp":"this is not SDP"}`)
		w.wantError(signal.CodeBadSDP, false)
		w.send(`{"type":"answer","sdp":"v=0"}`)
		w.wantError(signal.CodeProtocol, false)
	})
	t.Run("oversized message", func(t *testing.T) {
		w := dialWS(t, n)
		w.send(`{"type":"message","payload":"` + strings.Repeat("x", signal.MaxMessageSize) + `"}`)
		w.wantError(signal.CodeTooLarge, false)
	})
	t.Run("invalid room name is refused and closed", func(t *testing.T) {
		w := dialWS(t, n)
		w.send(`{"type":"join","room":"../../etc","name":"ann"}`)
		w.wantError(signal.CodeBadMessage, false)
	})
	t.Run("flood is rate limited", func(t *testing.T) {
		w := dialWS(t, n)
		for range 40 {
			w.send(`{"type":"leave-not"}`)
		}
		if _, err := w.next(signal.TypeError); err != nil {
			t.Fatal(err)
		}
		found := false
		for range 40 {
			m, err := w.next(signal.TypeError)
			if err != nil {
				break
			}
			if m.Code == signal.CodeRateLimited {
				found = true
				break
			}
		}
		if !found {
			t.Fatal("no rate-limited error after a flood")
		}
	})
	t.Run("room full", func(t *testing.T) {
		// Only participants past their offer count against the room's size.
		for _, name := range []string{"a", "b"} {
			connectRaw(t, n, "full", name)
		}
		w := dialWS(t, n)
		w.send(`{"type":"join","room":"full","name":"c"}`)
		w.wantError(signal.CodeRoomFull, true)
		if _, err := w.next(signal.TypeJoined); err == nil {
			t.Fatal("connection still open after a fatal error")
		}
	})
	t.Run("draining refuses joins", func(t *testing.T) {
		if err := n.SetDraining(true); err != nil {
			t.Fatal(err)
		}
		defer n.SetDraining(false)
		w := dialWS(t, n)
		w.send(`{"type":"join","room":"late","name":"z"}`)
		w.wantError(signal.CodeDraining, true)
	})
	// After all that the node still serves a normal join.
	w := dialWS(t, n)
	w.send(`{"type":"join","room":"after","name":"ok"}`)
	if _, err := w.next(signal.TypeJoined); err != nil {
		t.Fatalf("node no longer serves joins: %v", err)
	}
}
