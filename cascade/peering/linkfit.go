package peering

import "github.com/switchyard/switchyard/media"

// Fitting what a peer wants into what the link to it carries.

// fitTrack is one local track as the fit for one link sees it.
type fitTrack struct {
	audio bool
	// want are the layers the peer asked for.
	want media.LayerSet
	// active are the layers the publisher sends, rates what each costs on
	// the link (bits/s).
	active media.LayerSet
	rates  [media.MaxLayers]int64
	// held are the layers held at the previous fit: a held layer comes
	// back only when it fits with room (releaseMargin), so that a layer
	// near the limit does not come and go with every wobble of a bitrate.
	held media.LayerSet
}

// fitResult is what goes over the link for one track, and what the link
// holds back.
type fitResult struct {
	// send are the layers relayed to the peer.
	send media.LayerSet
	// held are the layers the publisher sends that the link does not carry
	// for this peer: those stepped down from, and those above that would
	// not fit if the peer asked. The peer is told they are not active, so
	// that its receivers choose a layer that arrives.
	held media.LayerSet
}

// releaseMargin is how much room a held layer needs to come back.
const releaseMargin = 1.15

// fitLink chooses what goes to one peer when what it wants costs more than
// budget (bits/s; 0 or less: no limit). Audio always goes. Video steps
// down, the most expensive layer first, so that every track keeps its
// lower layers longest: a want of f becomes h, then q, and only then does
// a track go without video. out has one result per track. It returns what
// goes, and the demand: what would go if every track with a held layer got
// the lowest of them (0 when nothing is held).
func fitLink(budget int64, tracks []fitTrack, out []fitResult) (cost, demand int64) {
	ceil := make([]int, len(tracks)) // top layer each video track may send; -1: none
	for i := range tracks {
		t := &tracks[i]
		ceil[i] = top(t.want)
		out[i] = fitResult{send: sendSet(t.want, ceil[i])}
		cost += costOf(t, out[i].send)
	}
	if budget <= 0 {
		return cost, 0
	}
	for cost > budget {
		worst := -1
		for i := range tracks {
			if tracks[i].audio || ceil[i] < 0 {
				continue
			}
			if worst < 0 || tracks[i].rates[ceil[i]] > tracks[worst].rates[ceil[worst]] {
				worst = i
			}
		}
		if worst < 0 {
			break // audio alone: it goes whatever the estimate says
		}
		t := &tracks[worst]
		cost -= costOf(t, out[worst].send)
		ceil[worst] = below(t.active, ceil[worst])
		out[worst].send = sendSet(t.want, ceil[worst])
		cost += costOf(t, out[worst].send)
	}
	for i := range tracks {
		t := &tracks[i]
		if t.audio {
			continue
		}
		// What the track would cost if the peer moved it to layer l alone.
		rest := cost - costOf(t, out[i].send)
		var held media.LayerSet
		lowest := -1
		for l := max(ceil[i]+1, 0); l < media.MaxLayers; l++ {
			if !t.active.Has(l) {
				continue
			}
			need := t.rates[l]
			if t.held.Has(l) {
				need = int64(float64(need) * releaseMargin)
			}
			if rest+need > budget || held != 0 {
				// Above a held layer nothing fits either.
				held = held.With(l)
				if lowest < 0 {
					lowest = l
				}
			}
		}
		out[i].held = held
		if lowest >= 0 {
			demand += max(t.rates[lowest]-costOf(t, out[i].send), 0)
		}
	}
	if demand > 0 {
		demand += cost
	}
	return cost, demand
}

// sendSet is what goes for a want under a ceiling: the wanted layers up to
// it, and the ceiling itself in place of wanted layers above it.
func sendSet(want media.LayerSet, ceil int) media.LayerSet {
	if ceil < 0 {
		return 0
	}
	s := want & (1<<(ceil+1) - 1)
	if top(want) > ceil {
		s = s.With(ceil)
	}
	return s
}

func costOf(t *fitTrack, s media.LayerSet) int64 {
	var c int64
	for l := range media.MaxLayers {
		if s.Has(l) {
			c += t.rates[l]
		}
	}
	return c
}

// top is the highest layer in s, -1 when empty.
func top(s media.LayerSet) int {
	for l := media.MaxLayers - 1; l >= 0; l-- {
		if s.Has(l) {
			return l
		}
	}
	return -1
}

// below is the highest active layer under l, -1 when none.
func below(active media.LayerSet, l int) int {
	for l--; l >= 0; l-- {
		if active.Has(l) {
			return l
		}
	}
	return -1
}
