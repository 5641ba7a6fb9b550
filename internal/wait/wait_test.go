package wait

import (
	"context"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	if !Sleep(context.Background(), time.Millisecond) {
		t.Error("a live context's sleep reported cancellation")
	}
	if !Sleep(context.Background(), -time.Second) {
		t.Error("a negative sleep on a live context reported cancellation")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Error("a cancelled context's sleep reported success")
	}
	if Sleep(ctx, 0) {
		t.Error("a zero sleep on a cancelled context reported success")
	}
}
