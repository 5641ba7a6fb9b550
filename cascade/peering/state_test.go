package peering

import "testing"

// TestLinkRTT: the relay round trip between any two nodes of a three-node
// cascade (us, eu, ap), asked on each of them.
func TestLinkRTT(t *testing.T) {
	// The true link round trips; each node measures its own and reports them.
	rtt := map[[2]string]float64{{"us", "eu"}: 80, {"us", "ap"}: 150, {"eu", "ap"}: 190}
	get := func(a, b string) float64 {
		if v, ok := rtt[[2]string{a, b}]; ok {
			return v
		}
		return rtt[[2]string{b, a}]
	}
	nodes := []string{"us", "eu", "ap"}
	tableOf := func(self string) map[string]float64 {
		t := map[string]float64{}
		for _, o := range nodes {
			if o != self {
				t[o] = get(self, o)
			}
		}
		return t
	}
	for _, self := range nodes {
		reported := map[string]map[string]float64{}
		for _, o := range nodes {
			if o != self {
				reported[o] = tableOf(o)
			}
		}
		for _, a := range nodes {
			for _, b := range nodes {
				want := get(a, b)
				if a == b {
					want = 0
				}
				got, ok := linkRTT(self, tableOf(self), reported, a, b)
				if !ok || got != want {
					t.Errorf("on %s, %s↔%s = %v (%v), want %v", self, a, b, got, ok, want)
				}
			}
		}
	}
	// Asymmetric reports average; one side's report is enough; none is not.
	if v, ok := linkRTT("us", nil, map[string]map[string]float64{"eu": {"ap": 180}, "ap": {"eu": 200}}, "eu", "ap"); !ok || v != 190 {
		t.Errorf("both reports: %v %v, want 190", v, ok)
	}
	if v, ok := linkRTT("us", nil, map[string]map[string]float64{"ap": {"eu": 200}}, "eu", "ap"); !ok || v != 200 {
		t.Errorf("one report: %v %v, want 200", v, ok)
	}
	if _, ok := linkRTT("us", map[string]float64{"eu": 80}, nil, "eu", "ap"); ok {
		t.Error("no report of eu↔ap, yet a figure")
	}
	if _, ok := linkRTT("us", map[string]float64{}, nil, "us", "eu"); ok {
		t.Error("no measurement of us↔eu, yet a figure")
	}
}
