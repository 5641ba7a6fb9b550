// Package pionlog sends pion's logs to slog, so that they reach the
// console's log view instead of writing over the terminal.
package pionlog

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
	"github.com/switchyard/switchyard/internal/ratelog"
)

// Factory makes pion loggers that write to an slog.Logger. pion's errors
// are mostly about one peer connection going away, so they are logged one
// level lower than pion says: a node serves many peers.
//
// pion logs some packets from the network one line each (a STUN request
// with a known ufrag and a bad integrity, for one), so its Info, Warn and
// Error lines are rate-limited per scope and format string: lines that
// differ only in the sender share a bucket.
type Factory struct {
	Logger *slog.Logger
	// Limiter is shared by every logger the factory makes; nil shares one
	// process-wide limiter with ratelog's defaults.
	Limiter *ratelog.Limiter[Template]
}

// Template identifies a kind of pion log line.
type Template struct {
	Scope  string // the pion logger's scope, such as "ice"
	Format string // the format string, or the message of an unformatted line
}

var shared = ratelog.New[Template](nil, 0, 0)

// NewLogger implements logging.LoggerFactory.
func (f Factory) NewLogger(scope string) logging.LeveledLogger {
	l := f.Logger
	if l == nil {
		l = slog.Default()
	}
	lim := f.Limiter
	if lim == nil {
		lim = shared
	}
	return logger{l.With("pion", scope), scope, lim}
}

type logger struct {
	l     *slog.Logger
	scope string
	limit *ratelog.Limiter[Template] // for Info, Warn and Error lines
}

// log writes msg, formatted with args if format is set, when level is
// enabled and, if limit is set, its template has a token. Nothing is
// formatted for a line that is dropped.
func (g logger) log(level slog.Level, limit *ratelog.Limiter[Template], format bool, msg string, args ...any) {
	ctx := context.Background()
	if !g.l.Enabled(ctx, level) {
		return
	}
	var dropped uint64
	if limit != nil {
		var ok bool
		if ok, dropped = limit.Allow(Template{g.scope, msg}); !ok {
			return
		}
	}
	if format {
		msg = fmt.Sprintf(msg, args...)
	}
	if dropped > 0 {
		g.l.Log(ctx, level, msg, ratelog.SuppressedKey, dropped)
		return
	}
	g.l.Log(ctx, level, msg)
}

const trace = slog.LevelDebug - 4

func (g logger) Trace(msg string)          { g.log(trace, nil, false, msg) }
func (g logger) Tracef(f string, a ...any) { g.log(trace, nil, true, f, a...) }
func (g logger) Debug(msg string)          { g.log(slog.LevelDebug, nil, false, msg) }
func (g logger) Debugf(f string, a ...any) { g.log(slog.LevelDebug, nil, true, f, a...) }
func (g logger) Info(msg string)           { g.log(slog.LevelDebug, g.limit, false, msg) }
func (g logger) Infof(f string, a ...any)  { g.log(slog.LevelDebug, g.limit, true, f, a...) }
func (g logger) Warn(msg string)           { g.log(slog.LevelInfo, g.limit, false, msg) }
func (g logger) Warnf(f string, a ...any)  { g.log(slog.LevelInfo, g.limit, true, f, a...) }
func (g logger) Error(msg string)          { g.log(slog.LevelWarn, g.limit, false, msg) }
func (g logger) Errorf(f string, a ...any) { g.log(slog.LevelWarn, g.limit, true, f, a...) }
