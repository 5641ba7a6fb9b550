package soak

import (
	"reflect"
	"testing"
	"time"
)

func TestNotFlowing(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 10, 0, time.UTC)
	ago := func(s float64) time.Time { return now.Add(-time.Duration(s * float64(time.Second))) }
	pairs := []pairState{
		{recv: "a", pub: "p", audio: ago(0.1), video: ago(0.1)},
		{recv: "b", pub: "p", audio: ago(2.4), video: ago(9)},
		{recv: "c", pub: "p", audio: ago(2.6), video: ago(0.1)},
		{recv: "d", pub: "p"}, // never anything
	}
	audio := notFlowing(pairs, now, false)
	if want := []string{"c hears nothing from p", "d hears nothing from p"}; !reflect.DeepEqual(audio, want) {
		t.Errorf("audio only: %q, want %q", audio, want)
	}
	both := notFlowing(pairs, now, true)
	if want := []string{"b sees nothing from p", "c hears nothing from p", "d hears nothing from p"}; !reflect.DeepEqual(both, want) {
		t.Errorf("audio and video: %q, want %q", both, want)
	}
}
