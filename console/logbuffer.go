package console

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LogEntry is one record kept by a LogBuffer, already flattened to text so
// that the buffer holds no references into the rest of the node.
type LogEntry struct {
	Time    time.Time
	Level   slog.Level
	Message string
	Attrs   string // key=value pairs, groups joined with dots
}

// logRing is the storage shared by a LogBuffer and the handlers derived from
// it with WithAttrs and WithGroup.
type logRing struct {
	mu      sync.Mutex
	entries []LogEntry // ring of cap n; guarded by mu
	next    int        // where the next entry goes; guarded by mu
	full    bool       // guarded by mu
}

// LogBuffer is a slog.Handler that keeps the last n records for the console's
// Log view and passes every record on to another handler.
type LogBuffer struct {
	ring   *logRing
	next   slog.Handler
	attrs  string // preformatted attributes from WithAttrs
	prefix string // group prefix from WithGroup, ending in "."
}

const defaultLogEntries = 1000

// NewLogBuffer returns a handler that keeps the last n records (1000 when
// n <= 0) and passes each record on to next, which may be nil.
func NewLogBuffer(n int, next slog.Handler) *LogBuffer {
	if n <= 0 {
		n = defaultLogEntries
	}
	return &LogBuffer{ring: &logRing{entries: make([]LogEntry, n)}, next: next}
}

// Enabled keeps Info and above for the console even when next is quieter,
// and lets Debug through when next wants it.
func (b *LogBuffer) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || (b.next != nil && b.next.Enabled(ctx, l))
}

// Handle stores r and passes it to next if next is enabled for its level.
func (b *LogBuffer) Handle(ctx context.Context, r slog.Record) error {
	var sb strings.Builder
	sb.WriteString(b.attrs)
	r.Attrs(func(a slog.Attr) bool {
		appendAttr(&sb, b.prefix, a)
		return true
	})
	b.ring.add(LogEntry{Time: r.Time, Level: r.Level, Message: r.Message, Attrs: sb.String()})
	if b.next != nil && b.next.Enabled(ctx, r.Level) {
		return b.next.Handle(ctx, r)
	}
	return nil
}

// WithAttrs returns a handler sharing this buffer whose records carry as.
func (b *LogBuffer) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return b
	}
	var sb strings.Builder
	sb.WriteString(b.attrs)
	for _, a := range as {
		appendAttr(&sb, b.prefix, a)
	}
	nb := *b
	nb.attrs = sb.String()
	if b.next != nil {
		nb.next = b.next.WithAttrs(as)
	}
	return &nb
}

// WithGroup returns a handler sharing this buffer that qualifies later
// attributes with name.
func (b *LogBuffer) WithGroup(name string) slog.Handler {
	if name == "" {
		return b
	}
	nb := *b
	nb.prefix = b.prefix + name + "."
	if b.next != nil {
		nb.next = b.next.WithGroup(name)
	}
	return &nb
}

// Entries returns the kept records, oldest first.
func (b *LogBuffer) Entries() []LogEntry {
	return b.ring.snapshot()
}

func (r *logRing) add(e LogEntry) {
	r.mu.Lock()
	r.entries[r.next] = e
	r.next++
	if r.next == len(r.entries) {
		r.next, r.full = 0, true
	}
	r.mu.Unlock()
}

func (r *logRing) snapshot() []LogEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return append([]LogEntry(nil), r.entries[:r.next]...)
	}
	out := make([]LogEntry, 0, len(r.entries))
	out = append(out, r.entries[r.next:]...)
	return append(out, r.entries[:r.next]...)
}

func appendAttr(sb *strings.Builder, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, ga := range a.Value.Group() {
			appendAttr(sb, p, ga)
		}
		return
	}
	if sb.Len() > 0 {
		sb.WriteByte(' ')
	}
	sb.WriteString(prefix)
	sb.WriteString(a.Key)
	sb.WriteByte('=')
	v := a.Value.String()
	if v == "" || strings.ContainsAny(v, " \t\n\"=") || !strconv.CanBackquote(v) {
		v = strconv.Quote(v)
	}
	sb.WriteString(v)
}
