// Package pionlog sends pion's logs to slog, so that they reach the
// console's log view instead of writing over the terminal.
package pionlog

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// Factory makes pion loggers that write to an slog.Logger. pion's errors
// are mostly about one peer connection going away, so they are logged one
// level lower than pion says: a node serves many peers.
type Factory struct{ Logger *slog.Logger }

// NewLogger implements logging.LoggerFactory.
func (f Factory) NewLogger(scope string) logging.LeveledLogger {
	l := f.Logger
	if l == nil {
		l = slog.Default()
	}
	return logger{l.With("pion", scope)}
}

type logger struct{ l *slog.Logger }

func (g logger) log(level slog.Level, msg string) {
	if g.l.Enabled(context.Background(), level) {
		g.l.Log(context.Background(), level, msg)
	}
}

func (g logger) logf(level slog.Level, format string, args ...any) {
	if g.l.Enabled(context.Background(), level) {
		g.l.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

const trace = slog.LevelDebug - 4

func (g logger) Trace(msg string)                  { g.log(trace, msg) }
func (g logger) Tracef(format string, args ...any) { g.logf(trace, format, args...) }
func (g logger) Debug(msg string)                  { g.log(slog.LevelDebug, msg) }
func (g logger) Debugf(format string, args ...any) { g.logf(slog.LevelDebug, format, args...) }
func (g logger) Info(msg string)                   { g.log(slog.LevelDebug, msg) }
func (g logger) Infof(format string, args ...any)  { g.logf(slog.LevelDebug, format, args...) }
func (g logger) Warn(msg string)                   { g.log(slog.LevelInfo, msg) }
func (g logger) Warnf(format string, args ...any)  { g.logf(slog.LevelInfo, format, args...) }
func (g logger) Error(msg string)                  { g.log(slog.LevelWarn, msg) }
func (g logger) Errorf(format string, args ...any) { g.logf(slog.LevelWarn, format, args...) }
