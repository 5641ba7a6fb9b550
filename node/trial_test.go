package node

import (
	"testing"
	"time"
)

func TestUpgradeTrial(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	type step struct {
		at      float64
		est     int64
		loss    float64
		limited bool
		want    int64
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"not limited: never trials", []step{
			{0, 500, 0, false, 500}, {5, 500, 0, false, 500}, {10, 500, 0, false, 500}}},
		{"limited and stable: doubles after the first wait, for two seconds", []step{
			{0, 500, 0, true, 500}, {3, 500, 0, true, 500}, {4, 500, 0, true, 1000},
			{5, 500, 0, true, 1000}, {6.5, 500, 0, true, 500}}},
		{"lossy downlink: no trial", []step{
			{0, 500, 5, true, 500}, {4, 500, 5, true, 500}, {9, 500, 3, true, 500}}},
		{"failed trial backs off to twice the wait", []step{
			{0, 500, 0, true, 500}, {4, 500, 0, true, 1000}, {5, 300, 0, true, 300},
			{9.5, 300, 0, true, 300}, {13, 300, 0, true, 600}}},
		{"estimate dropping restarts the stable clock", []step{
			{0, 500, 0, true, 500}, {3, 400, 0, true, 400}, {6, 400, 0, true, 400}, {7, 400, 0, true, 800}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr upgradeTrial
			for i, s := range tt.steps {
				tr.limited = s.limited
				if got := tr.budget(s.est, s.loss, at(s.at)); got != s.want {
					t.Fatalf("step %d (t=%.1fs est=%d): budget %d, want %d", i, s.at, s.est, got, s.want)
				}
			}
		})
	}
}
