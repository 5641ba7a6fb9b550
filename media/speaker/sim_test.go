package speaker

import (
	"math/rand/v2"
	"testing"
	"time"
)

// sample is one 20 ms frame of a participant's audio as the node sees it.
type sample struct {
	level uint8 // RFC 6464: 0 loudest, 127 silence
	voice bool
	send  bool // false: no packet (DTX, muted)
}

// silenceStyle is how a participant who is not talking shows up.
type silenceStyle int

const (
	roomNoise    silenceStyle = iota // packets at background-noise level, V=0
	roomNoiseV1                      // same, from a sender that always sets V=1
	digitalQuiet                     // packets at level 127
	dtx                              // no packets at all
)

func (st silenceStyle) String() string {
	return [...]string{"room-noise", "room-noise-V1", "level-127", "dtx"}[st]
}

func quiet(st silenceStyle, rng *rand.Rand) sample {
	switch st {
	case roomNoise:
		return sample{level: uint8(68 + rng.IntN(8)), send: true}
	case roomNoiseV1:
		return sample{level: uint8(68 + rng.IntN(8)), voice: true, send: true}
	case digitalQuiet:
		return sample{level: 127, voice: false, send: true}
	default:
		return sample{}
	}
}

// script builds one participant's timeline frame by frame.
type script struct {
	rng    *rand.Rand
	style  silenceStyle
	frames []sample
}

func newScript(seed uint64, style silenceStyle) *script {
	return &script{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), style: style}
}

// silent appends n frames of not talking.
func (s *script) silent(n int) *script {
	for range n {
		s.frames = append(s.frames, quiet(s.style, s.rng))
	}
	return s
}

// burst appends n frames of loud voice, like a cough or a short "mm".
func (s *script) burst(n int) *script {
	for range n {
		s.frames = append(s.frames, sample{level: uint8(20 + s.rng.IntN(10)), voice: true, send: true})
	}
	return s
}

// talk appends about n frames of conversational speech: syllable runs of
// 160..400 ms separated by 20..80 ms dips, with a 200..400 ms breath every
// two to three seconds.
func (s *script) talk(n int) *script {
	end := len(s.frames) + n
	nextBreath := len(s.frames) + 100 + s.rng.IntN(50)
	for len(s.frames) < end {
		run := 8 + s.rng.IntN(13)
		for i := 0; i < run && len(s.frames) < end; i++ {
			s.frames = append(s.frames, sample{level: uint8(18 + s.rng.IntN(18)), voice: true, send: true})
		}
		dip := 1 + s.rng.IntN(4)
		if len(s.frames) >= nextBreath {
			dip = 10 + s.rng.IntN(11)
			nextBreath = len(s.frames) + 100 + s.rng.IntN(50)
		}
		s.silent(min(dip, end-len(s.frames)))
	}
	return s
}

// noise appends n frames of steady background noise around level.
func (s *script) noise(n int, level uint8, spread int, voice bool) *script {
	for range n {
		l := int(level) + s.rng.IntN(2*spread+1) - spread
		s.frames = append(s.frames, sample{level: uint8(l), voice: voice, send: true})
	}
	return s
}

// decision is the outcome of one Decide during a simulation.
type decision struct {
	frame    int
	dominant string
	changed  bool
}

// participant is a named timeline for run.
type participant struct {
	id     string
	frames []sample
}

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func frameTime(i int) time.Time { return epoch.Add(time.Duration(i) * frame) }

// decideEvery is the node's decision period in frames (300 ms).
const decideEvery = 15

// run feeds every participant's frames to a fresh Detector, deciding every
// 300 ms, and returns the decisions.
func run(t testing.TB, ps []participant) (*Detector, []decision) {
	t.Helper()
	d := New()
	speakers := make([]*Speaker, len(ps))
	n := 0
	for i, p := range ps {
		speakers[i] = d.Add(p.id)
		n = max(n, len(p.frames))
	}
	var out []decision
	for f := range n {
		at := frameTime(f)
		for i, p := range ps {
			if f < len(p.frames) && p.frames[f].send {
				speakers[i].Level(p.frames[f].level, p.frames[f].voice, at)
			}
		}
		if f%decideEvery == decideEvery-1 {
			dom, changed := d.Decide(at)
			out = append(out, decision{frame: f, dominant: dom, changed: changed})
		}
	}
	return d, out
}

// firstFrom returns the index of the first decision at or after frame from
// whose dominant speaker is id, or -1.
func firstFrom(ds []decision, from int, id string) int {
	for i, dc := range ds {
		if dc.frame >= from && dc.dominant == id {
			return i
		}
	}
	return -1
}

// firstDecisionAt returns the index of the first decision made at or after frame.
func firstDecisionAt(ds []decision, f int) int {
	for i, dc := range ds {
		if dc.frame >= f {
			return i
		}
	}
	return len(ds)
}
