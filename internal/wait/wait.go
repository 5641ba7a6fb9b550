// Package wait sleeps in a way a context can cut short.
package wait

import (
	"context"
	"time"
)

// Sleep waits d and reports true, or reports false as soon as ctx ends. A
// d of zero or less returns at once, false only if ctx has already ended.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
