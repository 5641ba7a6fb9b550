package demo

import (
	"testing"
	"time"
)

func TestPlan(t *testing.T) {
	tests := []struct {
		name                 string
		nodes, confs, people int
		churn                bool
	}{
		{"issue's demo", 3, 2, 4, true},
		{"one node", 1, 2, 3, true},
		{"two people", 3, 1, 2, true},
		{"no churn", 3, 3, 4, false},
		{"six regions", 6, 2, 5, true},
		{"crowd", 3, 8, 5, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := options{nodes: tt.nodes, conferences: tt.confs, participants: tt.people, churn: tt.churn}
			seats := plan(o)
			if len(seats) != tt.confs*tt.people {
				t.Fatalf("%d seats, want %d", len(seats), tt.confs*tt.people)
			}
			names := map[string]bool{}
			lossy, guests, redirected := 0, 0, 0
			regionsOf := map[string]map[int]bool{}
			slots := map[string]map[int]bool{}
			for _, s := range seats {
				if names[s.name] {
					t.Errorf("name %q twice", s.name)
				}
				names[s.name] = true
				if s.region < 0 || s.region >= tt.nodes || s.via < 0 || s.via >= tt.nodes {
					t.Errorf("%s: region %d via %d outside %d nodes", s.name, s.region, s.via, tt.nodes)
				}
				if s.lossy {
					lossy++
				}
				if s.stay > 0 {
					guests++
					if s.lossy {
						t.Errorf("%s: the lossy participant must stay for the whole run", s.name)
					}
				}
				if s.via != s.region {
					redirected++
				}
				if regionsOf[s.conference] == nil {
					regionsOf[s.conference], slots[s.conference] = map[int]bool{}, map[int]bool{}
				}
				regionsOf[s.conference][s.region] = true
				if slots[s.conference][s.slot] {
					t.Errorf("%s: talk slot %d twice", s.conference, s.slot)
				}
				slots[s.conference][s.slot] = true
				if s.joinAt < 0 || s.joinAt > time.Minute {
					t.Errorf("%s joins at %v", s.name, s.joinAt)
				}
			}
			if lossy != 1 {
				t.Errorf("%d lossy participants, want 1", lossy)
			}
			wantGuests := 0
			if tt.churn && tt.people > 2 {
				wantGuests = tt.confs
			}
			if guests != wantGuests {
				t.Errorf("%d guests, want %d", guests, wantGuests)
			}
			if tt.nodes > 1 && tt.people >= 3 && redirected == 0 {
				t.Error("nobody dials another region's node: redirects never show")
			}
			if len(regionsOf) != tt.confs {
				t.Errorf("%d conferences, want %d", len(regionsOf), tt.confs)
			}
			for conf, rs := range regionsOf {
				if tt.nodes > 1 && len(rs) < 2 {
					t.Errorf("%s sits in one region only: nothing to relay", conf)
				}
			}
		})
	}
}

func TestRelayLink(t *testing.T) {
	tests := []struct {
		a, b   string
		oneWay time.Duration
	}{
		{"us-east", "eu-west", 40 * time.Millisecond},
		{"eu-west", "us-east", 40 * time.Millisecond},
		{"eu-west", "ap-southeast", 80 * time.Millisecond},
		{"ap-southeast", "us-east", 110 * time.Millisecond},
		{"us-east", "us-east", 0},
	}
	for _, tt := range tests {
		p := relayLink(tt.a, tt.b)
		if p.Delay != tt.oneWay {
			t.Errorf("%s→%s delay %v, want %v", tt.a, tt.b, p.Delay, tt.oneWay)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("%s→%s: %v", tt.a, tt.b, err)
		}
	}
	// Every pair of regions the demo can start needs a round trip.
	for i, a := range regions {
		for _, b := range regions[i+1:] {
			if rtt(a, b) <= 0 {
				t.Errorf("no round trip between %s and %s", a, b)
			}
		}
	}
}
