package linkemu

import (
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func TestShaperDelayAndCap(t *testing.T) {
	type offer struct {
		after time.Duration // since t0
		size  int
	}
	type want struct {
		verdict Verdict
		out     time.Duration // since t0, for Deliver
	}
	tests := []struct {
		name   string
		imp    Impairment
		offers []offer
		want   []want
	}{
		{
			name:   "perfect link delivers at once",
			offers: []offer{{0, 1200}, {time.Millisecond, 1200}},
			want:   []want{{Deliver, 0}, {Deliver, time.Millisecond}},
		},
		{
			name:   "delay shifts every packet",
			imp:    Impairment{Delay: 40 * time.Millisecond},
			offers: []offer{{0, 100}, {5 * time.Millisecond, 100}},
			want:   []want{{Deliver, 40 * time.Millisecond}, {Deliver, 45 * time.Millisecond}},
		},
		{
			// 1 Mbit/s, burst 2 x 1500 bytes: a burst of 1250-byte (10 kbit)
			// packets passes two at once, then one every 10 ms.
			name: "cap queues a burst",
			imp:  Impairment{RateBps: 1_000_000, Burst: 24_000},
			offers: []offer{
				{0, 1250}, {0, 1250}, {0, 1250}, {0, 1250},
			},
			want: []want{
				{Deliver, 0}, {Deliver, 0}, {Deliver, 6 * time.Millisecond}, {Deliver, 16 * time.Millisecond},
			},
		},
		{
			// The bucket never holds less than two 1500-byte packets; 12 kbit
			// packets at 1 Mbit/s then leave every 12 ms.
			name: "cap drops what would wait longer than the queue",
			imp:  Impairment{RateBps: 1_000_000, Burst: 1, Queue: 15 * time.Millisecond},
			offers: []offer{
				{0, 1500}, {0, 1500}, {0, 1500}, {0, 1500},
			},
			want: []want{
				{Deliver, 0}, {Deliver, 0}, {Deliver, 12 * time.Millisecond}, {LostQueue, 0},
			},
		},
		{
			name: "queue drains while the link is idle",
			imp:  Impairment{RateBps: 1_000_000, Burst: 1, Delay: 10 * time.Millisecond},
			offers: []offer{
				{0, 1500}, {0, 1500}, {0, 1500}, {60 * time.Millisecond, 1500}, {60 * time.Millisecond, 1500},
			},
			want: []want{
				{Deliver, 10 * time.Millisecond}, {Deliver, 10 * time.Millisecond}, {Deliver, 22 * time.Millisecond},
				{Deliver, 70 * time.Millisecond}, {Deliver, 70 * time.Millisecond},
			},
		},
		{
			name:   "a flow under the cap is not delayed",
			imp:    Impairment{RateBps: 1_000_000},
			offers: []offer{{0, 500}, {10 * time.Millisecond, 500}, {20 * time.Millisecond, 500}},
			want:   []want{{Deliver, 0}, {Deliver, 10 * time.Millisecond}, {Deliver, 20 * time.Millisecond}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newShaper(tc.imp, 1)
			for i, o := range tc.offers {
				at, v := s.admit(t0.Add(o.after), o.size)
				w := tc.want[i]
				if v != w.verdict {
					t.Fatalf("packet %d: verdict %d, want %d", i, v, w.verdict)
				}
				if v != Deliver {
					continue
				}
				if got := at.Sub(t0); got != w.out {
					t.Errorf("packet %d: out at %v, want %v", i, got, w.out)
				}
			}
		})
	}
}

func TestShaperLossRate(t *testing.T) {
	for _, loss := range []float64{0, 0.05, 0.3, 1} {
		s := newShaper(Impairment{Loss: loss}, 42)
		const n = 20000
		lost := 0
		for i := range n {
			if _, v := s.admit(t0.Add(time.Duration(i)*time.Millisecond), 100); v == LostRand {
				lost++
			}
		}
		got := float64(lost) / n
		if d := got - loss; d > 0.01 || d < -0.01 {
			t.Errorf("loss %v: lost %.4f of packets", loss, got)
		}
	}
}

func TestShaperSeedReproducible(t *testing.T) {
	imp := Impairment{Loss: 0.2, Jitter: 30 * time.Millisecond, Delay: 10 * time.Millisecond}
	run := func(seed int64) []time.Time {
		s := newShaper(imp, seed)
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

func TestShaperJitterNeverReorders(t *testing.T) {
	imp := Impairment{Delay: 20 * time.Millisecond, Jitter: 50 * time.Millisecond}
	s := newShaper(imp, 3)
	var last time.Time
	spread := false
	for i := range 1000 {
		now := t0.Add(time.Duration(i) * 2 * time.Millisecond)
		at, v := s.admit(now, 300)
		if v != Deliver {
			t.Fatalf("packet %d: verdict %d on a lossless link", i, v)
		}
		if at.Before(last) {
			t.Fatalf("packet %d: out at %v before the previous one at %v", i, at, last)
		}
		if d := at.Sub(now); d < imp.Delay {
			t.Fatalf("packet %d: delayed %v, less than the base %v", i, d, imp.Delay)
		}
		if at.Sub(now) > imp.Delay+imp.Jitter/2 {
			spread = true
		}
		last = at
	}
	if !spread {
		t.Error("jitter never added more than half its range")
	}
}

func TestShaperSetAtRunTime(t *testing.T) {
	s := newShaper(Impairment{}, 1)
	if _, v := s.admit(t0, 1000); v != Deliver {
		t.Fatal("perfect link lost a packet")
	}
	s.set(Impairment{Loss: 1})
	if _, v := s.admit(t0.Add(time.Millisecond), 1000); v != LostRand {
		t.Fatalf("after Set(Loss 1) verdict %d", v)
	}
	s.set(Impairment{})
	if _, v := s.admit(t0.Add(2*time.Millisecond), 1000); v != Deliver {
		t.Fatal("after clearing the loss a packet was lost")
	}
}

func TestImpairmentValidate(t *testing.T) {
	tests := []struct {
		name string
		imp  Impairment
		ok   bool
	}{
		{"zero", Impairment{}, true},
		{"typical", Impairment{Delay: time.Millisecond, Loss: 0.1, RateBps: 1e6}, true},
		{"negative delay", Impairment{Delay: -1}, false},
		{"negative jitter", Impairment{Jitter: -1}, false},
		{"loss above one", Impairment{Loss: 1.5}, false},
		{"negative loss", Impairment{Loss: -0.1}, false},
		{"negative rate", Impairment{RateBps: -5}, false},
		{"negative queue", Impairment{Queue: -time.Second}, false},
	}
	for _, tc := range tests {
		if err := tc.imp.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func BenchmarkShaperAdmit(b *testing.B) {
	s := newShaper(Impairment{Delay: 10 * time.Millisecond, Jitter: time.Millisecond, Loss: 0.01, RateBps: 1e9}, 1)
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(10 * time.Microsecond)
		s.admit(now, 1200)
	}
}
