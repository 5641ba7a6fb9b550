package soak

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// Departure kinds: every way a participant leaves that the soak makes,
// after docs/protocol.md, "Leaving: how fast the node notices".
const (
	KindLeave        = "leave"
	KindVanish       = "vanish"
	KindPCClosed     = "pc-closed"
	KindNetworkLost  = "network-lost"
	KindICEFailed    = "ice-failed"
	KindOfferTimeout = "offer-timeout"
	KindJoinTimeout  = "join-timeout"
	KindNodeKilled   = "node-killed"
)

// kindSpec is what the protocol documents for a kind of departure.
type kindSpec struct {
	kind, desc string
	// doc is the documented time to removal; the check allows doc plus
	// the run's slack.
	doc time.Duration
	// reasons are the close texts the node may give the client, for the
	// kinds where the client still listens; nil: not observable.
	reasons []string
}

var kindSpecs = []kindSpec{
	{KindLeave, "leave message, WebSocket closed", 0, nil},
	{KindVanish, "WebSocket and PeerConnection dropped without a word", 0, nil},
	{KindPCClosed, "PeerConnection closed, WebSocket kept open", 0, []string{"media connection closed"}},
	{KindNetworkLost, "media path lost (ICE stops), WebSocket open", 9 * time.Second,
		[]string{"media connection lost", "media connection failed"}},
	{KindICEFailed, "ICE never connects (PeerConnection fails), WebSocket open", 9 * time.Second,
		[]string{"media connection failed"}},
	{KindOfferTimeout, "joined, never sent an offer (join flood)", 10 * time.Second, []string{"no offer within"}},
	{KindJoinTimeout, "connected, never joined", 10 * time.Second, []string{"no join within"}},
	{KindNodeKilled, "its node SIGKILLed: the survivors drop it", 5 * time.Second, nil},
}

func specOf(kind string) kindSpec {
	for _, s := range kindSpecs {
		if s.kind == kind {
			return s
		}
	}
	return kindSpec{kind: kind}
}

// reasonOK says whether a close text is one documented for the kind.
func (s kindSpec) reasonOK(text string) bool {
	for _, r := range s.reasons {
		if strings.HasPrefix(text, r) {
			return true
		}
	}
	return false
}

// book gathers the departure counts of a run. It is safe for concurrent use.
type book struct {
	slack time.Duration
	mu    sync.Mutex
	stats map[string]*DepartureStats
}

func newBook(slack time.Duration) *book {
	b := &book{slack: slack, stats: map[string]*DepartureStats{}}
	for _, s := range kindSpecs {
		b.stats[s.kind] = &DepartureStats{Kind: s.kind, Description: s.desc,
			BoundSec: (s.doc + slack).Seconds(), Reasons: map[string]int{}}
	}
	return b
}

// bound is the longest a removal of kind may take.
func (b *book) bound(kind string) time.Duration { return specOf(kind).doc + b.slack }

func (b *book) with(kind string, f func(*DepartureStats)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.stats[kind]
	if s == nil {
		s = &DepartureStats{Kind: kind, Reasons: map[string]int{}}
		b.stats[kind] = s
	}
	f(s)
}

// made counts a departure the soak started.
func (b *book) made(kind string) { b.with(kind, func(s *DepartureStats) { s.Count++ }) }

// removed records the time from the departure to the node no longer
// listing the participant.
func (b *book) removed(kind string, d time.Duration) {
	bound := b.bound(kind)
	b.with(kind, func(s *DepartureStats) {
		s.MaxRemovalSec = max(s.MaxRemovalSec, round(d.Seconds(), 3))
		if d <= bound {
			s.Removed++
		} else {
			s.Late++
		}
	})
}

func (b *book) notRemoved(kind, example string) {
	b.with(kind, func(s *DepartureStats) {
		s.NotRemoved++
		s.Examples = appendExample(s.Examples, example)
	})
}

func (b *book) lostWithNode(kind string) { b.with(kind, func(s *DepartureStats) { s.LostWithNode++ }) }

// reason records the close text the node gave a departing client.
func (b *book) reason(kind, text string) {
	ok := specOf(kind).reasonOK(text)
	if text == "" {
		text = "(none)"
	}
	b.with(kind, func(s *DepartureStats) {
		s.Reasons[text]++
		if !ok {
			s.WrongReason++
		}
	})
}

// unexpected records a participant the node dropped while it was healthy.
func (b *book) unexpected(kind, example string) {
	b.with(kind, func(s *DepartureStats) {
		s.Unexpected++
		s.Examples = appendExample(s.Examples, example)
	})
}

// list returns the stats in the order of kindSpecs.
func (b *book) list() []DepartureStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]DepartureStats, 0, len(b.stats))
	for _, s := range kindSpecs {
		st := *b.stats[s.kind]
		st.Reasons = cloneMap(st.Reasons)
		st.Examples = slices.Clone(st.Examples)
		out = append(out, st)
	}
	return out
}

const maxExamples = 5

func appendExample(ex []string, e string) []string {
	if len(ex) >= maxExamples || e == "" {
		return ex
	}
	return append(ex, e)
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return nil
	}
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
