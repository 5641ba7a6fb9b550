package speaker

import (
	"fmt"
	"testing"
)

var styles = []silenceStyle{roomNoise, roomNoiseV1, digitalQuiet, dtx}

func TestSingleSpeakerBecomesDominant(t *testing.T) {
	for _, st := range styles {
		for seed := uint64(1); seed <= 5; seed++ {
			t.Run(fmt.Sprintf("%v/seed%d", st, seed), func(t *testing.T) {
				const start = 100
				a := newScript(seed, st).silent(start).talk(400)
				b := newScript(seed+100, st).silent(start + 400)
				c := newScript(seed+200, dtx).silent(start + 400)
				_, ds := run(t, []participant{{"b", b.frames}, {"a", a.frames}, {"c", c.frames}})

				for _, dc := range ds[:firstDecisionAt(ds, start)] {
					if dc.dominant != "" {
						t.Fatalf("frame %d: dominant %q before anyone spoke", dc.frame, dc.dominant)
					}
				}
				got := firstFrom(ds, start, "a")
				if want := firstDecisionAt(ds, start) + 2; got < 0 || got > want {
					t.Fatalf("a dominant at decision %d, want by %d", got, want)
				}
				changes := 0
				for _, dc := range ds[got:] {
					if dc.dominant != "a" {
						t.Fatalf("frame %d: dominant %q, want a", dc.frame, dc.dominant)
					}
					if dc.changed {
						changes++
					}
				}
				if changes != 1 {
					t.Fatalf("changed reported %d times, want 1", changes)
				}
			})
		}
	}
}

func TestTurnTaking(t *testing.T) {
	// A switch needs the old speaker silent for a medium block and the new
	// one ahead on the one-second long scale; six decisions (1.8 s) bound
	// that with room for a turn that starts on a breath.
	const maxDecisions = 6
	for _, st := range styles {
		for seed := uint64(1); seed <= 8; seed++ {
			for _, overlap := range []int{0, 15} {
				t.Run(fmt.Sprintf("%v/seed%d/overlap%d", st, seed, overlap), func(t *testing.T) {
					const turn = 300
					a := newScript(seed, st).talk(turn).silent(turn + overlap).talk(turn)
					b := newScript(seed+50, st).silent(turn - overlap).talk(turn + overlap).silent(turn)
					_, ds := run(t, []participant{{"a", a.frames}, {"b", b.frames}})

					if i := firstDecisionAt(ds, turn) - 1; ds[i].dominant != "a" {
						t.Fatalf("before the turn: dominant %q, want a", ds[i].dominant)
					}
					toB := firstFrom(ds, turn, "b")
					if toB < 0 || toB-firstDecisionAt(ds, turn) >= maxDecisions {
						t.Fatalf("switch to b at decision %d, turn began at decision %d", toB, firstDecisionAt(ds, turn))
					}
					if !ds[toB].changed {
						t.Fatalf("switch to b not reported as changed")
					}
					back := 2*turn + overlap
					toA := firstFrom(ds, back, "a")
					if toA < 0 || toA-firstDecisionAt(ds, back) >= maxDecisions {
						t.Fatalf("switch back to a at decision %d, turn began at decision %d", toA, firstDecisionAt(ds, back))
					}
				})
			}
		}
	}
}

func TestInterjectionDoesNotSwitch(t *testing.T) {
	for _, st := range styles {
		for _, burst := range []int{3, 5, 10, 14} { // 60..280 ms
			for seed := uint64(1); seed <= 6; seed++ {
				t.Run(fmt.Sprintf("%v/burst%dms/seed%d", st, burst*20, seed), func(t *testing.T) {
					// A talks for a minute; B coughs every 1.1..1.7 s,
					// sometimes over A's words and sometimes into A's
					// breaths.
					const total = 3000
					a := newScript(seed, st).talk(total)
					b := newScript(seed+77, st)
					for len(b.frames) < total {
						b.silent(55 + b.rng.IntN(30)).burst(burst)
					}
					b.frames = b.frames[:total]
					_, ds := run(t, []participant{{"a", a.frames}, {"b", b.frames}})
					for _, dc := range ds {
						if dc.dominant == "b" {
							t.Fatalf("frame %d: b's %d ms interjection took over", dc.frame, burst*20)
						}
					}
					if ds[len(ds)-1].dominant != "a" {
						t.Fatalf("dominant %q, want a", ds[len(ds)-1].dominant)
					}
				})
			}
		}
	}
}

func TestInterjectionIntoPause(t *testing.T) {
	// The hardest case for the paper's rule: B coughs exactly when A
	// breathes, so A is silent on the immediate and medium scales and only
	// A's long-term activity keeps the floor.
	for _, burst := range []int{5, 10, 14} {
		for _, pause := range []int{15, 20} {
			t.Run(fmt.Sprintf("burst%dms/pause%dms", burst*20, pause*20), func(t *testing.T) {
				a := newScript(3, roomNoise)
				b := newScript(4, roomNoise)
				for range 10 {
					a.burst(60).silent(pause)
					b.silent(60 + 1).burst(burst).silent(pause - 1 - burst)
				}
				_, ds := run(t, []participant{{"a", a.frames}, {"b", b.frames}})
				for _, dc := range ds {
					if dc.dominant == "b" {
						t.Fatalf("frame %d: b took over during a's pause", dc.frame)
					}
				}
			})
		}
	}
}

func TestBackgroundNoiseNeverDominates(t *testing.T) {
	tests := []struct {
		name   string
		level  uint8
		spread int
		voice  bool
		vadSet bool // the noisy sender's VAD has marked speech before
	}{
		{"steady -50 dBov", 50, 0, true, false},
		{"steady -40 dBov", 40, 0, true, false},
		{"hum -60 dBov +-3", 60, 3, true, false},
		{"fan -45 dBov +-3", 45, 3, true, false},
		{"loud room, VAD says no voice", 35, 10, false, true},
	}
	for _, tt := range tests {
		for _, st := range styles {
			t.Run(fmt.Sprintf("%s/%v", tt.name, st), func(t *testing.T) {
				// A talks, stops for three seconds, talks again.
				a := newScript(11, st).silent(50).talk(500).silent(150).talk(500)
				n := newScript(12, st)
				if tt.vadSet {
					n.burst(1)
				}
				n.noise(1200-len(n.frames), tt.level, tt.spread, tt.voice)
				_, ds := run(t, []participant{{"noise", n.frames}, {"a", a.frames}})
				for _, dc := range ds {
					if dc.dominant == "noise" && dc.frame > 10 {
						t.Fatalf("frame %d: background noise is dominant", dc.frame)
					}
				}
				if got := ds[len(ds)-1].dominant; got != "a" {
					t.Fatalf("dominant %q, want a", got)
				}
			})
		}
	}
}

func TestRemoveDominant(t *testing.T) {
	tests := []struct {
		name      string
		others    []participant
		successor string
	}{
		{
			name: "talking successor",
			others: []participant{
				{"quiet", newScript(1, roomNoise).silent(600).frames},
				{"b", newScript(2, roomNoise).silent(540).talk(60).frames},
			},
			successor: "b",
		},
		{
			name: "most recent speaker succeeds",
			others: []participant{
				{"early", newScript(3, dtx).talk(60).silent(540).frames},
				{"later", newScript(4, dtx).silent(100).talk(60).silent(440).frames},
				{"never", newScript(5, dtx).silent(600).frames},
			},
			successor: "later",
		},
		{
			name:      "nobody else spoke",
			others:    []participant{{"never", newScript(6, roomNoise).silent(600).frames}},
			successor: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// a talks throughout, so it is dominant when removed.
			a := newScript(9, roomNoise).silent(150).talk(450)
			d, ds := run(t, append([]participant{{"a", a.frames}}, tt.others...))
			if got := ds[len(ds)-1].dominant; got != "a" {
				t.Fatalf("before removal: dominant %q, want a", got)
			}
			d.Remove("a")
			if got := d.Dominant(); got != "" {
				t.Fatalf("right after removal: Dominant() = %q, want \"\"", got)
			}
			at := frameTime(600)
			got, changed := d.Decide(at)
			if got != tt.successor || !changed {
				t.Fatalf("Decide = %q, %v; want %q, true", got, changed, tt.successor)
			}
			got, changed = d.Decide(at.Add(300 * frame))
			if got != tt.successor || changed {
				t.Fatalf("next Decide = %q, %v; want %q, false", got, changed, tt.successor)
			}
			d.Remove("a") // removing twice is harmless
		})
	}
}

func TestAllSilentKeepsDominant(t *testing.T) {
	for _, st := range styles {
		t.Run(st.String(), func(t *testing.T) {
			// b speaks first, then a; then nobody for ten seconds.
			b := newScript(21, st).talk(150).silent(1000)
			a := newScript(22, st).silent(200).talk(200).silent(750)
			_, ds := run(t, []participant{{"b", b.frames}, {"a", a.frames}})
			last := firstDecisionAt(ds, 400) // a's turn is over
			if ds[last].dominant != "a" {
				t.Fatalf("after a's turn: dominant %q, want a", ds[last].dominant)
			}
			for _, dc := range ds[last+1:] {
				if dc.dominant != "a" || dc.changed {
					t.Fatalf("frame %d: dominant %q changed=%v during silence", dc.frame, dc.dominant, dc.changed)
				}
			}
		})
	}
}

func TestAddIsIdempotent(t *testing.T) {
	d := New()
	s1 := d.Add("x")
	s2 := d.Add("x")
	if s1 != s2 {
		t.Fatalf("Add twice returned two speakers")
	}
	if s1.ID() != "x" {
		t.Fatalf("ID() = %q", s1.ID())
	}
	d.Remove("x")
	if s3 := d.Add("x"); s3 == s1 {
		t.Fatalf("Add after Remove returned the removed speaker")
	}
}

func TestEmptyDetector(t *testing.T) {
	d := New()
	if got, changed := d.Decide(epoch); got != "" || changed {
		t.Fatalf("Decide on empty detector = %q, %v", got, changed)
	}
	d.Remove("nobody")
	if d.Dominant() != "" {
		t.Fatalf("Dominant() = %q", d.Dominant())
	}
}
