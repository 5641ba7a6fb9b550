// Package layer decides which simulcast layer each video subscription of one receiver gets.
package layer

import (
	"cmp"
	"slices"
)

// Layer is one published simulcast encoding. A Request lists them in
// ascending quality (q, h, f).
type Layer struct {
	RID     string
	Bitrate int64 // bits/s, as measured on the way in
	Height  int   // pixels; 0 when not known yet
	Active  bool  // packets arrive for it
}

// Request is one video subscription of the receiver.
type Request struct {
	Layers    []Layer
	MaxHeight int      // largest height the receiver shows; 0 = tile hidden; -1 = no constraint
	Cap       int      // operator cap: highest allowed layer index; -1 = none
	Current   int      // layer being forwarded now, for hysteresis; -1 = none
	Priority  Priority // higher is served first
	// Recency orders requests of one priority: 0 for the publisher who
	// spoke last, 1 for the one before, and so on (Jitsi's last-N); ties
	// keep the requests' order.
	Recency int
}

// Priority orders the requests of one receiver when bandwidth is scarce.
type Priority uint8

// Priorities, lowest first: a screen share's text must stay readable even
// before the dominant speaker's face.
const (
	PriorityNormal  Priority = iota
	PrioritySpeaker          // the dominant speaker's camera
	PriorityScreen           // a screen share
)

// byPriority lists the priorities in the order they are served.
var byPriority = [...]Priority{PriorityScreen, PrioritySpeaker, PriorityNormal}

// Choice is the allocator's answer for one Request.
type Choice struct {
	Target int // layer index to forward; -1 = send nothing
	Reason Reason
}

// Reason says what keeps a Choice from being one layer higher.
type Reason uint8

const (
	ReasonBest         Reason = iota // the top layer: nothing to improve
	ReasonBandwidth                  // the receiver's estimate is spent
	ReasonConstraint                 // the tile is no taller than this layer
	ReasonOperatorCap                // an operator capped the subscription here
	ReasonNotPublished               // the next better layer is not being sent
	ReasonHidden                     // the receiver does not show the tile
	ReasonLastN                      // the estimate went to those who spoke more recently
)

// String returns the words operators see; they match node/snapshot's.
func (r Reason) String() string {
	switch r {
	case ReasonBest:
		return "best layer for the tile"
	case ReasonBandwidth:
		return "bandwidth estimate"
	case ReasonConstraint:
		return "receiver constraint"
	case ReasonOperatorCap:
		return "operator cap"
	case ReasonNotPublished:
		return "layer not published"
	case ReasonHidden:
		return "tile not shown"
	case ReasonLastN:
		return "bandwidth: recent speakers first"
	}
	return "unknown"
}

const (
	// upgradeMarginPct is how much more than a layer's bitrate must be free
	// to switch up to it. Staying needs only the bitrate itself, so an
	// estimate hovering at one layer's rate does not flip the receiver
	// between two layers on every run.
	upgradeMarginPct = 15

	// assumedTopHeight stands in for a publisher that signalled no
	// heights at all: browsers' default camera capture is 720p.
	assumedTopHeight = 720
)

// Allocate splits budget (bits/s towards the receiver) among reqs and writes
// one Choice per Request to out, which must be as long as reqs.
//
// Every request first gets its lowest active layer, higher priorities first
// and, within a priority, those who spoke most recently first, as long as the
// budget covers it; a priority request gets it even when it does not,
// provided there is any budget at all. Then the priority requests are raised
// one layer at a time, round-robin, towards the layer they want, and after
// them the others in the same way. Raising a request above the layer it is on
// needs the new layer's bitrate plus 15% to fit.
func Allocate(budget int64, reqs []Request, out []Choice) {
	out = out[:len(reqs)]
	for i := range reqs {
		out[i] = Choice{Target: -1}
	}
	order := make([]int, len(reqs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(reqs[a].Recency, reqs[b].Recency) })

	// Base layers: priority requests, then the rest.
	for _, prio := range byPriority {
		served := false // a request of this priority got its base layer
		for _, i := range order {
			r := &reqs[i]
			if r.Priority != prio {
				continue
			}
			want, reason := wanted(r)
			if want < 0 {
				out[i].Reason = reason
				continue
			}
			lo := lowestActive(r.Layers)
			need := cost(r, lo)
			switch {
			case need <= budget:
			case r.Priority > PriorityNormal && budget > 0:
				// A share or the dominant speaker's video is what
				// everyone looks at: send something even if it overshoots.
			default:
				out[i].Reason = ReasonBandwidth
				if served && prio == PriorityNormal {
					out[i].Reason = ReasonLastN
				}
				continue
			}
			served = true
			out[i].Target = lo
			budget = max(0, budget-r.Layers[lo].Bitrate)
		}
	}

	// Upgrades, one step per request per round so that equals share.
	for _, prio := range byPriority {
		for progress := true; progress; {
			progress = false
			for _, i := range order {
				r := &reqs[i]
				if r.Priority != prio || out[i].Target < 0 {
					continue
				}
				want, _ := wanted(r)
				cur := out[i].Target
				if cur >= want {
					continue
				}
				next := nextActive(r.Layers, cur, want)
				extra := cost(r, next) - r.Layers[cur].Bitrate
				if extra > budget {
					continue
				}
				out[i].Target = next
				budget -= r.Layers[next].Bitrate - r.Layers[cur].Bitrate
				progress = true
			}
		}
	}

	for i := range reqs {
		if out[i].Target >= 0 {
			out[i].Reason = reasonFor(&reqs[i], out[i].Target)
		}
	}
}

// wanted returns the layer a request should get with unlimited bandwidth: the
// smallest active layer that fills the tile, or the best active one if none
// does, within the operator's cap. When there is none it says why.
func wanted(r *Request) (int, Reason) {
	if r.MaxHeight == 0 {
		return -1, ReasonHidden
	}
	if len(r.Layers) == 0 {
		return -1, ReasonNotPublished
	}
	top := capIndex(r)
	if top < 0 {
		return -1, ReasonOperatorCap
	}
	best := -1
	for i := top; i >= 0; i-- {
		if !r.Layers[i].Active {
			continue
		}
		if best < 0 || r.MaxHeight > 0 && height(r.Layers, i) >= r.MaxHeight {
			best = i
		}
	}
	if best < 0 {
		if hasActive(r.Layers, top+1, len(r.Layers)) {
			return -1, ReasonOperatorCap
		}
		return -1, ReasonNotPublished
	}
	return best, ReasonBest
}

// reasonFor explains why target, the layer chosen for r, is not one higher.
func reasonFor(r *Request, target int) Reason {
	if want, _ := wanted(r); target < want {
		return ReasonBandwidth
	}
	if target == len(r.Layers)-1 {
		return ReasonBest
	}
	if r.MaxHeight > 0 && height(r.Layers, target) >= r.MaxHeight {
		return ReasonConstraint
	}
	top := capIndex(r)
	if target >= top {
		return ReasonOperatorCap
	}
	if !hasActive(r.Layers, target+1, top+1) {
		return ReasonNotPublished
	}
	// Unreachable while wanted picks the best active layer within the
	// cap, but a wrong answer here would only mislabel, not misroute.
	return ReasonBest
}

// capIndex returns the highest layer index the operator allows.
func capIndex(r *Request) int {
	top := len(r.Layers) - 1
	if r.Cap >= 0 && r.Cap < top {
		top = r.Cap
	}
	return top
}

// cost is what forwarding layer i takes out of the budget for the decision:
// its bitrate, plus the upgrade margin when it is above the current layer.
func cost(r *Request, i int) int64 {
	b := r.Layers[i].Bitrate
	cur := r.Current
	if cur >= len(r.Layers) {
		cur = -1 // the layers were renumbered: treat as a fresh start
	}
	if i > cur {
		b += b * upgradeMarginPct / 100
	}
	return b
}

func lowestActive(ls []Layer) int {
	for i := range ls {
		if ls[i].Active {
			return i
		}
	}
	return -1
}

// nextActive returns the first active layer above cur, up to want (which is
// active).
func nextActive(ls []Layer, cur, want int) int {
	for i := cur + 1; i < want; i++ {
		if ls[i].Active {
			return i
		}
	}
	return want
}

func hasActive(ls []Layer, from, to int) bool {
	for i := from; i < to && i < len(ls); i++ {
		if ls[i].Active {
			return true
		}
	}
	return false
}

// height returns layer i's height, or an estimate from the usual simulcast
// ratios (each layer twice the height of the one below) when the publisher
// has not said: scaled from the nearest layer whose height is known, or from
// a 720p top layer when none is.
func height(ls []Layer, i int) int {
	if ls[i].Height > 0 {
		return ls[i].Height
	}
	for d := 1; d < len(ls); d++ {
		if j := i + d; j < len(ls) && ls[j].Height > 0 {
			return ls[j].Height >> min(d, 30)
		}
		if j := i - d; j >= 0 && ls[j].Height > 0 {
			return ls[j].Height << min(d, 8)
		}
	}
	return assumedTopHeight >> min(len(ls)-1-i, 30)
}
