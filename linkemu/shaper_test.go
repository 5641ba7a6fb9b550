package linkemu

import (
	"testing"
	"time"
)

func testShaper(p Params, seed uint64) *shaper {
	s := newShaper(p, newRand(seed, 1))
	return &s
}

func TestShaperDelayAndCap(t *testing.T) {
	type offer struct {
		after time.Duration // since t0
		size  int
	}
	type want struct {
		verdict Verdict
		at      time.Duration // since t0, for Queued
	}
	tests := []struct {
		name   string
		p      Params
		offers []offer
		want   []want
	}{
		{
			name:   "perfect link delivers at once",
			offers: []offer{{0, 1200}, {time.Millisecond, 1200}},
			want:   []want{{Queued, 0}, {Queued, time.Millisecond}},
		},
		{
			name:   "delay shifts every datagram",
			p:      Params{Delay: 40 * time.Millisecond},
			offers: []offer{{0, 100}, {5 * time.Millisecond, 100}},
			want:   []want{{Queued, 40 * time.Millisecond}, {Queued, 45 * time.Millisecond}},
		},
		{
			// 1250 bytes are 10 kbit: 10 ms each at 1 Mbit/s, back to back.
			name:   "cap serialises a burst",
			p:      Params{RateBitsPerSec: 1_000_000},
			offers: []offer{{0, 1250}, {0, 1250}, {0, 1250}, {0, 1250}},
			want: []want{
				{Queued, 10 * time.Millisecond}, {Queued, 20 * time.Millisecond},
				{Queued, 30 * time.Millisecond}, {Queued, 40 * time.Millisecond},
			},
		},
		{
			// 1500 bytes take 12 ms; the queue holds two of them, counting
			// the one in transmission.
			name: "cap drops what does not fit the queue",
			p:    Params{RateBitsPerSec: 1_000_000, QueueBytes: 3000},
			offers: []offer{
				{0, 1500}, {0, 1500}, {0, 1500}, {0, 1500}, {24 * time.Millisecond, 1500},
			},
			want: []want{
				{Queued, 12 * time.Millisecond}, {Queued, 24 * time.Millisecond},
				{Overflow, 0}, {Overflow, 0}, {Queued, 36 * time.Millisecond},
			},
		},
		{
			name: "queue drains while the link is idle",
			p:    Params{RateBitsPerSec: 1_000_000, Delay: 10 * time.Millisecond},
			offers: []offer{
				{0, 1500}, {0, 1500}, {0, 1500}, {60 * time.Millisecond, 1500}, {60 * time.Millisecond, 1500},
			},
			want: []want{
				{Queued, 22 * time.Millisecond}, {Queued, 34 * time.Millisecond}, {Queued, 46 * time.Millisecond},
				{Queued, 82 * time.Millisecond}, {Queued, 94 * time.Millisecond},
			},
		},
		{
			// 500 bytes take 4 ms at 1 Mbit/s; spaced 10 ms apart they never queue.
			name:   "a flow under the cap only takes its transmission time",
			p:      Params{RateBitsPerSec: 1_000_000},
			offers: []offer{{0, 500}, {10 * time.Millisecond, 500}, {20 * time.Millisecond, 500}},
			want:   []want{{Queued, 4 * time.Millisecond}, {Queued, 14 * time.Millisecond}, {Queued, 24 * time.Millisecond}},
		},
		{
			name:   "loss of one drops everything",
			p:      Params{Loss: 1, RateBitsPerSec: 1_000_000},
			offers: []offer{{0, 1500}, {0, 1500}},
			want:   []want{{Lost, 0}, {Lost, 0}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := testShaper(tc.p, 1)
			for i, o := range tc.offers {
				at, v := s.admit(t0.Add(o.after), o.size)
				w := tc.want[i]
				if v != w.verdict {
					t.Fatalf("datagram %d: verdict %v, want %v", i, v, w.verdict)
				}
				if v != Queued {
					continue
				}
				if got := at.Sub(t0); got != w.at {
					t.Errorf("datagram %d: arrives at %v, want %v", i, got, w.at)
				}
			}
		})
	}
}

func TestShaperLossRate(t *testing.T) {
	for _, loss := range []float64{0, 0.05, 0.3, 1} {
		s := testShaper(Params{Loss: loss}, 42)
		const n = 20000
		lost := 0
		for i := range n {
			if _, v := s.admit(t0.Add(time.Duration(i)*time.Millisecond), 100); v == Lost {
				lost++
			}
		}
		got := float64(lost) / n
		if d := got - loss; d > 0.01 || d < -0.01 {
			t.Errorf("loss %v: lost %.4f of datagrams", loss, got)
		}
	}
}

func TestShaperSeedReproducible(t *testing.T) {
	p := Params{Loss: 0.2, Jitter: 30 * time.Millisecond, Delay: 10 * time.Millisecond}
	run := func(seed uint64) []time.Time {
		s := testShaper(p, seed)
		var out []time.Time
		for i := range 200 {
			at, _ := s.admit(t0.Add(time.Duration(i)*5*time.Millisecond), 200)
			out = append(out, at)
		}
		return out
	}
	a, b, c := run(7), run(7), run(8)
	same := func(x, y []time.Time) bool {
		for i := range x {
			if !x[i].Equal(y[i]) {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Error("the same seed gave different fates")
	}
	if same(a, c) {
		t.Error("different seeds gave identical fates")
	}
}

// Jitter is symmetric around Delay and clamped at zero: with Jitter larger
// than Delay some datagrams arrive early, some with no delay at all, none
// later than Delay+Jitter.
func TestShaperJitterIsSymmetricAndClamped(t *testing.T) {
	p := Params{Delay: 10 * time.Millisecond, Jitter: 30 * time.Millisecond, Reorder: true}
	s := testShaper(p, 3)
	var early, zero, late int
	for i := range 2000 {
		now := t0.Add(time.Duration(i) * 2 * time.Millisecond)
		at, v := s.admit(now, 300)
		if v != Queued {
			t.Fatalf("datagram %d: verdict %v on a lossless link", i, v)
		}
		d := at.Sub(now)
		switch {
		case d < 0 || d > p.Delay+p.Jitter:
			t.Fatalf("datagram %d: delayed %v, outside [0, %v]", i, d, p.Delay+p.Jitter)
		case d == 0:
			zero++
		case d < p.Delay:
			early++
		case d > p.Delay:
			late++
		}
	}
	// Draws below -Delay (a third of them) are clamped to zero.
	if zero < 500 || early < 200 || late < 800 {
		t.Errorf("delays: %d at zero, %d in (0, Delay), %d above Delay; want about 667, 333, 1000", zero, early, late)
	}
}

func TestShaperJitterNeverReordersUnlessAsked(t *testing.T) {
	p := Params{Delay: 20 * time.Millisecond, Jitter: 50 * time.Millisecond}
	s := testShaper(p, 3)
	var last time.Time
	spread := false
	for i := range 1000 {
		now := t0.Add(time.Duration(i) * 2 * time.Millisecond)
		at, v := s.admit(now, 300)
		if v != Queued {
			t.Fatalf("datagram %d: verdict %v on a lossless link", i, v)
		}
		if at.Before(last) {
			t.Fatalf("datagram %d: arrives at %v before the previous one at %v", i, at, last)
		}
		if at.Sub(now) > p.Delay+p.Jitter/2 {
			spread = true
		}
		last = at
	}
	if !spread {
		t.Error("jitter never added more than half its range")
	}
}

func TestShaperParamsChangeAtRunTime(t *testing.T) {
	s := testShaper(Params{}, 1)
	if _, v := s.admit(t0, 1000); v != Queued {
		t.Fatal("perfect link lost a datagram")
	}
	s.p = Params{Loss: 1}
	if _, v := s.admit(t0.Add(time.Millisecond), 1000); v != Lost {
		t.Fatalf("after loss 1: verdict %v", v)
	}
	s.p = Params{}
	if _, v := s.admit(t0.Add(2*time.Millisecond), 1000); v != Queued {
		t.Fatal("after clearing the loss a datagram was lost")
	}
}

func BenchmarkShaperAdmit(b *testing.B) {
	s := testShaper(Params{Delay: 10 * time.Millisecond, Jitter: time.Millisecond, Loss: 0.01, RateBitsPerSec: 1e9}, 1)
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(10 * time.Microsecond)
		s.admit(now, 1200)
	}
}
