package speaker

import "math"

// Parameters of Volfin and Cohen, "Dominant Speaker Identification for
// Multipoint Videoconferencing" (2013). The paper counts active frequency
// sub-bands of decoded audio; an SFU only sees the RFC 6464 level, so a frame's
// "active sub-bands" are its loudness in 10 dB steps (13 steps span 0..127).
const (
	subBands    = 13 // N1: sub-bands of one frame, the immediate time scale
	subBandDB   = 10 // width of one pseudo sub-band, in dB
	mediumLen   = 5  // N2: frames in one medium block
	longLen     = 10 // N3: medium blocks in the long time scale
	window      = mediumLen * longLen
	mediumThres = 7 // a frame is active when more than this many sub-bands are
	longThres   = 4 // a medium block is active when more than this many frames are

	// Relative activity a challenger needs over the dominant speaker, per
	// time scale (natural log of the score ratio). C3 = 0 means the challenger
	// only has to be ahead on the long scale, not by a margin.
	c1 = 3.0
	c2 = 2.0
	c3 = 0.0

	// The scores are log-likelihood ratios that go negative for clear
	// non-speech; the paper floors them at a small positive value so that
	// their ratio stays defined.
	minScore = 1e-10
)

// Per time scale: the binomial speech model's success probability and the
// exponential non-speech model's rate, as fitted in the paper.
const (
	immP, immLambda   = 0.5, 0.78
	medP, medLambda   = 0.5, 24
	longP, longLambda = 0.5, 47
)

// logScore tables hold ln(score) per activity count, so Decide compares
// speakers with subtractions and never calls math.Log.
var (
	immLogScore  = scoreTable(subBands, immP, immLambda)
	medLogScore  = scoreTable(mediumLen, medP, medLambda)
	longLogScore = scoreTable(longLen, longP, longLambda)
)

// scoreTable returns ln(score(v)) for v = 0..n, where score is the
// log-likelihood ratio of "v of n units active" under a binomial speech model
// against an exponential non-speech model, floored at minScore.
func scoreTable(n int, p, lambda float64) []float64 {
	t := make([]float64, n+1)
	for v := 0; v <= n; v++ {
		s := lnBinomial(n, v) + float64(v)*math.Log(p) + float64(n-v)*math.Log(1-p) -
			math.Log(lambda) + lambda*float64(v)
		t[v] = math.Log(max(s, minScore))
	}
	return t
}

func lnBinomial(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// activity is one speaker's counts on the three time scales at one instant.
type activity struct {
	immediate int // pseudo sub-bands active in the newest frame, 0..subBands-1
	medium    int // active frames in the newest medium block, 0..mediumLen
	long      int // active medium blocks in the long window, 0..longLen
}

// relative returns ln(score(a)/score(b)) on each time scale.
func relative(a, b activity) (r1, r2, r3 float64) {
	return immLogScore[a.immediate] - immLogScore[b.immediate],
		medLogScore[a.medium] - medLogScore[b.medium],
		longLogScore[a.long] - longLogScore[b.long]
}

// beats reports whether challenger a would replace dominant b, and the
// medium-scale margin used to rank several challengers.
func beats(a, b activity) (bool, float64) {
	r1, r2, r3 := relative(a, b)
	return r1 > c1 && r2 > c2 && r3 > c3, r2
}
