package bwe

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// feed sends n packets of size bytes every gap ns from start, with owd(i)
// as each one's one-way delay (lost when negative), in reports of 20.
func feed(e *Estimator, seq *int64, start, gap int64, n, size int, owd func(i int) int64, probe int) int64 {
	var batch []Packet
	now := start
	for i := range n {
		now = start + int64(i)*gap
		*seq++
		p := Packet{Seq: *seq, SendTime: now, Size: size, Probe: probe}
		if d := owd(i); d >= 0 {
			p.Received, p.Arrival = true, now+d
		}
		batch = append(batch, p)
		if len(batch) == 20 {
			e.OnFeedback(now+owd(i)+20e6, batch)
			batch = nil
		}
	}
	if len(batch) > 0 {
		e.OnFeedback(now+50e6, batch)
	}
	return now + gap
}

func TestEstimatorSignals(t *testing.T) {
	const ms = int64(1e6)
	steady := func(int) int64 { return 20 * ms }
	tests := []struct {
		name   string
		owd    func(i int) int64 // after 2 s of steady traffic
		lo, hi int64             // bounds on the target afterwards
	}{
		{"steady delay: climbs", steady, 1_000_000, 10_000_000},
		{"a 40 ms stall that is gone at once: no cut", func(i int) int64 {
			// Packets 46-50 held up and released together.
			if i >= 46 && i <= 50 {
				return 20*ms + int64(50-i)*10*ms
			}
			return 20 * ms
		}, 1_000_000, 10_000_000},
		{"a queue building up: cut below what arrives", func(i int) int64 { return 20*ms + int64(i)*ms/2 }, 0, 900_000},
		{"3% random loss without delay: no cut", func(i int) int64 {
			if i%33 == 0 {
				return -1
			}
			return 20 * ms
		}, 1_000_000, 10_000_000},
		{"20% loss: cut", func(i int) int64 {
			if i%5 == 0 {
				return -1
			}
			return 20 * ms
		}, 0, 900_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := New(Config{Initial: 1_000_000, Min: 50_000, Max: 10_000_000})
			var seq int64
			// 1 Mbit/s: 1250-byte packets every 10 ms.
			now := feed(e, &seq, 1e9, 10*ms, 200, 1250, steady, 0)
			feed(e, &seq, now, 10*ms, 200, 1250, tt.owd, 0)
			if got := e.Target(); got < tt.lo || got > tt.hi {
				t.Errorf("target %d bit/s (usage %v, queue %d ms, loss %.2f), want within [%d, %d]",
					got, e.Usage(), e.QueueDelay()/ms, e.Loss(), tt.lo, tt.hi)
			}
		})
	}
}

func TestProbeResult(t *testing.T) {
	const ms = int64(1e6)
	tests := []struct {
		name     string
		arrGap   int64 // ns between probe packet arrivals; sent 1 ms apart
		lost     int   // of 20
		wantLo   int64
		wantHi   int64
		unchaged bool
		planned  int64 // the rate the cluster was meant to have, 0 for not told
	}{
		// 20 packets of 1000 bytes 1 ms apart: 8 Mbit/s sent.
		{name: "arrives as sent: the send rate", arrGap: 1 * ms, wantLo: 7_500_000, wantHi: 8_000_000},
		{name: "arrives at half the rate: 95% of the arrival rate", arrGap: 2 * ms, wantLo: 3_700_000, wantHi: 3_900_000},
		{name: "most of it lost: says nothing", arrGap: 1 * ms, lost: 14, unchaged: true},
		{name: "a burst faster than planned: no more than planned", arrGap: 1 * ms, planned: 2_000_000, wantLo: 2_000_000, wantHi: 2_000_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := New(Config{Initial: 500_000, Min: 50_000, Max: 20_000_000})
			var seq int64
			now := feed(e, &seq, 1e9, 10*ms, 50, 600, func(int) int64 { return 20 * ms }, 0)
			before := e.Target()
			if tt.planned > 0 {
				e.ProbeStarted(1, tt.planned)
			}
			var pk []Packet
			for i := range 20 {
				seq++
				p := Packet{Seq: seq, SendTime: now + int64(i)*ms, Size: 1000, Probe: 1}
				if i >= tt.lost {
					p.Received, p.Arrival = true, now+20*ms+int64(i)*tt.arrGap
				}
				pk = append(pk, p)
			}
			seq++
			pk = append(pk, Packet{Seq: seq, SendTime: now + 30*ms, Size: 600, Received: true, Arrival: now + 20*ms + 20*tt.arrGap})
			e.OnFeedback(now+100*ms, pk)
			got := e.Target()
			if tt.unchaged {
				if got > before*12/10 {
					t.Errorf("target %d after a useless probe, was %d", got, before)
				}
				return
			}
			if got < tt.wantLo || got > tt.wantHi {
				t.Errorf("target %d, want within [%d, %d]", got, tt.wantLo, tt.wantHi)
			}
		})
	}
}

func TestProberPlan(t *testing.T) {
	const s = int64(1e9)
	type step struct {
		at           int64
		target, want int64
		usage        Usage
		loss         float64
		probe        bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"not held back: no probe", []step{{at: 0, target: 2e6, want: 1e6}, {at: 5 * s, target: 2e6, want: 1e6}}},
		{"held back: probes at once, not again before it settles", []step{
			{at: 0, target: 5e5, want: 2e6, probe: true}, {at: s / 10, target: 5e5, want: 2e6}}},
		{"a probe that raised the estimate: the next soon", []step{
			{at: 0, target: 5e5, want: 2e6, probe: true}, {at: s / 2, target: 1e6, want: 2e6, probe: true}}},
		{"a failed probe: the next waits longer", []step{
			{at: 0, target: 5e5, want: 2e6, probe: true}, {at: s / 2, target: 5e5, want: 2e6},
			{at: 9 * s / 10, target: 5e5, want: 2e6}, {at: 11 * s / 10, target: 5e5, want: 2e6, probe: true}}},
		{"overuse: no probe", []step{{at: 0, target: 5e5, want: 2e6, usage: UsageOver}}},
		{"heavy loss: no probe", []step{{at: 0, target: 5e5, want: 2e6, loss: 0.2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Prober
			for i, st := range tt.steps {
				c, ok := p.Plan(st.at, st.target, st.want, st.usage, st.loss)
				if ok != st.probe {
					t.Fatalf("step %d: probe %v, want %v", i, ok, st.probe)
				}
				if ok && (c.Rate < st.target*5/4 || c.Rate > 2*st.target) {
					t.Errorf("step %d: probe at %d bit/s, estimate %d", i, c.Rate, st.target)
				}
			}
		})
	}
}

// replay feeds a recorded feedback trace (testdata) to e.
func replay(t *testing.T, e *Estimator, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var batch []Packet
	var at int64
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		var now int64
		var p Packet
		if _, err := fmt.Sscanf(line, "%d %d %d %d %d %t %d", &now, &p.Seq, &p.SendTime, &p.Size, &p.Probe, &p.Received, &p.Arrival); err != nil {
			t.Fatalf("%s: %q: %v", path, line, err)
		}
		if now != at && len(batch) > 0 {
			e.OnFeedback(at, batch)
			batch = batch[:0]
		}
		at = now
		batch = append(batch, p)
	}
	e.OnFeedback(at, batch)
}

func TestReplayStall(t *testing.T) {
	e := New(Config{Initial: 2_500_000, Min: 100_000, Max: 8_000_000})
	e.SetRTT(155e6)
	replay(t, e, "testdata/rtt150-stall.txt")
	if got := e.Target(); got < 2_000_000 {
		t.Errorf("target %d bit/s after a trace with one stall and no queue, want the 2.5 Mbit/s start kept", got)
	}
}
