package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/switchyard/switchyard/node/signal"
)

// Send sends an endpoint message to one participant, or to everyone else
// when to is "". payload is marshalled to JSON.
func (c *Client) Send(to string, payload any) error {
	raw, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("client: encode payload: %w", err)
	}
	return c.send(signal.Message{Type: signal.TypeMessage, To: to, Payload: raw})
}

// Chat sends a chat line to one participant or, with to "", to the room.
func (c *Client) Chat(to, text string) error {
	return c.Send(to, map[string]string{"kind": "chat", "text": text})
}

// Messages delivers endpoint messages other than pings and pongs. When the
// reader falls behind by 256 messages, newer ones are dropped.
func (c *Client) Messages() <-chan signal.Message { return c.messages }

type probe struct {
	Kind string  `json:"kind"`
	Seq  uint64  `json:"seq"`
	T    float64 `json:"t"`
	RTT  float64 `json:"rtt,omitempty"` // last measured round trip to the addressee, ms
}

func (c *Client) onEndpointMessage(m signal.Message) {
	var p probe
	if json.Unmarshal(m.Payload, &p) == nil {
		switch p.Kind {
		case "ping":
			p.Kind = "pong"
			if err := c.Send(m.From, p); err != nil {
				c.log.Debug("answer ping", "err", err)
			}
			return
		case "pong":
			c.mu.Lock()
			ch := c.pings[p.Seq]
			delete(c.pings, p.Seq)
			c.mu.Unlock()
			if ch != nil {
				close(ch)
			}
			return
		}
	}
	select {
	case c.messages <- m:
	default:
		c.log.Debug("endpoint message dropped: reader too slow", "from", m.From)
	}
}

// Ping measures the round trip to another participant through the node(s)
// with the protocol's ping/pong endpoint messages.
func (c *Client) Ping(ctx context.Context, peerID string) (time.Duration, error) {
	ch := make(chan struct{})
	c.mu.Lock()
	c.pingSeq++
	seq := c.pingSeq
	c.pings[seq] = ch
	last := c.lastRTT[peerID]
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pings, seq)
		c.mu.Unlock()
	}()
	start := time.Now()
	ms := float64(start.UnixNano()) / 1e6
	if err := c.Send(peerID, probe{Kind: "ping", Seq: seq, T: ms, RTT: last}); err != nil {
		return 0, err
	}
	select {
	case <-ch:
		rtt := time.Since(start)
		c.mu.Lock()
		c.lastRTT[peerID] = float64(rtt.Microseconds()) / 1000
		c.mu.Unlock()
		return rtt, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("client: ping %s: %w", peerID, ctx.Err())
	case <-c.done:
		return 0, fmt.Errorf("client: ping %s: %w", peerID, c.Err())
	}
}

// pingLoop pings every other participant every interval until the client
// ends; each ping carries the last round trip measured to that peer, which
// the node reports as measured.
func (c *Client) pingLoop(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		for _, p := range c.Participants() {
			ctx, cancel := context.WithTimeout(c.runCtx, every)
			_, err := c.Ping(ctx, p.ID)
			cancel()
			if err != nil {
				c.log.Debug("ping", "peer", p.ID, "err", err)
			}
		}
	}
}
