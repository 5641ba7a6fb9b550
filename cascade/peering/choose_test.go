package peering

import (
	"slices"
	"testing"

	"github.com/switchyard/switchyard/cascade/control"
	"github.com/switchyard/switchyard/cascade/relay"
	"github.com/switchyard/switchyard/cascade/selection"
)

// TestChooseSkipsUnreachable: of two peers in the participant's region,
// n2 hosts the conference and wins while it is healthy; a node the
// membership does not call alive, or whose relay went silent, is never
// chosen and never offered as a fallback.
func TestChooseSkipsUnreachable(t *testing.T) {
	ws := func(name string) string { return WebSocketURL(signalURL(name)) }
	cases := []struct {
		name             string
		dead, silent     []string
		base             string
		why              selection.Reason
		fallback         []string
		draining, noHost bool
	}{
		{name: "all healthy", base: signalURL("n2"), why: selection.InRegion, fallback: []string{ws("n2"), ws("n3")}},
		{name: "n2 not alive", dead: []string{"n2"}, base: signalURL("n3"), why: selection.InRegion, fallback: []string{ws("n3")}},
		{name: "n2 silent", silent: []string{"n2"}, base: signalURL("n3"), why: selection.InRegion, fallback: []string{ws("n3")}},
		{name: "n3 not alive", dead: []string{"n3"}, base: signalURL("n2"), why: selection.InRegion, fallback: []string{ws("n2")}},
		{name: "both unreachable", dead: []string{"n2"}, silent: []string{"n3"}, base: "", why: selection.LeastLoaded},
		{name: "both dead, self draining", dead: []string{"n2", "n3"}, draining: true, why: selection.NoNode},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestbed(t)
			n2 := b.addPeer("n2", "us")
			b.addPeer("n3", "us")
			b.state(n2, stateMsg([]control.Participant{participant("n2-p11")}))
			for _, name := range tc.dead {
				b.ml.setDead(name, true)
			}
			for _, name := range tc.silent {
				b.tr.setSilent(relay.NodeIDFromName(name), true)
			}
			base, why, ok := b.p.Choose("us", testConf, Self{Draining: tc.draining})
			if base != tc.base || why != tc.why || ok != (tc.why != selection.NoNode) {
				t.Errorf("Choose = %q, %q, %v; want %q, %q", base, why, ok, tc.base, tc.why)
			}
			if got := b.p.Fallback(); !slices.Equal(got, tc.fallback) {
				t.Errorf("Fallback = %v, want %v", got, tc.fallback)
			}
		})
	}
}
