// Package selection chooses the node a joining participant is sent to, the
// way Jitsi's focus picks a bridge by region: near the participant, not
// overloaded, and together with the rest of the conference when it can.
package selection

import (
	"cmp"
	"slices"
)

// Node is a candidate as the cluster gossips it.
type Node struct {
	Name   string
	Region string
	// Stress is how busy the node is, 0..1 (participants over its limit or
	// CPU, whichever is higher).
	Stress float64
	// Hosts is true when the node already has participants of the conference.
	Hosts    bool
	Draining bool
	// Unreachable is true while the node is suspected down (failure
	// detection has not declared it dead yet, or its relay link is silent):
	// a participant sent there would wait on a dead node.
	Unreachable bool
	Self        bool // the node deciding; wins ties so as not to redirect needlessly
}

// Reason says which rule chose the node.
type Reason string

// Rules, in the order they are tried.
const (
	InRegion     Reason = "in the participant's region"
	InConference Reason = "already hosts the conference"
	LeastLoaded  Reason = "least loaded node"
	NoNode       Reason = "no node takes participants"
)

// Choose picks a node for a participant from region joining conference.
// Rules, in order: a node in the participant's region whose stress is not
// above overload (one already hosting the conference first, then the least
// stressed); else a node already hosting the conference and not overloaded
// (least stressed); else the least stressed node of all. Draining and
// unreachable nodes are never chosen. ok is false when no node is left.
func Choose(nodes []Node, region string, overload float64) (chosen Node, why Reason, ok bool) {
	var live []Node
	for _, n := range nodes {
		if !n.Draining && !n.Unreachable {
			live = append(live, n)
		}
	}
	if len(live) == 0 {
		return Node{}, NoNode, false
	}
	// Least stressed first; among equals the conference's nodes, then self,
	// then by name so every node decides the same way.
	slices.SortFunc(live, func(a, b Node) int {
		if c := cmp.Compare(bucket(a.Stress), bucket(b.Stress)); c != 0 {
			return c
		}
		if a.Hosts != b.Hosts {
			if a.Hosts {
				return -1
			}
			return 1
		}
		if a.Self != b.Self {
			if a.Self {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Name, b.Name)
	})
	var inRegion []Node
	for _, n := range live {
		if region != "" && n.Region == region && n.Stress <= overload {
			inRegion = append(inRegion, n)
		}
	}
	for _, n := range inRegion {
		if n.Hosts {
			return n, InRegion, true
		}
	}
	if len(inRegion) > 0 {
		return inRegion[0], InRegion, true
	}
	for _, n := range live {
		if n.Hosts && n.Stress <= overload {
			return n, InConference, true
		}
	}
	return live[0], LeastLoaded, true
}

// bucket compares stress in steps of 5%, so that a small difference in
// load does not scatter a conference over nodes of equal standing.
func bucket(s float64) int { return int(s * 20) }
