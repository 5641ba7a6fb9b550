package quality

import (
	"strings"
	"testing"
	"time"
)

func TestLayerOfHeight(t *testing.T) {
	measured := map[string]int{"q": 180, "h": 360, "f": 720}
	for _, tc := range []struct {
		h       int
		heights map[string]int
		want    string
	}{
		{0, measured, ""},
		{180, measured, "q"},
		{360, measured, "h"},
		{720, measured, "f"},
		{700, measured, "f"}, // nearest
		{240, measured, "q"}, // nearer 180 than 360
		{300, measured, "h"}, // nearer 360
		{540, nil, "h"},      // the clips' heights when nothing is measured: tie goes to the lower
		{1080, nil, "f"},     // above the top
		{270, map[string]int{"q": 270, "h": 540, "f": 1080}, "q"},
		{540, map[string]int{"q": 270, "h": 540, "f": 1080}, "h"},
	} {
		if got := layerOfHeight(tc.h, tc.heights); got != tc.want {
			t.Errorf("layerOfHeight(%d, %v) = %q, want %q", tc.h, tc.heights, got, tc.want)
		}
	}
}

func TestMajority(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{"q"}, "q"},
		{[]string{"q", "q", "h", "h", "h"}, "h"},
		{[]string{"q", "h", "q", "h"}, "h"}, // tie: the latest
		{[]string{"h", "q", "h", "q"}, "q"},
		{[]string{"f", "", "", "q"}, ""},
		{[]string{"f", "f", "", "q"}, "f"},
	} {
		if got := majority(tc.in); got != tc.want {
			t.Errorf("majority(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// readings makes readings every 250 ms from the layers given, one per
// reading; Frames grows when a layer is set.
func readings(layers ...string) []Sample {
	out := make([]Sample, len(layers))
	var frames uint64
	for i, l := range layers {
		if l != "" {
			frames += 7
		}
		out[i] = Sample{T: 0.25 * float64(i+1), Layer: l, Forwarded: l, Frames: frames}
	}
	return out
}

func TestTimeline(t *testing.T) {
	layer := func(s Sample) string { return s.Layer }
	for _, tc := range []struct {
		name    string
		samples []Sample
		seconds int
		want    string
	}{
		{"empty", nil, 3, "???"},
		{"no seconds", readings("q"), 0, ""},
		{"steady", readings("q", "q", "q", "q", "h", "h", "h", "h"), 2, "qh"},
		{"none", readings("", "", "", "", "q", "q", "q", ""), 2, "-q"},
		{"none wins a tie late", readings("q", "q", "", ""), 1, "-"},
		// 3 of 4 readings decide; a 2-2 split goes to the later layer.
		{"majority", readings("q", "h", "h", "h", "h", "h", "f", "f"), 2, "hf"},
		// Readings beyond the run are left out; missing seconds show '?'.
		{"short", readings("f", "f", "f", "f", "f"), 3, "ff?"},
		{"beyond", readings("f", "f", "f", "f", "q", "q", "q", "q"), 1, "f"},
	} {
		if got := Timeline(tc.samples, tc.seconds, layer); got != tc.want {
			t.Errorf("%s: Timeline = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestTimelineBucketsByInterval checks that a reading counts for the second
// its interval lies in, not the one its late timestamp falls in: a reading
// taken just after 1 s covers 0.75..1.0 s.
func TestTimelineBucketsByInterval(t *testing.T) {
	s := []Sample{{T: 0.26, Layer: "q"}, {T: 0.51, Layer: "q"}, {T: 0.76, Layer: "h"}, {T: 1.01, Layer: "h"},
		{T: 1.26, Layer: "f"}, {T: 1.51, Layer: "f"}, {T: 1.76, Layer: "f"}, {T: 2.01, Layer: "q"}}
	if got := Timeline(s, 2, func(s Sample) string { return s.Layer }); got != "hf" {
		t.Errorf("Timeline = %q, want %q", got, "hf")
	}
}

func TestShares(t *testing.T) {
	got := shares(readings("q", "q", "h", ""), func(s Sample) string { return s.Layer })
	want := map[string]float64{"q": 0.5, "h": 0.25, noneKey: 0.25}
	if len(got) != len(want) {
		t.Fatalf("shares = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("share[%s] = %v, want %v", k, got[k], v)
		}
	}
	if got := shares(nil, func(s Sample) string { return s.Layer }); len(got) != 0 {
		t.Errorf("shares of nothing = %v", got)
	}
}

func TestTimeTo(t *testing.T) {
	s := readings("q", "q", "h", "f", "h", "f")
	for _, tc := range []struct {
		from  float64
		layer string
		want  float64
		ok    bool
	}{
		{0, "q", 0.25, true},
		{0, "f", 1.0, true},
		{0.5, "f", 0.5, true},
		{1.1, "f", 0.4, true}, // the second time it comes
		{1.6, "f", 0, false},
		{0, "x", 0, false},
	} {
		got, ok := timeTo(s, tc.from, tc.layer)
		if ok != tc.ok || (ok && !near(got, tc.want)) {
			t.Errorf("timeTo(from %v, %q) = %v, %v; want %v, %v", tc.from, tc.layer, got, ok, tc.want, tc.ok)
		}
	}
}

func TestEstimateVsCap(t *testing.T) {
	s := []Sample{
		{T: 0.25, CapBps: 400_000, EstimateBps: 2_500_000}, // no frame yet: left out
		{T: 0.5, CapBps: 400_000, EstimateBps: 300_000, Frames: 5},
		{T: 0.75, CapBps: 400_000, EstimateBps: 500_000, Frames: 10},
		{T: 1.0, CapBps: 0, EstimateBps: 9_000_000, Frames: 15}, // cap lifted: left out
	}
	est, capBps, ratio := estimateVsCap(s)
	if est != 400_000 || capBps != 400_000 || !near(ratio, 1.0) {
		t.Errorf("estimateVsCap = %v, %v, %v; want 400000, 400000, 1", est, capBps, ratio)
	}
	if est, capBps, ratio := estimateVsCap(s[3:]); est != 0 || capBps != 0 || ratio != 0 {
		t.Errorf("uncapped: estimateVsCap = %v, %v, %v; want zeros", est, capBps, ratio)
	}
}

func TestSummarize(t *testing.T) {
	// 8 readings over 2 s: capped q for 1 s, lifted at 1 s, f from 1.5 s.
	s := readings("", "q", "q", "q", "h", "f", "f", "f")
	for i := range s {
		s[i].EstimateBps = 300_000
		s[i].CapBps = 300_000
		if s[i].T > 1 {
			s[i].CapBps = 0
			s[i].EstimateBps = 1_500_000
		}
		s[i].Dominant = i >= 2
	}
	last := &s[len(s)-1]
	last.Freezes, last.FreezeMs = 1, 500
	last.NodeFreezes, last.NodeFreezeMs = 2, 750
	last.VideoPkts, last.VideoLost, last.VideoBytes, last.AudioBytes = 990, 10, 200_000, 50_000
	last.WireBytes = 300_000
	last.LinkSent, last.LinkDropped = 1000, 30
	last.Reason = "bandwidth estimate"

	sum := Summarize(s, 2, 1.0)
	if sum.Timeline != "qf" || sum.NodeTimeline != "qf" {
		t.Errorf("timelines %q, %q; want qf, qf", sum.Timeline, sum.NodeTimeline)
	}
	if sum.Share["q"] != 0.375 || sum.Share["h"] != 0.125 || sum.Share["f"] != 0.375 || sum.Share[noneKey] != 0.125 {
		t.Errorf("share %v", sum.Share)
	}
	if sum.FirstVideoSec != 0.5 {
		t.Errorf("first video %v, want 0.5", sum.FirstVideoSec)
	}
	// Frames whose layer is unknown (no keyframe yet) are not video yet.
	undecodable := readings("", "q", "q")
	undecodable[0].Frames, undecodable[1].Layer = 3, ""
	if got := firstVideo(undecodable); got != 0.75 {
		t.Errorf("first video %v with undecodable frames first, want 0.75", got)
	}
	if sum.TopAfterLiftSec == nil || !near(*sum.TopAfterLiftSec, 0.5) || sum.TopAfterLift != "0.50 s" {
		t.Errorf("top after lift %v %q, want 0.5", sum.TopAfterLiftSec, sum.TopAfterLift)
	}
	// After the lift at 1 s: q (1.0), h, f, f, f.
	if sum.TopShareAfterLift != 0.6 {
		t.Errorf("top share after the lift %v, want 0.6", sum.TopShareAfterLift)
	}
	if sum.Freezes != 1 || sum.FreezesPerMin != 30 || sum.FreezeSec != 0.5 {
		t.Errorf("freezes %d, %v/min, %v s; want 1, 30, 0.5", sum.Freezes, sum.FreezesPerMin, sum.FreezeSec)
	}
	if sum.NodeFreezes != 2 || sum.NodeFreezesMin != 60 || sum.NodeFreezeSec != 0.75 {
		t.Errorf("node freezes %d, %v/min, %v s", sum.NodeFreezes, sum.NodeFreezesMin, sum.NodeFreezeSec)
	}
	// Capped readings with a frame: 0.5, 0.75, 1.0, all at 300k.
	if sum.CapBps != 300_000 || sum.MeanEstimateBps != 300_000 || sum.EstimateRatio != 1 {
		t.Errorf("estimate %v of cap %v, ratio %v", sum.MeanEstimateBps, sum.CapBps, sum.EstimateRatio)
	}
	if sum.MeanEstimateAllBps != 900_000 {
		t.Errorf("mean estimate over the run %v, want 900000", sum.MeanEstimateAllBps)
	}
	if sum.WireKbps != 1200 || sum.MediaKbps != 1000 {
		t.Errorf("wire %v kbit/s, media %v; want 1200, 1000", sum.WireKbps, sum.MediaKbps)
	}
	if sum.LinkLossPct != 3 || sum.ResidualLossPct != 1 {
		t.Errorf("link loss %v%%, residual %v%%; want 3, 1", sum.LinkLossPct, sum.ResidualLossPct)
	}
	if sum.DominantShare != 0.75 {
		t.Errorf("dominant share %v, want 0.75", sum.DominantShare)
	}
	if sum.Reasons["bandwidth estimate"] != 0.125 || sum.Reasons[noneKey] != 0.875 {
		t.Errorf("reasons %v", sum.Reasons)
	}

	never := Summarize(readings("q", "q", "q", "q", "h", "h", "h", "h"), 2, 1.0)
	if never.TopAfterLift != "never" || never.TopAfterLiftSec != nil {
		t.Errorf("top layer never reached: %q %v", never.TopAfterLift, never.TopAfterLiftSec)
	}
	noLift := Summarize(readings("f", "f"), 1, 0)
	if noLift.TopAfterLift != "" || noLift.CapBps != 0 || noLift.EstimateRatio != 0 {
		t.Errorf("no lift, no cap: %+v", noLift)
	}
	empty := Summarize(nil, 3, 0)
	if empty.Timeline != "???" || empty.FirstVideoSec != -1 || empty.Share["f"] != 0 {
		t.Errorf("no readings: %+v", empty)
	}
}

func TestLookupCases(t *testing.T) {
	for _, tc := range []struct {
		list, want string
		err        bool
	}{
		{"all", CaseNames(), false},
		{"cap1m", "cap1m", false},
		{"rtt150, cap1m,rtt150", "rtt150,cap1m", false},
		{"cap1m,all", "cap1m,cap400-loss3,loss2,cap-lifted,rtt150", false},
		{"cap2m", "", true},
		{" , ", "", true},
	} {
		cs, err := LookupCases(tc.list)
		if (err != nil) != tc.err {
			t.Errorf("LookupCases(%q) error %v, want error %v", tc.list, err, tc.err)
			continue
		}
		var names []string
		for _, c := range cs {
			names = append(names, c.Name)
		}
		if got := strings.Join(names, ","); got != tc.want {
			t.Errorf("LookupCases(%q) = %s, want %s", tc.list, got, tc.want)
		}
	}
}

// TestCases pins what each case emulates, as the issue describes them.
func TestCases(t *testing.T) {
	byName := map[string]Case{}
	for _, c := range Cases {
		byName[c.Name] = c
		if err := c.Up.Validate(); err != nil {
			t.Errorf("%s up: %v", c.Name, err)
		}
		if err := c.Down.Validate(); err != nil {
			t.Errorf("%s down: %v", c.Name, err)
		}
	}
	if c := byName["cap400-loss3"]; c.Down.RateBitsPerSec != 400_000 || c.Down.Loss != 0.03 || c.Up.Loss != 0.03 {
		t.Errorf("cap400-loss3: %+v", c)
	}
	if c := byName["cap1m"]; c.Down.RateBitsPerSec != 1_000_000 || c.Down.Loss != 0 {
		t.Errorf("cap1m: %+v", c)
	}
	if c := byName["loss2"]; c.Down.RateBitsPerSec != 0 || c.Down.Loss != 0.02 {
		t.Errorf("loss2: %+v", c)
	}
	if c := byName["cap-lifted"]; c.Down.RateBitsPerSec != 300_000 || c.LiftAt != 20*time.Second ||
		c.Lifted.RateBitsPerSec != 0 || c.Lifted.Delay != c.Down.Delay {
		t.Errorf("cap-lifted: %+v", c)
	}
	if c := byName["rtt150"]; c.Up.Delay+c.Down.Delay != 150*time.Millisecond || c.Down.RateBitsPerSec != 0 || c.Down.Loss != 0 {
		t.Errorf("rtt150: %+v", c)
	}
	if err := byName["cap-lifted"].checkDuration(29 * time.Second); err == nil {
		t.Error("cap-lifted accepted a 29 s run")
	}
	if err := byName["cap-lifted"].checkDuration(30 * time.Second); err != nil {
		t.Errorf("cap-lifted refused a 30 s run: %v", err)
	}
	if err := byName["cap1m"].checkDuration(5 * time.Second); err != nil {
		t.Errorf("cap1m refused a 5 s run: %v", err)
	}
}

func TestTable(t *testing.T) {
	top := 3.25
	results := []Result{
		{Case: "cap-lifted", Link: "down 300 kbit/s until 20s", Samples: readings("q"), LoadStart: 0.5, LoadEnd: 2.5,
			Summary: Summary{Timeline: "qqf", NodeTimeline: "qff", Share: map[string]float64{"q": 0.5, "f": 0.5},
				TopAfterLift: "3.25 s", TopAfterLiftSec: &top, TopShareAfterLift: 0.4, CapBps: 300_000, MeanEstimateBps: 450_000, EstimateRatio: 1.5,
				Reasons: map[string]float64{"bandwidth estimate": 0.6, "best layer for the tile": 0.4}}},
		{Case: "rtt150", Link: "delay 75ms±5ms", Error: "quality: publisher join: boom"},
	}
	out := Table(results)
	for _, want := range []string{
		"| cap-lifted | down 300 kbit/s until 20s | 50 / 0 / 50 / 0 |",
		"| 3.25 s (then 40% at f) |",
		"| cap-lifted | 450 | 300 | 1.50 |",
		"bandwidth estimate (60%) | 0 | 0.5..2.5 |",
		"cap-lifted  client qqf\n            node   qff\n",
		"| rtt150 | delay 75ms±5ms | failed: quality: publisher join: boom |",
		"rtt150 failed: quality: publisher join: boom",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestMainUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--cases", "nope"},
		{"--cases", "cap-lifted", "--duration", "25s"},
		{"--duration", "1s"},
		{"--every", "0s"},
		{"extra"},
		{"--no-such-flag"},
	} {
		var stdout, stderr strings.Builder
		if code := Main(t.Context(), args, &stdout, &stderr); code != 2 {
			t.Errorf("Main(%q) = %d, want 2 (stderr %q)", args, code, stderr.String())
		}
	}
	var stdout, stderr strings.Builder
	if code := Main(t.Context(), []string{"--help"}, &stdout, &stderr); code != 0 ||
		!strings.Contains(stderr.String(), "cap400-loss3,cap1m,loss2,cap-lifted,rtt150") {
		t.Errorf("--help: exit %d, %q", code, stderr.String())
	}
}

func TestParseLoadAvg(t *testing.T) {
	for in, want := range map[string]float64{
		"0.52 0.58 0.59 1/467 12345\n": 0.52,
		"6.18 5.80 3.53 3/500 1":       6.18,
		"":                             0,
		"nan 1 1":                      0,
		"-1 0 0":                       0,
		"x":                            0,
	} {
		if got := parseLoadAvg(in); got != want {
			t.Errorf("parseLoadAvg(%q) = %v, want %v", in, got, want)
		}
	}
}

func near(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}
