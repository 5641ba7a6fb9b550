package rtxguard

import (
	"sync"
	"testing"
	"time"
)

// phase forwards and asks for retransmissions at steady rates.
type phase struct {
	dur                time.Duration
	fwdPerSec, fwdSize int
	askPerSec, askSize int
}

// simulate runs phases in 1 ms ticks and returns the retransmissions granted
// in the last phase, and their bytes.
func simulate(b *Budget, start time.Time, phases []phase) (granted, bytes int) {
	now := start
	for _, ph := range phases {
		granted, bytes = 0, 0
		ticks := int(ph.dur / time.Millisecond)
		for i := range ticks {
			for range ph.fwdPerSec*(i+1)/1000 - ph.fwdPerSec*i/1000 {
				b.Forwarded(1, ph.fwdSize)
			}
			for range ph.askPerSec*(i+1)/1000 - ph.askPerSec*i/1000 {
				if b.Allow(now) {
					b.Retransmitted(ph.askSize)
					granted++
					bytes += ph.askSize
				}
			}
			now = now.Add(time.Millisecond)
		}
	}
	return granted, bytes
}

func TestBudget(t *testing.T) {
	const s = time.Second
	video := phase{dur: 5 * s, fwdPerSec: 250, fwdSize: 1200} // 2.4 Mbit/s
	tests := []struct {
		name   string
		cfg    BudgetConfig
		phases []phase
		lo, hi int // granted in the last phase
	}{
		{"an instant burst gets the floor's burst",
			BudgetConfig{}, []phase{{dur: time.Millisecond, askPerSec: 20000, askSize: 1000}}, 10, 10},
		{"the byte budget may overshoot by one packet",
			BudgetConfig{}, []phase{{dur: time.Millisecond, askPerSec: 20000, askSize: 1500}}, 9, 9},
		{"nothing forwarded: the floor per second",
			BudgetConfig{}, []phase{{dur: 10 * s, askPerSec: 1000, askSize: 1000}}, 10 + 199, 10 + 200},
		{"a quarter of a video stream",
			BudgetConfig{}, []phase{video, {dur: 10 * s, fwdPerSec: 250, fwdSize: 1200, askPerSec: 1000, askSize: 1200}},
			625, 625 + 32},
		{"a storm of NACKs at 200/s × 512",
			BudgetConfig{}, []phase{video, {dur: 10 * s, fwdPerSec: 250, fwdSize: 1200, askPerSec: 102400, askSize: 1200}},
			625, 625 + 32},
		{"an honest loss rate is all answered",
			BudgetConfig{}, []phase{video, {dur: 10 * s, fwdPerSec: 250, fwdSize: 1200, askPerSec: 12, askSize: 1200}},
			120, 120},
		{"a thin stream gets the floor",
			BudgetConfig{}, []phase{{dur: 5 * s, fwdPerSec: 50, fwdSize: 100}, {dur: 10 * s, fwdPerSec: 50, fwdSize: 100, askPerSec: 1000, askSize: 100}},
			200, 200 + 10},
		{"bytes bind: many small packets forwarded, large ones asked for",
			BudgetConfig{}, []phase{{dur: 5 * s, fwdPerSec: 1000, fwdSize: 100}, {dur: 10 * s, fwdPerSec: 1000, fwdSize: 100, askPerSec: 1000, askSize: 1000}},
			250, 250 + 14},
		{"an idle receiver saves only a burst",
			BudgetConfig{}, []phase{{dur: 10 * s, fwdPerSec: 250, fwdSize: 1200}, {dur: s, fwdPerSec: 250, fwdSize: 1200, askPerSec: 100000, askSize: 1200}},
			62 + 31, 62 + 32},
		{"when the stream stops the allowance falls to the floor within seconds",
			BudgetConfig{}, []phase{video, {dur: 2 * s}, {dur: 2 * s, askPerSec: 1000, askSize: 1000},
				{dur: 10 * s, askPerSec: 1000, askSize: 1000}},
			200, 205},
		{"configured",
			BudgetConfig{Fraction: 0.1, FloorPackets: 5, FloorBytes: 5000, Burst: s},
			[]phase{video, {dur: 10 * s, fwdPerSec: 250, fwdSize: 1200, askPerSec: 1000, askSize: 1200}},
			250, 250 + 25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Unix(1000, 0)
			got, _ := simulate(NewBudget(tt.cfg, start), start, tt.phases)
			if got < tt.lo || got > tt.hi {
				t.Errorf("granted %d, want %d..%d", got, tt.lo, tt.hi)
			}
		})
	}
}

func TestBudgetCancel(t *testing.T) {
	now := time.Unix(1000, 0)
	b := NewBudget(BudgetConfig{}, now)
	for range 10 {
		if !b.Allow(now) {
			t.Fatal("the initial burst is 10 packets")
		}
		b.Cancel()
	}
	granted := 0
	for b.Allow(now) {
		granted++
	}
	if granted != 10 {
		t.Errorf("after 10 cancelled, granted %d, want 10", granted)
	}
}

func TestBudgetClockBack(t *testing.T) {
	now := time.Unix(1000, 0)
	b := NewBudget(BudgetConfig{}, now)
	for b.Allow(now) {
	}
	b.Forwarded(100, 100000)
	if b.Allow(now.Add(-time.Second)) {
		t.Error("a clock that went back credited the budget")
	}
	if !b.Allow(now.Add(100 * time.Millisecond)) {
		t.Error("no credit 100 ms later")
	}
}

// TestBudgetConcurrent shares a Budget among tracks on several goroutines
// (run with -race): the grants stay within the bound.
func TestBudgetConcurrent(t *testing.T) {
	start := time.Unix(1000, 0)
	b := NewBudget(BudgetConfig{}, start)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for i := range 1000 {
				b.Forwarded(1, 1000)
				if b.Allow(start.Add(time.Duration(i) * time.Millisecond)) {
					b.Retransmitted(1000)
					n++
				}
			}
			mu.Lock()
			total += n
			mu.Unlock()
			_ = g
		}()
	}
	wg.Wait()
	// 4000 packets of 1000 bytes forwarded in about 1 s: a quarter, plus the
	// floor and its burst, is the most.
	if limit := 1000 + 20 + 10; total > limit || total == 0 {
		t.Errorf("granted %d, want 1..%d", total, limit)
	}
}

func BenchmarkBudgetForwarded(b *testing.B) {
	bu := NewBudget(BudgetConfig{}, time.Unix(1000, 0))
	b.ReportAllocs()
	for b.Loop() {
		bu.Forwarded(1, 1200)
	}
}

// BenchmarkBudgetAllow is a storm's refused Allow: a refill and a refusal.
func BenchmarkBudgetAllow(b *testing.B) {
	now := time.Unix(1000, 0)
	bu := NewBudget(BudgetConfig{}, now)
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Microsecond)
		bu.Forwarded(1, 1200)
		if bu.Allow(now) {
			bu.Retransmitted(1200)
		}
	}
}
