package node_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchyard/switchyard/node/nodetest"
)

// TestPacketTotalsNeverFall: the node's packet totals are counters. When a
// subscriber and then the publisher leave, what they were sent and what was
// received from them stays counted (a rate over a window spanning a leave
// would otherwise come out negative or zero).
func TestPacketTotalsNeverFall(t *testing.T) {
	n := nodetest.Start(t, nil)
	a := join(t, n, "totals", "alice", publishing)
	b := join(t, n, "totals", "bob", nil)
	c := join(t, n, "totals", "carol", nil)
	waitFor(t, 20*time.Second, "bob and carol to receive 200 video packets", func() (bool, string) {
		sb, sc := b.Received()[a.ID()], c.Received()[a.ID()]
		return sb.VideoPackets >= 200 && sc.VideoPackets >= 200, streamString(sb) + " / " + streamString(sc)
	})
	before := n.Snapshot().Node
	for _, leaver := range []interface{ Close() error }{b, a} {
		if err := leaver.Close(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "bob and alice to be gone", func() (bool, string) {
		s := n.Snapshot().Node
		return s.Participants == 1, fmt.Sprintf("%d participants", s.Participants)
	})
	after := n.Snapshot().Node
	if after.PacketsOut < before.PacketsOut || after.PacketsIn < before.PacketsIn {
		t.Errorf("totals fell when participants left: in %d -> %d, out %d -> %d",
			before.PacketsIn, after.PacketsIn, before.PacketsOut, after.PacketsOut)
	}
	if before.PacketsOut == 0 || before.PacketsIn == 0 {
		t.Errorf("nothing counted while media flowed: in %d, out %d", before.PacketsIn, before.PacketsOut)
	}
}
