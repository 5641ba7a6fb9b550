package soak

import (
	"reflect"
	"testing"
	"time"
)

func TestReconnectOrder(t *testing.T) {
	tests := []struct {
		name     string
		fallback []string
		lost     string
		want     []string
	}{
		{"fallback in order, then the lost node", []string{"ws://b/ws", "wss://c/ws"}, "ws://a/ws",
			[]string{"ws://b/ws", "wss://c/ws", "ws://a/ws"}},
		{"duplicates once", []string{"ws://b/ws", "ws://b/ws", "ws://a/ws"}, "ws://a/ws", []string{"ws://b/ws", "ws://a/ws"}},
		{"only websocket URLs", []string{"http://x/", "javascript:alert(1)", "ws://bad host/", "", "ws://b/ws"}, "ws://a/ws",
			[]string{"ws://b/ws", "ws://a/ws"}},
		{"no fallback", nil, "ws://a/ws", []string{"ws://a/ws"}},
		{"nothing usable", []string{"ftp://x"}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reconnectOrder(tt.fallback, tt.lost); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("reconnectOrder = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReconnectDelay(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		attempt, n int
		jitter     float64
		want       time.Duration
	}{
		{0, 3, 0, 250 * ms}, {2, 3, 0, 250 * ms}, // first round: the base pause
		{3, 3, 0, 500 * ms}, {6, 3, 0.5, 1125 * ms}, // doubling, plus jitter
		{0, 1, 0.999, 250*ms + 249750*time.Microsecond},
		{4, 1, 0, 4 * time.Second}, {5, 1, 0, 4 * time.Second}, {50, 1, 0, 4 * time.Second}, // capped
		{1, 0, 0, 500 * ms}, // no URLs counts as one
	}
	for _, tt := range tests {
		if got := reconnectDelay(tt.attempt, tt.n, tt.jitter); got != tt.want {
			t.Errorf("reconnectDelay(%d, %d, %v) = %v, want %v", tt.attempt, tt.n, tt.jitter, got, tt.want)
		}
	}
}
