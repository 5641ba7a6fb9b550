package layer

import (
	"fmt"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/node/snapshot"
)

const (
	qRate = 150_000
	hRate = 500_000
	fRate = 1_500_000
)

// sim returns the usual three layers; active lists the rids being sent
// ("qhf" = all).
func sim(active string) []Layer {
	return []Layer{
		{RID: "q", Bitrate: qRate, Height: 180, Active: strings.Contains(active, "q")},
		{RID: "h", Bitrate: hRate, Height: 360, Active: strings.Contains(active, "h")},
		{RID: "f", Bitrate: fRate, Height: 720, Active: strings.Contains(active, "f")},
	}
}

// noHeights is sim without heights, as before the first keyframe is parsed.
func noHeights(active string) []Layer {
	ls := sim(active)
	for i := range ls {
		ls[i].Height = 0
	}
	return ls
}

// req is a Request with no constraint, no cap, nothing forwarded yet.
func req(ls []Layer) Request {
	return Request{Layers: ls, MaxHeight: -1, Cap: -1, Current: -1}
}

func (r Request) maxHeight(h int) Request { r.MaxHeight = h; return r }
func (r Request) capAt(c int) Request     { r.Cap = c; return r }
func (r Request) current(c int) Request   { r.Current = c; return r }
func (r Request) priority() Request       { r.Priority = PrioritySpeaker; return r }
func (r Request) screen() Request         { r.Priority = PriorityScreen; return r }
func (r Request) spoke(n int) Request     { r.Recency = n; return r }

func margin(b int64) int64 { return b + b*upgradeMarginPct/100 }

func TestAllocateSingle(t *testing.T) {
	plenty := int64(100_000_000)
	tests := []struct {
		name   string
		budget int64
		req    Request
		want   Choice
	}{
		// What the tile wants, with bandwidth to spare.
		{"no constraint", plenty, req(sim("qhf")), Choice{2, ReasonBest}},
		{"tile 720", plenty, req(sim("qhf")).maxHeight(720), Choice{2, ReasonBest}},
		{"tile 1080, none tall enough", plenty, req(sim("qhf")).maxHeight(1080), Choice{2, ReasonBest}},
		{"tile 360", plenty, req(sim("qhf")).maxHeight(360), Choice{1, ReasonConstraint}},
		{"tile 300 rounds up", plenty, req(sim("qhf")).maxHeight(300), Choice{1, ReasonConstraint}},
		{"tile 361 rounds up", plenty, req(sim("qhf")).maxHeight(361), Choice{2, ReasonBest}},
		{"tile 180", plenty, req(sim("qhf")).maxHeight(180), Choice{0, ReasonConstraint}},
		{"thumbnail", plenty, req(sim("qhf")).maxHeight(90), Choice{0, ReasonConstraint}},
		{"hidden", plenty, req(sim("qhf")).maxHeight(0), Choice{-1, ReasonHidden}},
		{"hidden and capped", plenty, req(sim("qhf")).maxHeight(0).capAt(0), Choice{-1, ReasonHidden}},
		{"other negative height means none", plenty, req(sim("qhf")).maxHeight(-7), Choice{2, ReasonBest}},

		// Operator caps.
		{"cap h", plenty, req(sim("qhf")).capAt(1), Choice{1, ReasonOperatorCap}},
		{"cap q", plenty, req(sim("qhf")).capAt(0), Choice{0, ReasonOperatorCap}},
		{"cap above top", plenty, req(sim("qhf")).capAt(5), Choice{2, ReasonBest}},
		{"cap f is no cap", plenty, req(sim("qhf")).capAt(2), Choice{2, ReasonBest}},
		{"constraint below cap", plenty, req(sim("qhf")).capAt(1).maxHeight(180), Choice{0, ReasonConstraint}},
		{"cap below constraint", plenty, req(sim("qhf")).capAt(0).maxHeight(720), Choice{0, ReasonOperatorCap}},
		{"cap on an unpublished layer", plenty, req(sim("qf")).capAt(1), Choice{0, ReasonNotPublished}},
		{"cap excludes every published layer", plenty, req(sim("hf")).capAt(0), Choice{-1, ReasonOperatorCap}},

		// Layers the publisher is not sending.
		{"nothing published", plenty, req(sim("")), Choice{-1, ReasonNotPublished}},
		{"no layers at all", plenty, req(nil), Choice{-1, ReasonNotPublished}},
		{"top not published", plenty, req(sim("qh")), Choice{1, ReasonNotPublished}},
		{"only q", plenty, req(sim("q")), Choice{0, ReasonNotPublished}},
		{"only f", plenty, req(sim("f")), Choice{2, ReasonBest}},
		{"wanted h missing goes up", plenty, req(sim("qf")).maxHeight(360), Choice{2, ReasonBest}},
		{"wanted h missing, f missing", plenty, req(sim("q")).maxHeight(360), Choice{0, ReasonNotPublished}},
		{"hidden and unpublished", plenty, req(sim("")).maxHeight(0), Choice{-1, ReasonHidden}},
		{"single-layer publisher", plenty, req([]Layer{{RID: "", Bitrate: 800_000, Height: 480, Active: true}}), Choice{0, ReasonBest}},

		// Heights not known yet: the usual 1/4, 1/2, 1 ratios of 720p.
		{"unknown heights, tile 360", plenty, req(noHeights("qhf")).maxHeight(360), Choice{1, ReasonConstraint}},
		{"unknown heights, tile 200", plenty, req(noHeights("qhf")).maxHeight(200), Choice{1, ReasonConstraint}},
		{"unknown heights, tile 180", plenty, req(noHeights("qhf")).maxHeight(180), Choice{0, ReasonConstraint}},
		{"unknown heights, no constraint", plenty, req(noHeights("qhf")), Choice{2, ReasonBest}},
		{"only top height known", plenty, req([]Layer{
			{RID: "q", Bitrate: qRate, Active: true},
			{RID: "h", Bitrate: hRate, Active: true},
			{RID: "f", Bitrate: fRate, Height: 1080, Active: true},
		}).maxHeight(540), Choice{1, ReasonConstraint}},
		{"only bottom height known", plenty, req([]Layer{
			{RID: "q", Bitrate: qRate, Height: 270, Active: true},
			{RID: "h", Bitrate: hRate, Active: true},
			{RID: "f", Bitrate: fRate, Active: true},
		}).maxHeight(541), Choice{2, ReasonBest}},

		// Bandwidth.
		{"no budget", 0, req(sim("qhf")), Choice{-1, ReasonBandwidth}},
		{"negative budget", -1, req(sim("qhf")), Choice{-1, ReasonBandwidth}},
		{"less than q", qRate, req(sim("qhf")), Choice{-1, ReasonBandwidth}},
		{"q with margin", margin(qRate), req(sim("qhf")), Choice{0, ReasonBandwidth}},
		{"q while on q needs no margin", qRate, req(sim("qhf")).current(0), Choice{0, ReasonBandwidth}},
		{"h needs margin to go up", margin(hRate) - 1, req(sim("qhf")).current(0), Choice{0, ReasonBandwidth}},
		{"h with margin", margin(hRate), req(sim("qhf")).current(0), Choice{1, ReasonBandwidth}},
		{"stay on h", hRate, req(sim("qhf")).current(1), Choice{1, ReasonBandwidth}},
		{"stay on f", fRate, req(sim("qhf")).current(2), Choice{2, ReasonBest}},
		{"f just short", fRate - 1, req(sim("qhf")).current(2), Choice{1, ReasonBandwidth}},
		{"drop from f to q", hRate - 1, req(sim("qhf")).current(2), Choice{0, ReasonBandwidth}},
		{"f without margin from h", fRate, req(sim("qhf")).current(1), Choice{1, ReasonBandwidth}},
		{"f with margin from h", margin(fRate), req(sim("qhf")).current(1), Choice{2, ReasonBest}},
		{"current out of range", margin(fRate) - 1, req(sim("qhf")).current(7), Choice{1, ReasonBandwidth}},
		{"skips an unpublished middle layer", margin(fRate), req(sim("qf")), Choice{2, ReasonBest}},
		{"constraint met on a small budget", margin(hRate), req(sim("qhf")).maxHeight(360), Choice{1, ReasonConstraint}},
		{"cap met on a small budget", margin(hRate), req(sim("qhf")).capAt(1), Choice{1, ReasonOperatorCap}},

		// Priority.
		{"priority below q gets q", 1, req(sim("qhf")).priority(), Choice{0, ReasonBandwidth}},
		{"priority with no budget", 0, req(sim("qhf")).priority(), Choice{-1, ReasonBandwidth}},
		{"priority hidden", plenty, req(sim("qhf")).maxHeight(0).priority(), Choice{-1, ReasonHidden}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := []Choice{{Target: 99, Reason: 99}}
			Allocate(tt.budget, []Request{tt.req}, out)
			if out[0] != tt.want {
				t.Fatalf("got %d (%v), want %d (%v)", out[0].Target, out[0].Reason, tt.want.Target, tt.want.Reason)
			}
		})
	}
}

func TestAllocateMany(t *testing.T) {
	all := sim("qhf")
	tests := []struct {
		name   string
		budget int64
		reqs   []Request
		want   []int // targets
	}{
		{
			name:   "everyone gets q first",
			budget: 3 * margin(qRate),
			reqs:   []Request{req(all), req(all), req(all)},
			want:   []int{0, 0, 0},
		},
		{
			name:   "budget for two q only: first come",
			budget: 2*margin(qRate) + 1,
			reqs:   []Request{req(all), req(all), req(all)},
			want:   []int{0, 0, -1},
		},
		{
			name:   "priority is served first even when listed last",
			budget: 2*margin(qRate) + 1,
			reqs:   []Request{req(all), req(all), req(all).priority()},
			want:   []int{0, -1, 0},
		},
		{
			name:   "priority gets q on a budget too small for anyone",
			budget: qRate / 2,
			reqs:   []Request{req(all), req(all).priority()},
			want:   []int{-1, 0},
		},
		{
			name:   "priority goes to f before the others leave q",
			budget: 2*qRate + margin(fRate),
			reqs:   []Request{req(all), req(all).priority(), req(all)},
			want:   []int{0, 2, 0},
		},
		{
			name:   "a screen share is served before the dominant speaker",
			budget: 2*margin(qRate) + 1,
			reqs:   []Request{req(all).priority(), req(all), req(all).screen()},
			want:   []int{0, -1, 0},
		},
		{
			name:   "a screen share goes to f before the speaker leaves q",
			budget: 2*qRate + margin(fRate),
			reqs:   []Request{req(all).priority(), req(all).screen()},
			want:   []int{0, 2},
		},
		{
			name:   "round robin: both reach h before either reaches f",
			budget: 2 * margin(hRate),
			reqs:   []Request{req(all), req(all)},
			want:   []int{1, 1},
		},
		{
			name:   "round robin: leftovers go in order",
			budget: hRate + margin(fRate) + qRate,
			reqs:   []Request{req(all), req(all)},
			want:   []int{2, 1},
		},
		{
			name: "a request that cannot step up does not block a cheaper one",
			// q+q, then h+h, then f is too dear for the first but not
			// for the second.
			budget: 830_000,
			reqs: []Request{
				req(all).current(0),
				req([]Layer{
					{RID: "q", Bitrate: 50_000, Height: 180, Active: true},
					{RID: "h", Bitrate: 100_000, Height: 360, Active: true},
					{RID: "f", Bitrate: 200_000, Height: 720, Active: true},
				}),
			},
			want: []int{1, 2},
		},
		{
			name:   "hidden and constrained tiles leave room for the big one",
			budget: qRate + margin(fRate),
			reqs:   []Request{req(all).maxHeight(0), req(all).maxHeight(180), req(all)},
			want:   []int{-1, 0, 2},
		},
		{
			name:   "hysteresis keeps the incumbent",
			budget: hRate + hRate,
			reqs:   []Request{req(all).current(1), req(all).current(0)},
			want:   []int{1, 0},
		},
		{
			name:   "nothing fits and nobody has priority",
			budget: qRate,
			reqs:   []Request{req(all), req(all)},
			want:   []int{-1, -1},
		},
		{
			name:   "a later, cheaper base layer still fits",
			budget: margin(50_000),
			reqs: []Request{
				req(all),
				req([]Layer{{RID: "q", Bitrate: 50_000, Height: 180, Active: true}}),
			},
			want: []int{-1, 0},
		},
		{
			name:   "last-N: q for the two who spoke most recently, whatever the order",
			budget: 2*margin(qRate) + 1,
			reqs:   []Request{req(all).spoke(2), req(all).spoke(0), req(all).spoke(1)},
			want:   []int{-1, 0, 0},
		},
		{
			name:   "last-N: the speaker, then screen, then recency",
			budget: 3*margin(qRate) + 1,
			reqs:   []Request{req(all).spoke(3), req(all).spoke(1), req(all).priority(), req(all).screen(), req(all).spoke(2)},
			want:   []int{-1, 0, 0, 0, -1},
		},
		{
			name:   "last-N: upgrades go to the most recent first",
			budget: 2*qRate + margin(hRate) - qRate + 1000,
			reqs:   []Request{req(all).spoke(1), req(all).spoke(0)},
			want:   []int{0, 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := make([]Choice, len(tt.reqs))
			Allocate(tt.budget, tt.reqs, out)
			for i, want := range tt.want {
				if out[i].Target != want {
					t.Errorf("request %d: target %d (%v), want %d", i, out[i].Target, out[i].Reason, want)
				}
			}
			checkBudget(t, tt.budget, tt.reqs, out)
		})
	}
}

// checkBudget asserts that, apart from the one priority overshoot the
// allocator allows, the chosen layers fit the budget.
func checkBudget(t *testing.T, budget int64, reqs []Request, out []Choice) {
	t.Helper()
	var used, overshoot int64
	for i, c := range out {
		if c.Target < 0 {
			continue
		}
		b := reqs[i].Layers[c.Target].Bitrate
		used += b
		if reqs[i].Priority > PriorityNormal && c.Target == lowestActive(reqs[i].Layers) {
			overshoot = max(overshoot, b)
		}
	}
	if used > max(budget, 0) && used-overshoot > max(budget, 0) {
		t.Errorf("allocated %d bits/s of a %d budget", used, budget)
	}
}

func TestAllocateProperties(t *testing.T) {
	// Sweep budgets over a mixed set of requests: more budget never
	// lowers the total sent, targets never exceed what is wanted, and the
	// budget holds.
	reqs := []Request{
		req(sim("qhf")),
		req(sim("qhf")).priority().current(2),
		req(sim("qf")).maxHeight(360),
		req(noHeights("qhf")).capAt(1),
		req(sim("qhf")).maxHeight(0),
		req(sim("h")),
	}
	out := make([]Choice, len(reqs))
	prev := int64(-1)
	for budget := int64(0); budget < 6_000_000; budget += 25_000 {
		Allocate(budget, reqs, out)
		checkBudget(t, budget, reqs, out)
		var total int64
		for i, c := range out {
			want, _ := wanted(&reqs[i])
			if c.Target > want {
				t.Fatalf("budget %d: request %d got %d above wanted %d", budget, i, c.Target, want)
			}
			if c.Target >= 0 {
				if !reqs[i].Layers[c.Target].Active {
					t.Fatalf("budget %d: request %d got inactive layer %d", budget, i, c.Target)
				}
				total += reqs[i].Layers[c.Target].Bitrate
			}
		}
		if total < prev {
			t.Fatalf("budget %d sends %d, less than %d on a smaller budget", budget, total, prev)
		}
		prev = total
	}
}

func TestReasonWords(t *testing.T) {
	tests := []struct {
		r    Reason
		want string
	}{
		{ReasonBest, snapshot.ReasonBest},
		{ReasonBandwidth, snapshot.ReasonBandwidth},
		{ReasonConstraint, snapshot.ReasonConstraint},
		{ReasonOperatorCap, snapshot.ReasonOperatorCap},
		{ReasonNotPublished, snapshot.ReasonNotSent},
		{ReasonHidden, snapshot.ReasonHidden},
		{ReasonLastN, snapshot.ReasonLastN},
		{Reason(200), "unknown"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("Reason(%d).String() = %q, want %q", tt.r, got, tt.want)
		}
	}
}

func BenchmarkAllocate(b *testing.B) {
	for _, n := range []int{4, 25} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			reqs := make([]Request, n)
			for i := range reqs {
				reqs[i] = req(sim("qhf")).current(i % 3)
				if i%5 == 0 {
					reqs[i].MaxHeight = 180
				}
			}
			reqs[n/2].Priority = PrioritySpeaker
			out := make([]Choice, n)
			b.ReportAllocs()
			for b.Loop() {
				Allocate(int64(n)*400_000, reqs, out)
			}
		})
	}
}

// TestLastNReason: a tile left without video because others spoke more
// recently says so; one left out when nobody could be served says the
// estimate.
func TestLastNReason(t *testing.T) {
	all := sim("qhf")
	out := make([]Choice, 2)
	Allocate(margin(qRate)+1, []Request{req(all).spoke(1), req(all).spoke(0)}, out)
	if out[0].Target != -1 || out[0].Reason != ReasonLastN || out[1].Target != 0 {
		t.Errorf("got %+v, want the older speaker left out for the recent one", out)
	}
	Allocate(qRate/2, []Request{req(all).spoke(1), req(all).spoke(0)}, out)
	if out[0].Reason != ReasonBandwidth || out[1].Reason != ReasonBandwidth {
		t.Errorf("got %+v, want the estimate as the reason when nobody fits", out)
	}
}
