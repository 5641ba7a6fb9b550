package node

import (
	"math"
	"testing"
)

func TestRTTFilter(t *testing.T) {
	cases := []struct {
		name    string
		seconds [][]float64
		want    float64
	}{
		{"no measurement yet", [][]float64{nil, {}}, 0},
		{"first median taken as is", [][]float64{{40, 225, 42}}, 42},
		{"even count averages the middle two", [][]float64{{40, 50, 60, 900}}, 55},
		{"nonsense ignored", [][]float64{{-1, 0, math.NaN(), math.Inf(1), 90_000, 40}}, 40},
		{"a second without reports keeps the figure", [][]float64{{40}, nil}, 40},
		{"a step is followed gradually", [][]float64{{40}, {140}}, 60},
		{"and reached after a while", [][]float64{{40}, {140}, {140}, {140}, {140}, {140}, {140}, {140}, {140}, {140}, {140}, {140}, {140}, {140}, {140}, {140}, {140}, {140}, {140}, {140}, {140}}, 138.85},
		{"one queued track does not move it", [][]float64{{40, 41}, {40, 41, 225}}, 40.6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var f rttFilter
			var got float64
			for _, s := range tc.seconds {
				got = f.update(s)
			}
			if math.Abs(got-tc.want) > 0.1 {
				t.Fatalf("got %.2f ms, want %.2f", got, tc.want)
			}
		})
	}
}
