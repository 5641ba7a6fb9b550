package membership

import (
	"bytes"
	"context"
	"log"
	"log/slog"

	"github.com/switchyard/switchyard/internal/ratelog"
)

// slogWriter turns memberlist's "[LEVEL] memberlist: message" lines into
// slog records at the matching level. memberlist logs every bad packet it
// gets, so the lines are rate-limited by their template (see logKey).
type slogWriter struct {
	log   *slog.Logger
	limit *ratelog.Limiter[string]
}

func newStdLogger(l *slog.Logger) *log.Logger {
	return log.New(slogWriter{l, ratelog.New[string](nil, 0, 0)}, "", 0)
}

// logKey returns the constant head of a memberlist message: the text before
// the first part that varies with the packet (a number, a quoted label or
// node name, the sender, an error's detail after a colon), at most
// maxKeyLen bytes. memberlist only gives formatted lines, so the template is
// recovered this way.
func logKey(msg []byte) string {
	const prefix = "memberlist: "
	start := 0
	if bytes.HasPrefix(msg, []byte(prefix)) {
		start = len(prefix)
	}
	end := len(msg)
	if i := bytes.Index(msg[start:], []byte("from=")); i >= 0 {
		end = start + i
	}
	if i := bytes.IndexAny(msg[start:end], "0123456789:\"'(%"); i >= 0 {
		end = start + i
	}
	end = min(end, start+maxKeyLen)
	return string(bytes.TrimRight(msg[:end], " "))
}

const maxKeyLen = 48

var levels = []struct {
	prefix []byte
	level  slog.Level
}{
	{[]byte("[DEBUG] "), slog.LevelDebug},
	{[]byte("[INFO] "), slog.LevelInfo},
	{[]byte("[WARN] "), slog.LevelWarn},
	{[]byte("[ERR] "), slog.LevelError},
	{[]byte("[ERROR] "), slog.LevelError},
}

func (w slogWriter) Write(p []byte) (int, error) {
	msg := bytes.TrimRight(p, "\n")
	level := slog.LevelInfo
	for _, l := range levels {
		if bytes.HasPrefix(msg, l.prefix) {
			level, msg = l.level, msg[len(l.prefix):]
			break
		}
	}
	// memberlist reports its own sockets closing under it at shutdown as
	// errors; they are part of stopping, not a fault.
	if level > slog.LevelDebug && bytes.Contains(msg, []byte("use of closed network connection")) {
		level = slog.LevelDebug
	}
	if !w.log.Enabled(context.Background(), level) {
		return len(p), nil
	}
	ok, dropped := w.limit.Allow(logKey(msg))
	switch {
	case !ok:
	case dropped > 0:
		w.log.Log(context.Background(), level, string(msg), ratelog.SuppressedKey, dropped)
	default:
		w.log.Log(context.Background(), level, string(msg))
	}
	return len(p), nil
}
