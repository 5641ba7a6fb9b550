package bench

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Scenario is one named load on one or more node processes.
type Scenario struct {
	Name        string `json:"name"`
	Rooms       int    `json:"rooms"`
	Publishers  int    `json:"publishers_per_room"`
	Subscribers int    `json:"subscribers_per_room"`
	Audio       bool   `json:"audio"`
	Video       bool   `json:"video"` // VP8 simulcast q, h, f
	// AudioOnlySubscribers ask the node for no video at all.
	AudioOnlySubscribers bool `json:"audio_only_subscribers"`
	// Nodes are the node processes to start; empty means one default node.
	// The load goes to the first. A cascade scenario lists several, each
	// with the environment that joins it to the others.
	Nodes []NodeSpec `json:"nodes,omitempty"`
	// Cascade joins Nodes into one cluster and spreads each room's
	// participants over their regions; nil for a single node.
	Cascade *CascadeSpec `json:"cascade,omitempty"`
}

// CascadeSpec is how a cascade scenario's nodes are linked.
type CascadeSpec struct {
	// Links are the emulated relay links: each node delays what it sends to
	// the other by DelayMs, so the round trip between the two is twice that.
	// A pair not listed is linked without emulation.
	Links []LinkSpec `json:"links"`
	// Regions are given to each room's participants in turn (the load
	// generator's --regions); all dial the first node, which redirects
	// them to a node of their region.
	Regions []string `json:"regions"`
}

// LinkSpec is the emulated one-way delay between two nodes, both ways.
type LinkSpec struct {
	A       string  `json:"a"`
	B       string  `json:"b"`
	DelayMs float64 `json:"delay_ms"`
}

// delayMs is the emulated one-way delay between nodes a and b, 0 when none.
func (c *CascadeSpec) delayMs(a, b string) float64 {
	for _, l := range c.Links {
		if (l.A == a && l.B == b) || (l.A == b && l.B == a) {
			return l.DelayMs
		}
	}
	return 0
}

// NodeSpec is one node process of a scenario.
type NodeSpec struct {
	ID     string   `json:"id"`
	Region string   `json:"region"`
	Env    []string `json:"env,omitempty"` // extra SWITCHYARD_* settings, KEY=VALUE
}

func (s Scenario) participants() int { return s.Rooms * (s.Publishers + s.Subscribers) }

func (s Scenario) nodes() []NodeSpec {
	if len(s.Nodes) > 0 {
		return s.Nodes
	}
	return []NodeSpec{{ID: "bench-1", Region: "bench"}}
}

// family5xN is the plot's family: one room, five publishers, N subscribers.
var family5xN = regexp.MustCompile(`^5x([0-9]+)$`)

func av(name string, rooms, pubs, subs int) Scenario {
	return Scenario{Name: name, Rooms: rooms, Publishers: pubs, Subscribers: subs, Audio: true, Video: true}
}

// scenarios are the named scenarios, in the order the default set runs them.
var scenarios = []Scenario{
	av("5x2", 1, 5, 2), // the smoke test
	av("5x5", 1, 5, 5),
	av("5x10", 1, 5, 10),
	av("5x20", 1, 5, 20),
	av("10x30", 1, 10, 30),
	{Name: "audio-200", Rooms: 1, Publishers: 10, Subscribers: 200, Audio: true, AudioOnlySubscribers: true},
	// Twenty small meetings of four: two talk with video, two watch. With
	// all four publishing simulcast, the load generator alone needs more
	// than a core of a 2-core machine and the figures measure its overload.
	av("rooms-20x4", 20, 2, 2),
	cascade3(),
}

// cascade3 is one room spread over three nodes in three emulated regions:
// one publisher and three subscribers in each, all dialling the us node.
// The delays are rough one-way figures between the three continents.
func cascade3() Scenario {
	s := av("cascade-3", 1, 3, 9)
	s.Nodes = []NodeSpec{{ID: "us", Region: "us"}, {ID: "eu", Region: "eu"}, {ID: "ap", Region: "ap"}}
	s.Cascade = &CascadeSpec{
		Links:   []LinkSpec{{"us", "eu", 20}, {"eu", "ap", 40}, {"us", "ap", 55}},
		Regions: []string{"us", "eu", "ap"},
	}
	return s
}

// notYet are scenarios the issue asks for that this package cannot run yet.
var notYet = map[string]string{}

// DefaultScenarios is the set `switchyard bench` runs without --scenarios.
// With cascade-3 (about 12 s) the set took 2.5 minutes on a shared 2-core machine.
const DefaultScenarios = "5x2,5x5,5x10,5x20,10x30,audio-200,rooms-20x4,cascade-3"

// lookupScenarios resolves a comma-separated list. Besides the named
// scenarios, any "PxS" (P publishers, S subscribers, one room, audio and
// video) is accepted, so the 5xN family can be extended from the command line.
func lookupScenarios(list string) ([]Scenario, error) {
	var out []Scenario
	seen := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if name == "all" || name == "default" {
			more, err := lookupScenarios(DefaultScenarios)
			if err != nil {
				return nil, err
			}
			for _, s := range more {
				if !seen[s.Name] {
					seen[s.Name] = true
					out = append(out, s)
				}
			}
			continue
		}
		if seen[name] {
			continue
		}
		s, err := scenarioNamed(name)
		if err != nil {
			return nil, err
		}
		seen[name] = true
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scenario in %q", list)
	}
	return out, nil
}

var pxs = regexp.MustCompile(`^([0-9]+)x([0-9]+)$`)

func scenarioNamed(name string) (Scenario, error) {
	for _, s := range scenarios {
		if s.Name == name {
			return s, nil
		}
	}
	if why, ok := notYet[name]; ok {
		return Scenario{}, fmt.Errorf("scenario %s", why)
	}
	if m := pxs.FindStringSubmatch(name); m != nil {
		p, err1 := strconv.Atoi(m[1])
		s, err2 := strconv.Atoi(m[2])
		if err1 == nil && err2 == nil && p >= 1 && s >= 0 && p+s >= 2 && p <= 50 && s <= 400 {
			return av(name, 1, p, s), nil
		}
		return Scenario{}, fmt.Errorf("scenario %q: need 1..50 publishers, 0..400 subscribers, 2 participants at least", name)
	}
	names := make([]string, 0, len(scenarios))
	for _, s := range scenarios {
		names = append(names, s.Name)
	}
	return Scenario{}, fmt.Errorf("unknown scenario %q (known: %s, or PxS)", name, strings.Join(names, ", "))
}
