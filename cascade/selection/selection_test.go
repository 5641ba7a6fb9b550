package selection

import "testing"

func TestChoose(t *testing.T) {
	us := Node{Name: "us", Region: "us-east", Stress: 0.1}
	usBusy := Node{Name: "us2", Region: "us-east", Stress: 0.9}
	eu := Node{Name: "eu", Region: "eu-west", Stress: 0.3}
	ap := Node{Name: "ap", Region: "ap-southeast", Stress: 0.05}
	with := func(n Node, f func(*Node)) Node { f(&n); return n }
	hosts := func(n *Node) { n.Hosts = true }
	self := func(n *Node) { n.Self = true }
	drain := func(n *Node) { n.Draining = true }
	down := func(n *Node) { n.Unreachable = true }
	best := func(n *Node) { n.Hosts = true; n.Unreachable = true; n.Stress = 0 }
	tests := []struct {
		name   string
		nodes  []Node
		region string
		want   string
		why    Reason
		ok     bool
	}{
		{"own region", []Node{us, eu, ap}, "eu-west", "eu", InRegion, true},
		{"own region even if others idler", []Node{us, eu, ap}, "us-east", "us", InRegion, true},
		{"at the overload limit, not above: still chosen", []Node{with(usBusy, func(n *Node) { n.Stress = 0.8 }), eu, ap}, "us-east", "us2", InRegion, true},
		{"overloaded region falls to conference", []Node{usBusy, with(eu, hosts), ap}, "us-east", "eu", InConference, true},
		{"overloaded region, no conference: least loaded", []Node{usBusy, eu, ap}, "us-east", "ap", LeastLoaded, true},
		{"unknown region: conference node", []Node{us, with(eu, hosts), ap}, "sa-east", "eu", InConference, true},
		{"no region: least loaded", []Node{us, eu, ap}, "", "ap", LeastLoaded, true},
		{"in region prefers the conference's node", []Node{us, with(Node{Name: "us3", Region: "us-east", Stress: 0.4}, hosts)}, "us-east", "us3", InRegion, true},
		{"draining never chosen", []Node{with(eu, drain), us}, "eu-west", "us", LeastLoaded, true},
		{"draining conference node skipped", []Node{with(eu, func(n *Node) { n.Draining = true; n.Hosts = true }), us, ap}, "sa", "ap", LeastLoaded, true},
		{"all draining", []Node{with(us, drain)}, "us-east", "", NoNode, false},
		{"unreachable in region skipped", []Node{with(eu, down), us, ap}, "eu-west", "ap", LeastLoaded, true},
		{"unreachable conference node skipped", []Node{with(eu, func(n *Node) { n.Hosts = true; n.Unreachable = true }), us, ap}, "sa", "ap", LeastLoaded, true},
		{"unreachable least loaded skipped", []Node{us, eu, with(ap, down)}, "", "us", LeastLoaded, true},
		{"unreachable in region with conference skipped", []Node{with(Node{Name: "eu2", Region: "eu-west"}, best), eu}, "eu-west", "eu", InRegion, true},
		{"every other unreachable: self", []Node{with(Node{Name: "eu2", Region: "eu-west"}, best), with(ap, down),
			with(Node{Name: "me", Region: "us-east", Stress: 0.9}, self)}, "eu-west", "me", LeastLoaded, true},
		{"all unreachable", []Node{with(us, down), with(eu, down)}, "us-east", "", NoNode, false},
		{"self wins a tie", []Node{Node{Name: "a", Region: "r", Stress: 0.2}, with(Node{Name: "b", Region: "r", Stress: 0.21}, self)}, "r", "b", InRegion, true},
		{"ties break by name", []Node{Node{Name: "b", Region: "r"}, Node{Name: "a", Region: "r"}}, "r", "a", InRegion, true},
		{"overloaded everywhere: least loaded", []Node{usBusy, with(Node{Name: "eu9", Region: "eu-west", Stress: 0.95}, hosts)}, "eu-west", "us2", LeastLoaded, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why, ok := Choose(tt.nodes, tt.region, 0.8)
			if ok != tt.ok || got.Name != tt.want || why != tt.why {
				t.Fatalf("got %q (%q, %v), want %q (%q, %v)", got.Name, why, ok, tt.want, tt.why, tt.ok)
			}
		})
	}
}
