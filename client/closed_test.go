package client

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/linkemu"
	"github.com/switchyard/switchyard/node/nodetest"
)

// A PeerConnection closed underneath the client (the WebSocket still open)
// carries nothing more: the client must end, as after a failure, rather than
// stay in the room as a silent participant.
func TestClosedPeerConnectionEndsClient(t *testing.T) {
	n := nodetest.Start(t, nil)
	link, err := linkemu.NewNet(linkemu.NetConfig{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Join(ctx, Options{
		URL:  "ws" + strings.TrimPrefix(n.URL(), "http") + "/ws",
		Room: "r", Name: "closer", PublishAudio: true, Net: link,
	})
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	defer c.Close()
	waitFor(t, 10*time.Second, "the peer connection to connect", func() bool {
		return c.ConnectionState() == webrtc.PeerConnectionStateConnected
	})

	// A DTLS close alert would make the node drop the participant, which
	// also ends the client; lose it, so the client has to notice by itself.
	// The node only notices the silence after its ICE timeouts (3 s and more).
	if err := link.SetUp(linkemu.Params{Loss: 1}); err != nil {
		t.Fatal(err)
	}
	if err := c.pc.Close(); err != nil {
		t.Fatalf("close the peer connection: %v", err)
	}
	select {
	case <-c.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("client still running 2 s after its peer connection closed")
	}
	if err := c.Err(); err == nil || !strings.Contains(err.Error(), "peer connection closed") {
		t.Errorf("Err() = %v, want the closed peer connection", err)
	}
}
