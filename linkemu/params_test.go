package linkemu

import (
	"math"
	"testing"
	"time"
)

func TestParamsValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Params
		ok   bool
	}{
		{"zero", Params{}, true},
		{"typical", Params{Delay: 40 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 0.01, RateBitsPerSec: 5e6}, true},
		{"jitter above delay", Params{Delay: time.Millisecond, Jitter: time.Second}, true},
		{"negative delay", Params{Delay: -1}, false},
		{"negative jitter", Params{Jitter: -1}, false},
		{"loss above one", Params{Loss: 1.5}, false},
		{"negative loss", Params{Loss: -0.1}, false},
		{"NaN loss", Params{Loss: math.NaN()}, false},
		{"negative rate", Params{RateBitsPerSec: -1}, false},
		{"negative queue", Params{QueueBytes: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
