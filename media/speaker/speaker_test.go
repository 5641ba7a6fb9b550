package speaker

import (
	"math"
	"sync"
	"testing"
	"time"
)

func TestScoresFollowThePaper(t *testing.T) {
	floor := math.Log(minScore)
	tests := []struct {
		name  string
		table []float64
		n     int
	}{
		{"immediate", immLogScore, subBands},
		{"medium", medLogScore, mediumLen},
		{"long", longLogScore, longLen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.table) != tt.n+1 {
				t.Fatalf("table has %d entries, want %d", len(tt.table), tt.n+1)
			}
			if tt.table[0] != floor {
				t.Errorf("score of no activity = %v, want the floor %v", tt.table[0], floor)
			}
			for v, s := range tt.table {
				if s < floor || math.IsNaN(s) || math.IsInf(s, 0) {
					t.Errorf("score(%d) = %v", v, s)
				}
			}
		})
	}

	speech := activity{immediate: 10, medium: mediumLen, long: longLen}
	silent := activity{}
	if ok, _ := beats(speech, silent); !ok {
		t.Errorf("a talking challenger does not beat a silent dominant speaker")
	}
	if ok, _ := beats(silent, speech); ok {
		t.Errorf("a silent challenger beats a talking dominant speaker")
	}
	if ok, _ := beats(speech, speech); ok {
		t.Errorf("an equal challenger beats the dominant speaker")
	}
	// Only long-term activity separates a fresh talker from a dominant
	// speaker who has just paused.
	fresh := activity{immediate: 10, medium: mediumLen, long: 2}
	paused := activity{long: 6}
	if ok, _ := beats(fresh, paused); ok {
		t.Errorf("a fresh talker with less long-term activity took over")
	}
	paused.long = 1
	if ok, _ := beats(fresh, paused); !ok {
		t.Errorf("a fresh talker with more long-term activity did not take over")
	}
	// One active frame in the last medium block still holds the floor.
	if ok, _ := beats(speech, activity{medium: 1, long: 0}); ok {
		t.Errorf("challenger won against a dominant speaker active in the medium block")
	}
}

func feed(s *Speaker, from, n int, level uint8, voice bool) {
	for i := range n {
		s.Level(level, voice, frameTime(from+i))
	}
}

func TestSpeakingAndAudioLevel(t *testing.T) {
	type step struct {
		frames int
		level  uint8 // 255: send nothing
		voice  bool
	}
	tests := []struct {
		name         string
		steps        []step
		speaking     bool
		minLv, maxLv float64
	}{
		{"never heard", nil, false, 0, 0},
		{"loud speech", []step{{50, 70, false}, {25, 20, true}}, true, 0.6, 0.75},
		{"quiet speech", []step{{50, 75, false}, {25, 42, true}}, true, 0.3, 0.45},
		{"speech, then silence", []step{{50, 70, false}, {50, 20, true}, {50, 127, false}}, false, 0, 0.01},
		{"speech, then 200 ms pause", []step{{50, 70, false}, {50, 20, true}, {10, 70, false}}, true, 0.05, 0.4},
		{"speech, then DTX", []step{{50, 70, false}, {50, 20, true}, {100, 255, false}}, false, 0, 0.01},
		{"steady noise", []step{{200, 55, true}}, false, 0, 0},
		{"noise the VAD rejects", []step{{1, 20, true}, {200, 30, false}}, false, 0, 0.001},
		{"sender without VAD bit", []step{{50, 70, false}, {25, 25, false}}, true, 0.55, 0.7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New()
			s := d.Add("a")
			f := 0
			for _, st := range tt.steps {
				if st.level != 255 {
					feed(s, f, st.frames, st.level, st.voice)
				}
				f += st.frames
			}
			// Decide brings a speaker who went quiet up to date.
			d.Decide(frameTime(f))
			if got := s.Speaking(); got != tt.speaking {
				t.Errorf("Speaking() = %v, want %v", got, tt.speaking)
			}
			if got := s.AudioLevel(); got < tt.minLv || got > tt.maxLv {
				t.Errorf("AudioLevel() = %.3f, want %.2f..%.2f", got, tt.minLv, tt.maxLv)
			}
		})
	}
}

func TestNoiseFloor(t *testing.T) {
	s := newSpeaker("a")
	// Speech first: the cap keeps the speaker audible.
	feed(s, 0, 10, 25, true)
	if s.floor != maxFloor {
		t.Fatalf("floor after speech only = %d, want the cap %d", s.floor, maxFloor)
	}
	// A quiet room drops the floor at once.
	feed(s, 10, 10, 80, false)
	if s.floor != 127-80 {
		t.Fatalf("floor after quiet room = %d, want %d", s.floor, 127-80)
	}
	// The room gets noisier. The window that still saw the quiet room
	// keeps the floor; each later one lifts it halfway.
	feed(s, 20, 2*floorWindow, 60, false)
	if want := uint8(127 - 80 + (80-60+1)/2); s.floor != want {
		t.Fatalf("floor after two noisier windows = %d, want %d", s.floor, want)
	}
	feed(s, 20+2*floorWindow, 3*floorWindow, 60, false)
	if s.floor < 127-61 || s.floor > 127-60 {
		t.Fatalf("floor after five windows = %d, want about %d", s.floor, 127-60)
	}
	// Speech well above the new floor still counts.
	e := s.evaluate(frameTime(20 + 5*floorWindow))
	if e.act.immediate != 0 {
		t.Fatalf("noise at the floor counted as %d sub-bands", e.act.immediate)
	}
	feed(s, 20+5*floorWindow, 10, 30, true)
	if e := s.evaluate(frameTime(30 + 5*floorWindow)); e.act.immediate == 0 || e.act.medium != mediumLen {
		t.Fatalf("speech over the floor: %+v", e.act)
	}
}

func TestGapsCountAsSilence(t *testing.T) {
	tests := []struct {
		name    string
		gap     int // frames without packets; the next packet comes after them
		silence int // frames expected to be filled in
	}{
		{"jitter", 4, 0},
		{"just over idle", 5, 5},
		{"dtx", 20, 20},
		{"long mute", 500, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSpeaker("a")
			feed(s, 0, window, 20, true)
			feed(s, window+tt.gap, 1, 20, true)
			active := 0
			for _, l := range s.ring {
				if l != silence {
					active++
				}
			}
			if want := max(window-tt.silence, 1); active != want {
				t.Fatalf("%d non-silent frames in the window, want %d", active, want)
			}
		})
	}
}

func TestDecideFillsSilenceOnce(t *testing.T) {
	d := New()
	s := d.Add("a")
	feed(s, 0, 100, 20, true)
	// Three decisions in a row while the speaker sends nothing, then a packet:
	// the silence must be counted once, not once per decision.
	for _, f := range []int{110, 125, 140} {
		d.Decide(frameTime(f))
	}
	s.Level(20, true, frameTime(141))
	var nonSilent int
	for _, l := range s.ring {
		if l != silence {
			nonSilent++
		}
	}
	// Frames 100..140 are silence (41 frames), 141 is speech: 9 of the
	// window's 50 frames are older speech.
	if want := window - 41; nonSilent != want {
		t.Fatalf("%d non-silent frames, want %d", nonSilent, want)
	}
}

func TestLateAndOddInput(t *testing.T) {
	d := New()
	s := d.Add("a")
	feed(s, 100, 10, 20, true)
	// A level stamped before the previous one (a goroutine ran late) is
	// still a frame, and must not rewind the clock.
	s.Level(20, true, frameTime(50))
	if !s.last.Equal(frameTime(109)) {
		t.Fatalf("clock moved back to %v", s.last)
	}
	// Out-of-range levels are silence, not a panic.
	s.Level(200, true, frameTime(110))
	if s.ring[s.head] != silence {
		t.Fatalf("level 200 stored as %d", s.ring[s.head])
	}
	d.Decide(frameTime(90)) // a decision from the past
	if got := d.Dominant(); got != "a" {
		t.Fatalf("Dominant() = %q", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	d := New()
	var wg sync.WaitGroup
	ids := []string{"a", "b", "c", "d"}
	for i, id := range ids {
		s := d.Add(id)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range 2000 {
				level := uint8(70)
				if (f/200)%len(ids) == i {
					level = 20
				}
				s.Level(level, true, frameTime(f))
				if f%50 == 0 {
					_ = s.Speaking()
					_ = s.AudioLevel()
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for f := 0; f < 2000; f += decideEvery {
			d.Decide(frameTime(f))
			_ = d.Dominant()
			if f%300 == 0 {
				d.Remove("d")
				d.Add("d")
			}
		}
	}()
	wg.Wait()
}

func FuzzLevels(f *testing.F) {
	f.Add([]byte{0, 20, 0x80 | 30, 127, 0xff, 5})
	f.Add([]byte{127, 127, 127, 0x80 | 10, 0x80 | 10, 0x80 | 10, 0x80 | 10, 0x80 | 10})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		d := New()
		s := d.Add("a")
		d.Add("b")
		at := epoch
		for i, b := range data {
			// Low 7 bits: level; high bit: V. Every third byte also
			// jitters the clock, sometimes backwards.
			at = at.Add(frame)
			if i%3 == 2 {
				at = at.Add(time.Duration(int(b)-100) * time.Millisecond)
			}
			s.Level(b&0x7f, b&0x80 != 0, at)
			if i%15 == 14 {
				if dom, _ := d.Decide(at); dom != "" && dom != "a" && dom != "b" {
					t.Fatalf("dominant %q was never added", dom)
				}
			}
		}
		if lv := s.AudioLevel(); lv < 0 || lv > 1 || math.IsNaN(lv) {
			t.Fatalf("AudioLevel() = %v", lv)
		}
	})
}

func BenchmarkLevel(b *testing.B) {
	s := New().Add("a")
	at := epoch
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		at = at.Add(frame)
		s.Level(uint8(20+i%40), i%7 != 0, at)
	}
}

func BenchmarkDecide20(b *testing.B) {
	d := New()
	var ss []*Speaker
	for _, id := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t"} {
		ss = append(ss, d.Add(id))
	}
	at := epoch
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		for j, s := range ss {
			s.Level(uint8(20+(i+j)%60), true, at)
		}
		at = at.Add(frame)
		d.Decide(at)
	}
}
