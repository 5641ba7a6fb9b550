package relay

import "time"

// DefaultPingInterval is the ping interval when Config leaves it zero. It is
// short so that a dead peer is noticed within a second (SilentAfter), well
// before the membership declares it dead; a ping and its pong cost a peer
// about 120 bytes each way per interval.
const DefaultPingInterval = 250 * time.Millisecond

// silentIntervals is how many ping intervals a peer may go unheard before
// it counts as silent. A live peer sends two datagrams per interval even
// when idle (its own ping and the pong to ours), so three intervals take
// about six losses in a row, while a dead one is noticed in well under
// 1.5 s at the default interval.
const silentIntervals = 3

// SilentAfter is how long a peer may go without one authenticated datagram
// before Silent reports it.
func (t *Transport) SilentAfter() time.Duration { return silentIntervals * t.every }

// LastHeard returns when the last authenticated datagram (media, control,
// ping or pong) came from peer; ok is false if none has, or peer is unknown.
func (t *Transport) LastHeard(peer NodeID) (at time.Time, ok bool) {
	p := t.peer(peer)
	if p == nil {
		return time.Time{}, false
	}
	lh := p.lastHeard.Load()
	if lh == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, lh), true
}

// Silent reports whether peer is not reachable now: nothing authenticated
// has come from it for SilentAfter, or ever, or it is not a peer at all.
// now is on the transport's clock (Config.Now, time.Now by default).
func (t *Transport) Silent(peer NodeID, now time.Time) bool {
	p := t.peer(peer)
	if p == nil {
		return true
	}
	return t.silent(p.lastHeard.Load(), now)
}

// silent applies the rule to a lastHeard value in unix nanoseconds.
func (t *Transport) silent(lastHeard int64, now time.Time) bool {
	return lastHeard == 0 || now.UnixNano()-lastHeard >= int64(t.SilentAfter())
}
