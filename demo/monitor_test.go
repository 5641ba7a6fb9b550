package demo

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/node/snapshot"
)

func TestRelayRate(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	snap := func(at time.Duration, reported int64, bytes uint64) snapshot.Snapshot {
		return snapshot.Snapshot{Taken: t0.Add(at), Node: snapshot.Node{Peers: []snapshot.Peer{{
			BitrateOut: reported,
			BytesOut:   map[string]uint64{"h": bytes / 2, "audio": bytes / 4},
			BytesIn:    map[string]uint64{"q": bytes - bytes/2 - bytes/4},
		}}}}
	}
	tests := []struct {
		name  string
		snaps []snapshot.Snapshot
		want  int64 // after the last snapshot
	}{
		{"first sample has no rate", []snapshot.Snapshot{snap(0, 0, 1000)}, 0},
		{"from counters", []snapshot.Snapshot{snap(0, 0, 1000), snap(time.Second, 0, 126_000)}, 1_000_000},
		{"over two seconds", []snapshot.Snapshot{snap(0, 0, 0), snap(2*time.Second, 0, 250_000)}, 1_000_000},
		{"reported wins", []snapshot.Snapshot{snap(0, 0, 0), snap(time.Second, 42_000, 250_000)}, 42_000},
		{"counters reset", []snapshot.Snapshot{snap(0, 0, 5000), snap(time.Second, 0, 10)}, 0},
		{"same snapshot twice", []snapshot.Snapshot{snap(0, 0, 0), snap(0, 0, 9000)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMonitor(nil, quietLogger())
			var got int64
			for _, s := range tt.snaps {
				got = m.relayRate("n1", s)
			}
			if got != tt.want {
				t.Errorf("relayRate = %d, want %d", got, tt.want)
			}
		})
	}
}
