// Package speaker picks a conference's dominant speaker from RFC 6464 audio levels.
package speaker

import (
	"slices"
	"sync"
	"time"
)

// Detector identifies the dominant speaker of one conference. Add, Remove,
// Decide and Dominant may be called from any goroutine.
type Detector struct {
	mu sync.Mutex
	// The fields below are guarded by mu.
	speakers []*Speaker // in the order added, so ties resolve the same way every run
	dominant *Speaker
	reported string // what the last Decide returned
}

// New returns a Detector with no participants.
func New() *Detector {
	return &Detector{}
}

// Add registers a participant's audio and returns the Speaker to feed levels
// to. Adding an id that is already registered returns its existing Speaker, so
// its history survives a renegotiation.
func (d *Detector) Add(id string) *Speaker {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.speakers {
		if s.id == id {
			return s
		}
	}
	s := newSpeaker(id)
	d.speakers = append(d.speakers, s)
	return s
}

// Remove forgets a participant. If it was the dominant speaker, Dominant is ""
// until the next Decide picks a successor.
func (d *Detector) Remove(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	i := slices.IndexFunc(d.speakers, func(s *Speaker) bool { return s.id == id })
	if i < 0 {
		return
	}
	if d.dominant == d.speakers[i] {
		d.dominant = nil
	}
	d.speakers = slices.Delete(d.speakers, i, i+1)
}

// Dominant returns the current dominant speaker's id, "" when there is none.
func (d *Detector) Dominant() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dominant == nil {
		return ""
	}
	return d.dominant.id
}

// Decide runs one round of the dominant speaker selection at time at (every
// ~300 ms) and reports the dominant speaker and whether it differs from the
// one the previous call returned.
func (d *Detector) Decide(at time.Time) (dominant string, changed bool) {
	d.mu.Lock()
	defer d.mu.Unlock()

	for _, s := range d.speakers {
		s.eval = s.evaluate(at)
	}

	if d.dominant == nil {
		d.dominant = d.nominate()
	} else {
		d.dominant = d.challenge(d.dominant)
	}

	if d.dominant != nil {
		dominant = d.dominant.id
	}
	changed = dominant != d.reported
	d.reported = dominant
	return dominant, changed
}

// challenge returns the speaker who takes over from dom, or dom itself. A
// challenger must beat dom on all three time scales; among several, the one
// furthest ahead on the medium scale wins, as in the paper. Called with mu
// held.
func (d *Detector) challenge(dom *Speaker) *Speaker {
	winner, margin := dom, c2
	for _, s := range d.speakers {
		if s == dom {
			continue
		}
		if ok, r2 := beats(s.eval.act, dom.eval.act); ok && r2 > margin {
			winner, margin = s, r2
		}
	}
	return winner
}

// nominate picks a dominant speaker when there is none: at the start, or after
// the dominant one left. The paper always has one. Choosing the speaker with
// the most long-term activity, then the one who talked most recently, gives the
// answer a challenge would once everyone has spoken, without crowning a
// participant who never said more than a click. Called with mu held.
func (d *Detector) nominate() *Speaker {
	var best *Speaker
	for _, s := range d.speakers {
		e := s.eval
		// talked is counted against the noise floor of the moment each
		// frame arrived; act against the current one, which may have
		// dropped since and revealed speech.
		if e.talked >= never && e.act.long == 0 {
			continue
		}
		if best == nil || e.act.long > best.eval.act.long ||
			(e.act.long == best.eval.act.long && e.talked < best.eval.talked) {
			best = s
		}
	}
	return best
}
