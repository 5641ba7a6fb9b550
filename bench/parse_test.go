package bench

import (
	"encoding/xml"
	"io"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/loadgen"
)

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want float64
		err  bool
	}{
		{"plain", "1234 (switchyard) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 12 0 100 0 0", 3.25, false},
		{"name with spaces and parens", "77 (a) b (c)) R 1 1 1 0 -1 0 0 0 0 0 100 100 0 0 20 0", 2, false},
		{"no name", "1234 switchyard S 1", 0, true},
		{"short", "1 (x) S 1 2 3", 0, true},
		{"not a number", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 ten 1 0", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tt.in))
			if (err != nil) != tt.err || got != tt.want {
				t.Errorf("got %v, %v; want %v, error %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestParseStatusMemory(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		rss, peak  uint64
		wantErrors bool
	}{
		{"both", "Name:\tswitchyard\nVmHWM:\t  81234 kB\nVmRSS:\t   70000 kB\nThreads: 9\n", 70000, 81234, false},
		{"missing peak", "VmRSS:\t 1 kB\n", 0, 0, true},
		{"garbage value", "VmRSS:\t x kB\nVmHWM:\t 2 kB\n", 0, 0, true},
		{"empty", "", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rss, peak, err := parseStatusMemory([]byte(tt.in))
			if (err != nil) != tt.wantErrors || rss != tt.rss || peak != tt.peak {
				t.Errorf("got %d, %d, %v; want %d, %d, error %v", rss, peak, err, tt.rss, tt.peak, tt.wantErrors)
			}
		})
	}
}

func TestCPUSecondsOfThisProcess(t *testing.T) {
	// Burn CPU until at least one 10 ms tick is counted: a fixed amount of
	// work can finish within one tick on a fast core. The bound keeps a
	// broken reader from spinning for long.
	x := 0.0
	var s float64
	for range 100 {
		for i := range 5_000_000 {
			x += math.Sqrt(float64(i))
		}
		var err error
		if s, err = cpuSeconds(os.Getpid()); err != nil {
			t.Fatal(err)
		}
		if s > 0 {
			break
		}
	}
	_ = x
	if s <= 0 {
		t.Errorf("cpu seconds %v after a busy loop", s)
	}
	rss, peak, err := memoryKB(os.Getpid())
	if err != nil || rss == 0 || peak < rss {
		t.Errorf("memory rss %d peak %d, %v", rss, peak, err)
	}
}

const sampleMetrics = `# HELP switchyard_forward_delay_seconds Time from reading a media packet to having written it to every subscriber.
# TYPE switchyard_forward_delay_seconds histogram
switchyard_forward_delay_seconds_bucket{le="1e-05"} 10
switchyard_forward_delay_seconds_bucket{le="5e-06"} 4
switchyard_forward_delay_seconds_bucket{le="2.5e-05"} 40
switchyard_forward_delay_seconds_bucket{le="+Inf"} 50
switchyard_forward_delay_seconds_sum 0.001
switchyard_forward_delay_seconds_count 50
# TYPE switchyard_packets_sent_total counter
switchyard_packets_sent_total 1.234567e+06
switchyard_packets_received_total 4321
go_gc_duration_seconds{quantile="0.5"} 1e-05
broken line without value
switchyard_weird NaNs
`

func TestParseMetrics(t *testing.T) {
	s, err := parseMetrics(strings.NewReader(sampleMetrics), metricForwardDelay)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.values[metricPacketsOut]; got != 1234567 {
		t.Errorf("packets out %v", got)
	}
	if got := s.values[metricPacketsIn]; got != 4321 {
		t.Errorf("packets in %v", got)
	}
	if _, ok := s.values["go_gc_duration_seconds"]; ok {
		t.Error("a labelled sample was kept as a plain value")
	}
	want := []bucket{{5e-6, 4}, {1e-5, 10}, {2.5e-5, 40}, {math.Inf(1), 50}}
	if len(s.buckets) != len(want) {
		t.Fatalf("buckets %v, want %v", s.buckets, want)
	}
	for i := range want {
		if s.buckets[i] != want[i] {
			t.Errorf("bucket %d = %v, want %v", i, s.buckets[i], want[i])
		}
	}
}

func FuzzParseMetrics(f *testing.F) {
	f.Add(sampleMetrics)
	f.Add("x_bucket{le=\"1\"} 1\n")
	f.Add("switchyard_forward_delay_seconds_bucket{le=} 3\n")
	f.Add("switchyard_forward_delay_seconds_bucket{le=\"\"} 3\n")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := parseMetrics(strings.NewReader(in), metricForwardDelay)
		if err != nil {
			return
		}
		for i := 1; i < len(s.buckets); i++ {
			if s.buckets[i].le < s.buckets[i-1].le {
				t.Fatalf("buckets not sorted: %v", s.buckets)
			}
		}
		_ = quantile(0.99, s.buckets)
	})
}

func FuzzParseProc(f *testing.F) {
	f.Add("1 (x) S 1 1 1 0 -1 0 0 0 0 0 100 100 0 0 20 0")
	f.Add("VmRSS: 1 kB\nVmHWM: 2 kB\n")
	f.Add(")")
	f.Fuzz(func(t *testing.T, in string) {
		if s, err := parseStatCPU([]byte(in)); err == nil && s < 0 {
			t.Fatalf("negative cpu %v", s)
		}
		if rss, peak, err := parseStatusMemory([]byte(in)); err != nil && (rss != 0 || peak != 0) {
			t.Fatalf("error with values %d %d", rss, peak)
		}
	})
}

func TestQuantile(t *testing.T) {
	inf := math.Inf(1)
	bs := []bucket{{10, 0}, {20, 50}, {40, 90}, {inf, 100}}
	tests := []struct {
		q    float64
		in   []bucket
		want float64
	}{
		{0.5, bs, 20},  // the 50th of 100 is the top of (10, 20]
		{0.25, bs, 15}, // halfway into (10, 20]
		{0.7, bs, 30},  // halfway into (20, 40]
		{0.99, bs, 40}, // in +Inf: the highest finite bound
		{0, bs, 10},    // the first non-empty bucket's lower edge
		{0.5, nil, math.NaN()},
		{0.5, []bucket{{1, 0}, {inf, 0}}, math.NaN()},
		{1.5, bs, math.NaN()},
	}
	for _, tt := range tests {
		got := quantile(tt.q, tt.in)
		if math.IsNaN(tt.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tt.want) > 1e-9) {
			t.Errorf("quantile(%v, %v) = %v, want %v", tt.q, tt.in, got, tt.want)
		}
	}
}

func TestBucketDelta(t *testing.T) {
	before := []bucket{{1, 5}, {2, 10}, {math.Inf(1), 10}}
	after := []bucket{{1, 5}, {2, 30}, {math.Inf(1), 40}}
	got := bucketDelta(before, after)
	want := []bucket{{1, 0}, {2, 20}, {math.Inf(1), 30}}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("delta %v, want %v", got, want)
			break
		}
	}
	// A node restarted between the readings: counts never go negative.
	if d := bucketDelta(after, before); d[1].count != 0 {
		t.Errorf("negative delta %v", d)
	}
}

func TestLookupScenarios(t *testing.T) {
	tests := []struct {
		in    string
		names []string
		err   string
	}{
		{"5x20", []string{"5x20"}, ""},
		{"5x2, audio-200,5x2", []string{"5x2", "audio-200"}, ""},
		{"all", strings.Split(DefaultScenarios, ","), ""},
		{"7x3", []string{"7x3"}, ""},
		{"cascade-3,5x2", []string{"cascade-3", "5x2"}, ""},
		{"0x5", nil, "publishers"},
		{"1x0", nil, "2 participants"},
		{"nope", nil, "unknown scenario"},
		{",", nil, "no scenario"},
	}
	for _, tt := range tests {
		got, err := lookupScenarios(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("lookupScenarios(%q) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("lookupScenarios(%q): %v", tt.in, err)
			continue
		}
		var names []string
		for _, s := range got {
			names = append(names, s.Name)
		}
		if strings.Join(names, ",") != strings.Join(tt.names, ",") {
			t.Errorf("lookupScenarios(%q) = %v, want %v", tt.in, names, tt.names)
		}
	}
	s, _ := scenarioNamed("audio-200")
	if s.Video || !s.AudioOnlySubscribers || s.participants() != 210 {
		t.Errorf("audio-200 is %+v", s)
	}
	s, _ = scenarioNamed("cascade-3")
	if len(s.Nodes) != 3 || s.Cascade == nil || s.participants() != 12 || len(s.Cascade.Regions) != 3 {
		t.Errorf("cascade-3 is %+v", s)
	}
	s, _ = scenarioNamed("rooms-20x4")
	if s.participants() != 80 || s.Rooms != 20 {
		t.Errorf("rooms-20x4 is %+v", s)
	}
}

func TestMainRefusesNonsense(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "unknown flag"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"--scenarios", "nope"}, "unknown scenario"},
		{[]string{"--window", "10ms"}, "--window"},
		{[]string{"--join-rate", "-1"}, "--join-rate"},
		{[]string{"--exe", "/nonexistent/switchyard"}, "not a file"},
	}
	for _, tt := range tests {
		var out, errb strings.Builder
		if code := Main(t.Context(), tt.args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2", tt.args, code)
		}
		if !strings.Contains(errb.String(), tt.want) {
			t.Errorf("%v: stderr %q does not mention %q", tt.args, errb.String(), tt.want)
		}
	}
}

func TestTrafficModel(t *testing.T) {
	rep := &loadgen.Report{}
	rep.Received.AudioPackets, rep.Received.AudioBytes = 1000, 50_000
	rep.Received.VideoPackets, rep.Received.VideoBytes = 3000, 3_000_000
	// 5 publishers, 20 subscribers: every stream goes to 24 receivers.
	sc, _ := scenarioNamed("5x20")
	m, err := trafficModel(sc, NodeFigures{EgressPPS: 24 * 5 * 200}, rep)
	if err != nil {
		t.Fatal(err)
	}
	if m.AudioPPS != 50 || m.VideoPPS != 150 || m.AudioPayload != 50 || m.VideoPayload != 1000 {
		t.Errorf("model %+v; want 50 + 150 pps of 50 and 1000 bytes", m)
	}
	// Audio-only subscribers: video fans out to the other publishers only.
	sc = Scenario{Rooms: 1, Publishers: 3, Subscribers: 10, Audio: true, Video: true, AudioOnlySubscribers: true}
	// Each publisher sends 50 audio and 50 video packets/s: receivers
	// count audio to video as 12 to 2.
	rep.Received.AudioPackets, rep.Received.VideoPackets = 600, 100
	rep.Received.AudioBytes, rep.Received.VideoBytes = 600*50, 100*1000
	egress := 3.0 * (50*12 + 50*2)
	if m, err = trafficModel(sc, NodeFigures{EgressPPS: egress}, rep); err != nil {
		t.Fatal(err)
	}
	if math.Abs(m.AudioPPS-50) > 0.01 || math.Abs(m.VideoPPS-50) > 0.01 {
		t.Errorf("audio-only model %+v", m)
	}
	if m.UnforwardedPPS != 0 {
		t.Errorf("unforwarded %v pps without any ingress measured", m.UnforwardedPPS)
	}
	// The node received 3 simulcast layers per publisher and forwarded one:
	// the other 100 packets/s of 500 bytes are replayed to be dropped.
	fig := NodeFigures{EgressPPS: egress, IngressPPS: 3 * 200,
		IngressMbps: 3 * (50*50 + 50*1000 + 100*500) * 8 / 1e6}
	if m, err = trafficModel(sc, fig, rep); err != nil {
		t.Fatal(err)
	}
	if math.Abs(m.UnforwardedPPS-100) > 0.01 || m.UnforwardedPayload != 500 {
		t.Errorf("unforwarded %v pps of %d bytes; want 100 of 500", m.UnforwardedPPS, m.UnforwardedPayload)
	}
	if _, err := trafficModel(sc, NodeFigures{}, rep); err == nil {
		t.Error("a node that forwarded nothing gave a model")
	}
}

func TestPlotSVG(t *testing.T) {
	results := []Result{
		{Scenario: Scenario{Name: "5x20"}, Node: NodeFigures{CPUPercent: 20, EgressPPS: 10000},
			Reflector: &ReflectorFigures{CPUPerPacketUs: 5}},
		{Scenario: Scenario{Name: "5x5"}, Node: NodeFigures{CPUPercent: 6, EgressPPS: 2500}},
		{Scenario: Scenario{Name: "10x30"}, Node: NodeFigures{CPUPercent: 60}},
		{Scenario: Scenario{Name: "5x10"}, Error: "failed"},
	}
	pts := familyPoints(results)
	if len(pts) != 2 || pts[0].subs != 5 || pts[1].subs != 20 || pts[1].reflector != 5 || !math.IsNaN(pts[0].reflector) {
		t.Fatalf("points %+v", pts)
	}
	svg := plotSVG(pts, Machine{CPUModel: "A <fast> CPU & co", Cores: 2})
	d := xml.NewDecoder(strings.NewReader(svg))
	polylines := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not XML: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			polylines++
		}
	}
	if polylines != 2 {
		t.Errorf("%d polylines, want node and reflector", polylines)
	}
}

func TestTable(t *testing.T) {
	results := []Result{
		{Scenario: Scenario{Name: "5x20", Rooms: 1, Publishers: 5, Subscribers: 20},
			Node: NodeFigures{Participants: 25, CPUPercent: 12.34, CPUPerPacketUs: 3.5,
				ForwardDelayP50Us: 40, ForwardDelayP99Us: 10000, ForwardDelayP99AboveBuckets: true},
			Reflector: &ReflectorFigures{CPUPerPacketUs: 2}, Ratio: 1.75},
		{Scenario: Scenario{Name: "audio-200", Rooms: 1, Publishers: 10, Subscribers: 200}, Error: "node | crashed\nstack"},
	}
	tab := Table(results)
	lines := strings.Split(strings.TrimSpace(tab), "\n")
	if len(lines) != 4 {
		t.Fatalf("table has %d lines:\n%s", len(lines), tab)
	}
	if !strings.Contains(lines[2], "| 5x20 | 25 | 12.3 |") || !strings.Contains(lines[2], "1.75x") ||
		!strings.Contains(lines[2], "| 40 / >10000 |") {
		t.Errorf("row %q", lines[2])
	}
	if !strings.Contains(lines[3], "failed: node / crashed |") || strings.Contains(lines[3], "stack") {
		t.Errorf("failed row %q", lines[3])
	}
}

func TestNodeFigures(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	inf := math.Inf(1)
	s0 := sample{at: t0, cpu: 1, metrics: scrape{
		values:  map[string]float64{metricPacketsOut: 1000, metricPacketsIn: 100},
		buckets: []bucket{{1e-5, 10}, {1e-4, 10}, {inf, 10}},
	}}
	s1 := sample{at: t0.Add(10 * time.Second), cpu: 1.5, metrics: scrape{
		values:  map[string]float64{metricPacketsOut: 11000, metricPacketsIn: 2100},
		buckets: []bucket{{1e-5, 510}, {1e-4, 995}, {inf, 1010}},
	}}
	f := nodeFigures(s0, s1, []nodeAPI{{BitrateOut: 4e6, BitrateIn: 1e6}, {BitrateOut: 6e6, BitrateIn: 1e6}},
		50*1024, 150*1024, 20)
	want := NodeFigures{
		WindowSec: 10, CPUSec: 0.5, CPUPercent: 5, Participants: 20,
		PacketsIn: 2000, PacketsOut: 10000, IngressPPS: 200, EgressPPS: 1000,
		IngressMbps: 1, EgressMbps: 5, CPUPerPacketUs: 50, CPUPerMbitMs: 10,
		BaselineRSSMB: 50, PeakRSSMB: 150, MemPerParticipantKB: 5120,
		ForwardDelayP50Us: 10, ForwardDelayP99Us: 100, ForwardDelaySamples: 1000,
		ForwardDelayP99AboveBuckets: true, // 985 of 1000 within 100 µs: the 99th is beyond
	}
	if f != want {
		t.Errorf("figures\n %+v\nwant\n %+v", f, want)
	}
}
