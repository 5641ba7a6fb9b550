package node_test

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/linkemu"
	"github.com/switchyard/switchyard/node/nodetest"
)

// TestRTXRepairsGoClient: with 5% loss towards a Go subscriber, the node
// answers its NACKs on the RTX stream (RFC 4588), which pion's receiver
// unwraps: the client counts the repairs as retransmissions (Repaired,
// which only RTX packets raise), and the residual loss stays well under
// the injected. The client counts a repair as received, so pion's NACK
// generator does not ask for it again (which would show as duplicates).
func TestRTXRepairsGoClient(t *testing.T) {
	n := nodetest.Start(t, nil)
	const injected = 0.05
	link, err := linkemu.NewNet(linkemu.NetConfig{Seed: 7, Down: linkemu.Params{Loss: injected}})
	if err != nil {
		t.Fatal(err)
	}
	a := join(t, n, "rtx", "alice", publishing)
	b := join(t, n, "rtx", "bob", func(o *client.Options) { o.Net = link })
	waitFor(t, 40*time.Second, "bob to receive 1500 video packets through 5% loss", func() (bool, string) {
		s := b.Received()[a.ID()]
		return s.VideoPackets >= 1500, streamString(s)
	})
	s := b.Received()[a.ID()]
	p, ok := findParticipant(n, "rtx", b.ID())
	if !ok {
		t.Fatal("bob is not in the snapshot")
	}
	lost := link.Stats().Down.Lost
	residual := float64(s.VideoLost) / float64(s.VideoPackets+s.VideoLost)
	t.Logf("link dropped %d packets towards bob; node resent %d; bob: %s, %d repaired (RTX), %d duplicates, residual loss %.2f%%",
		lost, p.Retransmits, streamString(s), s.Repaired, s.Duplicates, 100*residual)
	if lost == 0 || p.Retransmits == 0 {
		t.Fatalf("the link dropped %d packets and the node resent %d: nothing to repair", lost, p.Retransmits)
	}
	if s.Repaired == 0 {
		t.Errorf("bob counted no packet as repaired by RTX, of %d the node resent", p.Retransmits)
	}
	if s.Repaired > p.Retransmits {
		t.Errorf("bob counted %d repairs, more than the %d the node resent", s.Repaired, p.Retransmits)
	}
	if s.Duplicates > s.Repaired/4 {
		t.Errorf("bob received %d duplicates for %d repairs: repaired packets are NACKed again", s.Duplicates, s.Repaired)
	}
	if residual > injected/4 {
		t.Errorf("residual video loss %.2f%% after RTX repair, want well under the injected %.0f%%", 100*residual, 100*injected)
	}
}
