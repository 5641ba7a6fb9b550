package soak

import (
	"strings"
	"testing"
	"time"
)

var testLimits = Limits{GoroutineSlack: 5, FDSlack: 2, Failover: 5 * time.Second, Kill: true}

// goodReport is a run where every check passes.
func goodReport() *Report {
	end := func(g, fds int) *Figures { return &Figures{Goroutines: g, FDs: fds, HeapInUseMB: 20} }
	var deps []DepartureStats
	for _, s := range kindSpecs {
		deps = append(deps, DepartureStats{Kind: s.kind, Count: 4, Removed: 4, BoundSec: 4})
	}
	var abuse []AbuseStats
	for _, k := range abuseOrder {
		abuse = append(abuse, AbuseStats{Kind: k, Sent: 10, Cases: 1, AsExpected: 1})
	}
	return &Report{
		Nodes: []NodeReport{
			{ID: "us", Start: Figures{Goroutines: 33, FDs: 15}, End: end(35, 15), Exit: ExitStopped},
			{ID: "eu", Start: Figures{Goroutines: 34, FDs: 15}, End: end(30, 17), Exit: ExitStopped},
			{ID: "ap", Start: Figures{Goroutines: 34, FDs: 15}, Killed: true, Exit: "killed by the soak"},
		},
		Departures: deps,
		Abuse:      abuse,
		Failover: &FailoverReport{Node: "ap", MaxMediaBackSec: 1.4, Moved: []MovedParticipant{
			{Name: "steady-pub-ap", MediaBackSec: 1.4}, {Name: "steady-sub-ap", MediaBackSec: 1.1}}},
		Media: MediaReport{Steady: 6, Samples: 100, FlowingAtEnd: true},
		Churn: ChurnReport{Started: 40, Joined: 40},
	}
}

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Report, *Limits)
		fail   string // the one check that fails, "" for none
		detail string // in its detail
	}{
		{"all good", func(*Report, *Limits) {}, "", ""},
		{"goroutines at the slack", func(r *Report, _ *Limits) { r.Nodes[0].End.Goroutines = 38 }, "", ""},
		{"goroutine leak", func(r *Report, _ *Limits) { r.Nodes[0].End.Goroutines = 39 }, CheckGoroutines, "us 33 → 39 (+6 > 5)"},
		{"fd leak", func(r *Report, _ *Limits) { r.Nodes[1].End.FDs = 18 }, CheckFDs, "eu 15 → 18"},
		{"fewer fds is fine", func(r *Report, _ *Limits) { r.Nodes[1].End.FDs = 3 }, "", ""},
		{"the killed node's figures do not count", func(r *Report, _ *Limits) { r.Nodes[2].Start.Goroutines = 0 }, "", ""},
		{"residual participant", func(r *Report, _ *Limits) {
			r.Nodes[0].End.Listed = 1
			r.Nodes[0].Residual = []string{"steady/us-p3 (bob)"}
		}, CheckResidual, "steady/us-p3 (bob)"},
		{"residual room", func(r *Report, _ *Limits) { r.Nodes[1].End.Rooms = 1 }, CheckResidual, "eu holds 0 participants, 1 rooms"},
		{"no end figures", func(r *Report, _ *Limits) { r.Nodes[1].End = nil }, CheckResidual, "eu: no end figures"},
		{"crash", func(r *Report, _ *Limits) {
			r.Nodes[1].Unexpected = true
			r.Nodes[1].Exit = "exit status 2"
		}, CheckNodes, "eu exited during the run"},
		{"panic in the log", func(r *Report, _ *Limits) { r.Nodes[0].Panics = []string{"panic: boom"} }, CheckNodes, "panic: boom"},
		{"slow failover", func(r *Report, _ *Limits) {
			r.Failover.Moved[0].MediaBackSec = 5.2
			r.Failover.MaxMediaBackSec = 5.2
		}, CheckFailover, "media back after 5.20 s > 5s"},
		{"failover at the limit", func(r *Report, _ *Limits) { r.Failover.Moved[0].MediaBackSec = 5 }, "", ""},
		{"failover without media", func(r *Report, _ *Limits) { r.Failover.Moved[1].MediaBackSec = 0 }, CheckFailover, "steady-sub-ap: no media"},
		{"failover error", func(r *Report, _ *Limits) { r.Failover.Moved[1].Error = "no node took it back" }, CheckFailover, "no node took it back"},
		{"no kill although asked", func(r *Report, _ *Limits) { r.Failover = nil }, CheckFailover, "no node was killed"},
		{"nobody on the killed node", func(r *Report, _ *Limits) { r.Failover.Moved = nil }, CheckFailover, "nobody was on"},
		{"no kill asked", func(r *Report, l *Limits) {
			r.Failover, l.Kill = nil, false
			r.Departures[len(r.Departures)-1].Count, r.Departures[len(r.Departures)-1].Removed = 0, 0
		}, "", ""},
		{"departure left behind", func(r *Report, _ *Limits) { r.Departures[2].NotRemoved = 1 }, CheckDepartures, "pc-closed: 1 never removed"},
		{"departure late", func(r *Report, _ *Limits) {
			r.Departures[3].Late, r.Departures[3].MaxRemovalSec = 1, 14.2
		}, CheckDepartures, "network-lost: 1 removed after 4.0 s (max 14.2 s)"},
		{"wrong reason", func(r *Report, _ *Limits) {
			r.Departures[4].WrongReason = 1
			r.Departures[4].Reasons = map[string]int{"signaling closed": 1}
		}, CheckDepartures, "ice-failed: 1 with an undocumented reason"},
		{"kind never exercised", func(r *Report, _ *Limits) { r.Departures[0].Count, r.Departures[0].Removed = 0, 0 }, CheckDepartures, "leave: never exercised"},
		{"dropped while healthy", func(r *Report, _ *Limits) {
			r.Departures[1].Unexpected = 1
			r.Departures[1].Examples = []string{"us-p9 ended while staying"}
		}, CheckDepartures, "us-p9 ended while staying"},
		{"abuse answered otherwise", func(r *Report, _ *Limits) {
			r.Abuse[0].Unexpected, r.Abuse[0].Examples = 1, []string{"us: error codes [] want [bad-message]"}
		}, CheckAbuse, "want [bad-message]"},
		{"abuse never sent", func(r *Report, _ *Limits) { r.Abuse[5].Sent = 0 }, CheckAbuse, "never sent"},
		{"media stopped", func(r *Report, _ *Limits) {
			r.Media.FlowingAtEnd, r.Media.EndDetail = false, "steady-sub-us hears nothing"
		}, CheckMedia, "steady-sub-us hears nothing"},
		{"stalls alone do not fail", func(r *Report, _ *Limits) { r.Media.Stalls = 3 }, "", ""},
		{"join failed", func(r *Report, _ *Limits) { r.Churn.JoinFailures = []string{"churn3 on us: refused"} }, CheckJoins, "churn3 on us: refused"},
		{"nobody joined", func(r *Report, _ *Limits) { r.Churn.Joined = 0 }, CheckJoins, "nobody joined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, lim := goodReport(), testLimits
			tt.change(r, &lim)
			checks := Evaluate(r, lim)
			if len(checks) != 9 {
				t.Fatalf("%d checks, want 9", len(checks))
			}
			for _, c := range checks {
				wantOK := c.Name != tt.fail
				if c.OK != wantOK {
					t.Errorf("%s: ok %v, want %v (%s)", c.Name, c.OK, wantOK, c.Detail)
				}
				if c.Name == tt.fail && !strings.Contains(c.Detail, tt.detail) {
					t.Errorf("%s: detail %q, want %q in it", c.Name, c.Detail, tt.detail)
				}
			}
			if allOK(checks) != (tt.fail == "") {
				t.Errorf("allOK = %v", allOK(checks))
			}
		})
	}
}

func TestTable(t *testing.T) {
	r := goodReport()
	r.Checks = Evaluate(r, testLimits)
	r.Nodes[0].Residual = []string{"steady/us-p3 (bob)"}
	r.Nodes[0].Counters = map[string]float64{"switchyard_signaling_bad_messages_total": 12}
	r.Departures[2].Reasons = map[string]int{"media connection closed": 4}
	out := Table(r)
	for _, want := range []string{
		"us    ", "33 → 35", "15 → 15", "ap", "SIGKILLed (failover)", "34 → -",
		"us still holds: steady/us-p3 (bob)", "signaling_bad_messages +12",
		"pc-closed", "media connection closed ×4",
		"failover: ap SIGKILLed", "steady-pub-ap",
		"PASS  " + CheckGoroutines, "PASS  " + CheckFailover,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	r.Checks[3] = Check{Name: CheckResidual, Detail: "us holds 1"}
	if out := Table(r); !strings.Contains(out, "FAIL  "+CheckResidual+": us holds 1") {
		t.Errorf("failed check not shown:\n%s", out)
	}
}
