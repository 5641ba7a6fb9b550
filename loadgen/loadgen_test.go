package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/node/nodetest"
)

// TestLoadAgainstNode runs the command against a real node: 2 publishers and
// 2 subscribers for 5 s, and checks that every figure was measured.
func TestLoadAgainstNode(t *testing.T) {
	if testing.Short() {
		t.Skip("joins real participants for several seconds")
	}
	n := nodetest.Start(t, nil)
	base := "http://" + n.Snapshot().Node.HTTPAddr
	path := filepath.Join(t.TempDir(), "load.json")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := Main(ctx, []string{"--url", base, "-p", "2", "-s", "2", "-d", "5s", "--join-rate", "10",
		"--log-level", "warn", "--json", path}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	t.Logf("\n%s", stdout.String())
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("report JSON: %v", err)
	}
	if rep.Joined != 4 || rep.JoinFailures != 0 {
		t.Errorf("joined %d, failed %d (%v); want 4, 0", rep.Joined, rep.JoinFailures, rep.JoinErrors)
	}
	if rep.JoinMs.N != 4 || rep.JoinMs.P50 <= 0 || rep.JoinMs.P95 < rep.JoinMs.P50 {
		t.Errorf("join ms %+v", rep.JoinMs)
	}
	if rep.FirstFrameOf != "subscribers" || rep.FirstFrameMs.N != 2 || rep.NoMedia != 0 || rep.FirstFrameMs.P50 <= 0 {
		t.Errorf("first frame %+v of %s, %d without media", rep.FirstFrameMs, rep.FirstFrameOf, rep.NoMedia)
	}
	if rep.Received.Mbps <= 0 || rep.Received.VideoPackets == 0 || rep.Received.AudioPackets == 0 {
		t.Errorf("received %+v", rep.Received)
	}
	if rep.SubscriberKbps.N != 2 || rep.SubscriberKbps.P50 <= 0 {
		t.Errorf("subscriber kbps %+v", rep.SubscriberKbps)
	}
	// Each subscriber sees 2 publishers and each publisher the other one.
	total := 0
	for _, v := range rep.Layers {
		total += v
	}
	if total != 6 || rep.Layers["none"] != 0 {
		t.Errorf("layers %v; want 6 subscriptions, all receiving", rep.Layers)
	}
	if rep.RTTMs.N == 0 || rep.RTTMs.P50 <= 0 {
		t.Errorf("rtt %+v, %d pings failed", rep.RTTMs, rep.PingFailures)
	}
	if rep.WindowSec < 4.5 {
		t.Errorf("window %.1f s; want the 5 s hold", rep.WindowSec)
	}
}

func TestMainRefusesNonsense(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--bogus"}, "unknown flag"},
		{"positional", []string{"extra"}, "unexpected argument"},
		{"no rooms", []string{"--rooms", "0"}, "rooms 0"},
		{"no publishers", []string{"-p", "0"}, "publishers 0"},
		{"negative subscribers", []string{"-s", "-1"}, "negative"},
		{"lonely publisher", []string{"-p", "1", "-s", "0"}, "receives nothing"},
		{"nothing published", []string{"--audio=false", "--video=false"}, "neither audio nor video"},
		{"audio-only without audio", []string{"--audio=false", "--audio-only-subscribers"}, "need publishers that publish audio"},
		{"negative height", []string{"--max-height", "-5"}, "negative"},
		{"zero duration", []string{"-d", "0s"}, "duration"},
		{"zero join rate", []string{"--join-rate", "0"}, "join rate"},
		{"NaN join rate", []string{"--join-rate", "NaN"}, "join rate"},
		{"bad url", []string{"--url", "ftp://x"}, "scheme"},
		{"hostless url", []string{"--url", "http://"}, "no host"},
		{"bad log level", []string{"--log-level", "loud"}, "log-level"},
		{"bad duration", []string{"-d", "soon"}, "invalid argument"},
		{"empty region", []string{"--regions", "us,,ap"}, "region 2"},
		{"spaced region", []string{"--regions", "us, eu"}, "region 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), tt.args, &stdout, &stderr)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q does not mention %q", stderr.String(), tt.want)
			}
		})
	}
}

func TestMainHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main(context.Background(), []string{"--help"}, &stdout, &stderr); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	if !strings.Contains(stderr.String(), "--join-rate") {
		t.Errorf("help does not list --join-rate:\n%s", stderr.String())
	}
}

func TestRunRefusesUnreachableNode(t *testing.T) {
	cfg := DefaultConfig()
	// A port from a listener we closed: nothing answers there.
	cfg.URL = "http://127.0.0.1:1"
	cfg.Publishers, cfg.Subscribers = 1, 1
	cfg.Duration = time.Second
	cfg.JoinTimeout = 2 * time.Second
	rep, err := Run(context.Background(), cfg)
	if err == nil {
		t.Fatal("Run against a closed port succeeded")
	}
	if rep.JoinFailures != 2 || len(rep.JoinErrors) != 2 {
		t.Errorf("join failures %d, errors %v; want 2", rep.JoinFailures, rep.JoinErrors)
	}
}

func TestSignalURL(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{"http://127.0.0.1:8080", "ws://127.0.0.1:8080/ws", false},
		{"http://127.0.0.1:8080/", "ws://127.0.0.1:8080/ws", false},
		{"https://sfu.example/base", "wss://sfu.example/base/ws", false},
		{"ws://127.0.0.1:9/ws", "ws://127.0.0.1:9/ws", false},
		{"127.0.0.1:8080", "", true},
		{"http://", "", true},
		{"%zz", "", true},
	}
	for _, tt := range tests {
		got, err := signalURL(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("signalURL(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		in   []float64
		want Summary
	}{
		{nil, Summary{}},
		{[]float64{7}, Summary{N: 1, P50: 7, P95: 7, Mean: 7, Max: 7}},
		{[]float64{4, 1, 3, 2}, Summary{N: 4, P50: 2, P95: 4, Mean: 2.5, Max: 4}},
		{[]float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20},
			Summary{N: 20, P50: 10, P95: 19, Mean: 10.5, Max: 20}},
	}
	for _, tt := range tests {
		if got := summarize(tt.in); got != tt.want {
			t.Errorf("summarize(%v) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestFirstMedia(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		streams map[string]client.Stream
		video   bool
		want    time.Time // zero: now, checked loosely
		ok      bool
	}{
		{"nothing", map[string]client.Stream{}, true, time.Time{}, false},
		{"audio only while video wanted", map[string]client.Stream{"a": {AudioPackets: 5, LastAudio: t0}}, true, time.Time{}, false},
		{"delta frames before a keyframe", map[string]client.Stream{"a": {VideoPackets: 9, LastVideo: t0}}, true, time.Time{}, false},
		{"one keyframe is exact", map[string]client.Stream{"a": {Keyframes: 1, LastKeyframe: t0.Add(time.Second)}}, true, t0.Add(time.Second), true},
		{"earliest publisher wins", map[string]client.Stream{
			"a": {Keyframes: 1, LastKeyframe: t0.Add(2 * time.Second)},
			"b": {Keyframes: 1, LastKeyframe: t0.Add(time.Second)},
		}, true, t0.Add(time.Second), true},
		{"first audio packet is exact", map[string]client.Stream{"a": {AudioPackets: 1, LastAudio: t0}}, false, t0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := firstMedia(tt.streams, tt.video)
			if ok != tt.ok || !got.Equal(tt.want) {
				t.Errorf("firstMedia = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
	// Several keyframes since the last look: only "by now" is known.
	before := time.Now()
	got, ok := firstMedia(map[string]client.Stream{"a": {Keyframes: 3, LastKeyframe: t0}}, true)
	if !ok || got.Before(before) {
		t.Errorf("several keyframes: %v, %v; want a time no earlier than the call", got, ok)
	}
}

func TestPlanRegions(t *testing.T) {
	tests := []struct {
		name             string
		regions          []string
		rooms, pubs, sub int
		want             map[string]string // participant name to region
	}{
		{"no regions", nil, 1, 2, 1, map[string]string{"pub-1-1": "", "pub-1-2": "", "sub-1-1": ""}},
		{"one region", []string{"eu"}, 1, 1, 2, map[string]string{"pub-1-1": "eu", "sub-1-1": "eu", "sub-1-2": "eu"}},
		{"three regions, publishers first", []string{"us", "eu", "ap"}, 1, 3, 4, map[string]string{
			"pub-1-1": "us", "pub-1-2": "eu", "pub-1-3": "ap",
			"sub-1-1": "us", "sub-1-2": "eu", "sub-1-3": "ap", "sub-1-4": "us"}},
		{"turns restart in every room", []string{"us", "eu"}, 2, 1, 2, map[string]string{
			"pub-1-1": "us", "pub-2-1": "us", "sub-1-1": "eu", "sub-2-1": "eu", "sub-1-2": "us", "sub-2-2": "us"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Regions, cfg.Rooms, cfg.Publishers, cfg.Subscribers = tt.regions, tt.rooms, tt.pubs, tt.sub
			r := &run{cfg: cfg}
			r.plan()
			got := map[string]string{}
			for _, p := range r.all() {
				got[p.name] = p.region
			}
			if len(got) != len(tt.want) {
				t.Fatalf("planned %v, want %v", got, tt.want)
			}
			for name, region := range tt.want {
				if got[name] != region {
					t.Errorf("%s in region %q, want %q", name, got[name], region)
				}
			}
		})
	}
}

func TestSplitRTT(t *testing.T) {
	tests := []struct {
		name  string
		in    map[nodePair][]float64
		nodes int
		pairs []PairRTT
		same  *Summary
	}{
		{"one node", map[nodePair][]float64{{"a", "a"}: {1, 2}}, 1, nil, nil},
		{"no pings", nil, 3, nil, nil},
		{"cross only", map[nodePair][]float64{{"eu", "us"}: {41, 43, 42}}, 2,
			[]PairRTT{{A: "eu", B: "us", RTT: Summary{N: 3, P50: 42, P95: 43, Mean: 42, Max: 43}}}, nil},
		{"same pooled, pairs in order", map[nodePair][]float64{
			{"us", "us"}: {2, 4}, {"ap", "eu"}: {80}, {"eu", "eu"}: {3}, {"eu", "us"}: {40},
		}, 3, []PairRTT{
			{A: "ap", B: "eu", RTT: Summary{N: 1, P50: 80, P95: 80, Mean: 80, Max: 80}},
			{A: "eu", B: "eu", RTT: Summary{N: 1, P50: 3, P95: 3, Mean: 3, Max: 3}},
			{A: "eu", B: "us", RTT: Summary{N: 1, P50: 40, P95: 40, Mean: 40, Max: 40}},
			{A: "us", B: "us", RTT: Summary{N: 2, P50: 2, P95: 4, Mean: 3, Max: 4}},
		}, &Summary{N: 3, P50: 3, P95: 4, Mean: 3, Max: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pairs, same := splitRTT(tt.in, tt.nodes)
			if !slices.Equal(pairs, tt.pairs) {
				t.Errorf("pairs %+v, want %+v", pairs, tt.pairs)
			}
			if (same == nil) != (tt.same == nil) || (same != nil && *same != *tt.same) {
				t.Errorf("same-node %+v, want %+v", same, tt.same)
			}
		})
	}
	if pairOf("us", "eu") != pairOf("eu", "us") {
		t.Error("pairOf depends on the order")
	}
}
