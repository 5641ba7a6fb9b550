package bench

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/viper"

	"github.com/switchyard/switchyard/loadgen"
	"github.com/switchyard/switchyard/node/snapshot"
)

var testCascade = &CascadeSpec{
	Links:   []LinkSpec{{"us", "eu", 20}, {"eu", "ap", 40}, {"us", "ap", 55}},
	Regions: []string{"us", "eu", "ap"},
}

func TestDelayMs(t *testing.T) {
	tests := []struct {
		a, b string
		want float64
	}{
		{"us", "eu", 20}, {"eu", "us", 20}, {"ap", "us", 55}, {"eu", "ap", 40},
		{"us", "us", 0}, {"us", "mars", 0},
	}
	for _, tt := range tests {
		if got := testCascade.delayMs(tt.a, tt.b); got != tt.want {
			t.Errorf("delayMs(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestCascadeTOML reads the generated file the way main.go does (viper,
// TOML), so that a key the node would not find shows here.
func TestCascadeTOML(t *testing.T) {
	ids := []string{"us", "eu", "ap"}
	tests := []struct {
		self  string
		join  []string
		links map[string]time.Duration
	}{
		{"us", nil, map[string]time.Duration{"eu": 20 * time.Millisecond, "ap": 55 * time.Millisecond}},
		{"eu", []string{"127.0.0.1:7001"}, map[string]time.Duration{"us": 20 * time.Millisecond, "ap": 40 * time.Millisecond}},
		{"ap", []string{"127.0.0.1:7001", "127.0.0.1:7002"}, map[string]time.Duration{"us": 55 * time.Millisecond, "eu": 40 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.self, func(t *testing.T) {
			text := cascadeTOML(tt.self, ids, testCascade, `s3cr"et`, tt.join)
			v := viper.New()
			v.SetConfigType("toml")
			if err := v.ReadConfig(strings.NewReader(text)); err != nil {
				t.Fatalf("%v\n%s", err, text)
			}
			if !v.GetBool("cascade.enabled") || v.GetString("cascade.secret") != `s3cr"et` ||
				v.GetString("cascade.relay_addr") != "127.0.0.1:0" || v.GetString("cascade.gossip_addr") != "127.0.0.1:0" {
				t.Errorf("cascade table wrong:\n%s", text)
			}
			if got := v.GetStringSlice("cascade.join"); !reflect.DeepEqual(got, append([]string{}, tt.join...)) {
				t.Errorf("join %q, want %q", got, tt.join)
			}
			links := v.GetStringMap("cascade.links")
			if len(links) != len(tt.links) {
				t.Errorf("links %v, want %v", links, tt.links)
			}
			for peer, d := range tt.links {
				if got := v.GetDuration("cascade.links." + peer + ".delay"); got != d {
					t.Errorf("delay to %s = %v, want %v", peer, got, d)
				}
			}
		})
	}
}

func peer(id string, alive bool, rtt float64) snapshot.Peer {
	return snapshot.Peer{ID: id, Alive: alive, RTTMs: rtt}
}

func TestClusterReady(t *testing.T) {
	full := func() []nodeAPI {
		return []nodeAPI{
			{ID: "us", Peers: []snapshot.Peer{peer("eu", true, 40), peer("ap", true, 110)}},
			{ID: "eu", Peers: []snapshot.Peer{peer("us", true, 40), peer("ap", true, 80)}},
			{ID: "ap", Peers: []snapshot.Peer{peer("us", true, 110), peer("eu", true, 80)}},
		}
	}
	tests := []struct {
		name   string
		change func([]nodeAPI)
		ok     bool
		why    string
	}{
		{"all linked", func([]nodeAPI) {}, true, ""},
		{"unknown peer", func(s []nodeAPI) { s[2].Peers = s[2].Peers[:1] }, false, "ap does not know eu"},
		{"link down", func(s []nodeAPI) { s[1].Peers[1].Alive = false }, false, "eu has no live relay link to ap"},
		{"no rtt yet", func(s []nodeAPI) { s[0].Peers[0].RTTMs = 0 }, false, "us has no live relay link to eu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := full()
			tt.change(s)
			ok, why := clusterReady(s)
			if ok != tt.ok || !strings.Contains(why, tt.why) {
				t.Errorf("clusterReady = %v, %q; want %v, %q", ok, why, tt.ok, tt.why)
			}
		})
	}
}

func TestLinkFigures(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(id string, sec float64, peers ...snapshot.Peer) sample {
		return sample{at: t0.Add(time.Duration(sec * float64(time.Second))), api: nodeAPI{ID: id, Peers: peers}}
	}
	s0 := []sample{
		at("us", 0, snapshot.Peer{ID: "eu", BytesOut: map[string]uint64{"h": 1000, "f": 5000, "audio": 100},
			SkippedBytes: 2000, NACKsAnswer: 3}),
		at("eu", 0, snapshot.Peer{ID: "us", NACKsSent: 10, Repaired: 2}),
	}
	s1 := []sample{
		at("us", 2, snapshot.Peer{ID: "eu", BytesOut: map[string]uint64{"h": 3000, "f": 13000, "audio": 300, "q": 500},
			SkippedBytes: 6000, NACKsAnswer: 7, RTTMs: 41.234}),
		// A counter that went back: the peer was forgotten and met again.
		at("eu", 2, snapshot.Peer{ID: "us", NACKsSent: 14, Repaired: 1, BytesOut: map[string]uint64{"audio": 50}}),
	}
	got := linkFigures(s0, s1, testCascade)
	want := []RelayLinkFigures{
		{From: "us", To: "eu", BytesPerSec: map[string]float64{"h": 1000, "f": 4000, "audio": 100, "q": 250},
			// video sent 2000+8000+500, skipped 4000: 4000/14500
			SkippedBytesPerSec: 2000, SavingsPct: 27.6, NACKsByReceiver: 4, NACKsAnswered: 4, Repaired: 1,
			RelayRTTMs: 41.23, EmulatedDelayMs: 20},
		{From: "eu", To: "us", BytesPerSec: map[string]float64{"audio": 25}, EmulatedDelayMs: 20},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("links\n %+v\nwant\n %+v", got, want)
	}
	// A sample with no time between gives no rates rather than infinities.
	if got := linkFigures(s0, s0, testCascade); len(got) != 0 {
		t.Errorf("zero window gave %+v", got)
	}
}

func TestPairFigures(t *testing.T) {
	links := []RelayLinkFigures{
		{From: "us", To: "eu", RelayRTTMs: 41}, {From: "eu", To: "us", RelayRTTMs: 43},
		{From: "us", To: "ap", RelayRTTMs: 111},
	}
	rep := &loadgen.Report{
		RTTByNodes: []loadgen.PairRTT{
			{A: "eu", B: "us", RTT: loadgen.Summary{N: 30, P50: 42.5}},
			{A: "us", B: "us", RTT: loadgen.Summary{N: 10, P50: 0.5}},
		},
		RTTSameNodeMs: &loadgen.Summary{N: 10, P50: 0.5},
	}
	tests := []struct {
		name string
		rep  *loadgen.Report
		want []NodePairFigures
	}{
		{"pings where measured, relay ping elsewhere", rep, []NodePairFigures{
			{A: "us", B: "eu", EmulatedRTTMs: 40, RelayRTTMs: 42, PingRTTP50Ms: 42.5, PingSamples: 30,
				SameNodePingRTTP50Ms: 0.5, AddedRTTMs: 42, AddedRTTSource: sourcePings, AddedOverEmulationMs: 2},
			{A: "us", B: "ap", EmulatedRTTMs: 110, RelayRTTMs: 111, SameNodePingRTTP50Ms: 0.5,
				AddedRTTMs: 111, AddedRTTSource: sourceRelayPing, AddedOverEmulationMs: 1},
			{A: "eu", B: "ap", EmulatedRTTMs: 80, SameNodePingRTTP50Ms: 0.5},
		}},
		{"no load report", nil, []NodePairFigures{
			{A: "us", B: "eu", EmulatedRTTMs: 40, RelayRTTMs: 42, AddedRTTMs: 42, AddedRTTSource: sourceRelayPing, AddedOverEmulationMs: 2},
			{A: "us", B: "ap", EmulatedRTTMs: 110, RelayRTTMs: 111, AddedRTTMs: 111, AddedRTTSource: sourceRelayPing, AddedOverEmulationMs: 1},
			{A: "eu", B: "ap", EmulatedRTTMs: 80},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pairFigures([]string{"us", "eu", "ap"}, links, tt.rep, testCascade)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("pairs\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func TestSumSamples(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	inf := math.Inf(1)
	tests := []struct {
		name string
		in   []sample
		want sample
	}{
		{"none", nil, sample{metrics: scrape{values: map[string]float64{}}}},
		{"one is itself", []sample{{at: t0, cpu: 2, metrics: scrape{
			values: map[string]float64{metricPacketsOut: 10}, buckets: []bucket{{1e-5, 1}, {inf, 2}}},
			api: nodeAPI{Participants: 3, BitrateOut: 100}}},
			sample{at: t0, cpu: 2, metrics: scrape{
				values: map[string]float64{metricPacketsOut: 10}, buckets: []bucket{{1e-5, 1}, {inf, 2}}},
				api: nodeAPI{Participants: 3, BitrateOut: 100}}},
		{"three add up, the first's instant", []sample{
			{at: t0, cpu: 1, metrics: scrape{values: map[string]float64{metricPacketsOut: 10, metricPacketsIn: 1},
				buckets: []bucket{{1e-5, 1}, {1e-4, 2}, {inf, 3}}}, api: nodeAPI{Participants: 4, BitrateIn: 10}},
			{at: t0.Add(time.Millisecond), cpu: 2, metrics: scrape{values: map[string]float64{metricPacketsOut: 20},
				buckets: []bucket{{1e-5, 10}, {1e-4, 20}, {inf, 30}}}, api: nodeAPI{Participants: 4, BitrateIn: 20}},
			{at: t0.Add(2 * time.Millisecond), cpu: 4, metrics: scrape{values: map[string]float64{metricPacketsOut: 40},
				buckets: []bucket{{inf, 300}, {1e-5, 100}, {1e-4, 200}}}, api: nodeAPI{Participants: 4, BitrateIn: 40}},
		}, sample{at: t0, cpu: 7, metrics: scrape{values: map[string]float64{metricPacketsOut: 70, metricPacketsIn: 1},
			buckets: []bucket{{1e-5, 111}, {1e-4, 222}, {inf, 333}}}, api: nodeAPI{Participants: 12, BitrateIn: 70}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sumSamples(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("sum\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func TestLoadArgs(t *testing.T) {
	opts := Options{JoinRate: 20}
	plain := strings.Join(loadArgs(opts, av("5x2", 1, 5, 2), "http://127.0.0.1:1", 9*time.Second, "l.json"), " ")
	if strings.Contains(plain, "--regions") || !strings.Contains(plain, "--publishers 5 --subscribers 2") {
		t.Errorf("single node: %s", plain)
	}
	c := strings.Join(loadArgs(opts, cascade3(), "http://127.0.0.1:1", 9*time.Second, "l.json"), " ")
	if !strings.Contains(c, "--regions us,eu,ap") || !strings.Contains(c, "--url http://127.0.0.1:1") ||
		!strings.Contains(c, "--publishers 3 --subscribers 9") {
		t.Errorf("cascade: %s", c)
	}
}

func TestCascadeTable(t *testing.T) {
	r := Result{
		Scenario: cascade3(),
		Node:     NodeFigures{Participants: 12, CPUPercent: 30},
		Cascade: &CascadeFigures{
			Nodes: []CascadeNodeFigures{{ID: "us", Region: "us", NodeFigures: NodeFigures{Participants: 4, CPUPercent: 9.66, CPUPerPacketUs: 54.381}}},
			Links: []RelayLinkFigures{
				{From: "us", To: "eu", BytesPerSec: map[string]float64{"h": 5000, "f": 125000, "audio": 6000},
					SkippedBytesPerSec: 4000, SavingsPct: 16, NACKsByReceiver: 3, NACKsAnswered: 2, RelayRTTMs: 41.9, EmulatedDelayMs: 20},
				{From: "us", To: "ap", RelayRTTMs: 111, EmulatedDelayMs: 55},
			},
			Pairs: []NodePairFigures{
				{A: "us", B: "eu", AddedRTTMs: 41.74, AddedRTTSource: sourcePings},
				{A: "us", B: "ap", AddedRTTMs: 111, AddedRTTSource: sourceRelayPing},
			},
		},
	}
	tab := Table([]Result{r})
	for _, want := range []string{
		"| cascade-3 | 12 | 30.0 |",
		"| — | — |", // no reflector, no ratio
		"| cascade-3 | us | us | 4 | 9.7 | 0 | 54.38 |",
		"| cascade-3 | us→eu | 0 / 40 / 1000 / 48 | 32 | 16.0 | 3 / 2 | 41.9 | 40 | 41.7 |",
		"| cascade-3 | us→ap | 0 / 0 / 0 / 0 | 0 | 0.0 | 0 / 0 | 111.0 | 110 | 111.0 (relay ping) |",
	} {
		if !strings.Contains(tab, want) {
			t.Errorf("table lacks %q:\n%s", want, tab)
		}
	}
	r.Cascade = nil
	if tab := Table([]Result{r}); strings.Contains(tab, "Relay links") {
		t.Errorf("cascade tables without a cascade result:\n%s", tab)
	}
}
