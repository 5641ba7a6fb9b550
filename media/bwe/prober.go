package bwe

// Cluster is one probe: for Duration, the node sends Rate bits/s in total
// (media plus padding), every packet marked with ID.
type Cluster struct {
	ID       int
	Rate     int64 // bits/s
	Duration int64 // ns
}

const (
	probeDuration    = 50e6 // ns
	probeMinBits     = 15 * 280 * 8
	probeFirstEvery  = 500e6
	probeMaxEvery    = 3e9
	probeSettle      = 400e6 // ns after a cluster before its outcome is judged
	probeHeadroom    = 1.1   // probe this much above what the receiver wants
	probeMinStep     = 1.25  // never probe below this share of the estimate
	probeMaxStep     = 2.0   // nor above this
	probeLimitedSlop = 1.05  // wanting this much more than the estimate is being held back
)

// Prober decides when to probe a receiver's path and how hard: while the
// estimate holds back what the receiver wants, the delay trend is calm and
// loss is low. A probe that does not raise the estimate doubles the wait
// before the next (up to 3 s); one that does lets the next come after
// half a second.
type Prober struct {
	nextID    int
	last      int64 // ns, the latest cluster's start
	probed    bool  // a cluster has been sent
	every     int64
	pending   bool
	targetAt  int64 // the estimate when the pending cluster started
	succeeded int
	failed    int
}

// Plan returns the cluster to send at now, if one is due. target is the
// estimate, want what the receiver's subscriptions would take unhindered.
func (p *Prober) Plan(now int64, target, want int64, usage Usage, loss float64) (Cluster, bool) {
	if p.every == 0 {
		p.every = probeFirstEvery
	}
	if p.pending && now-p.last >= probeSettle {
		p.pending = false
		if float64(target) >= 1.1*float64(p.targetAt) {
			p.every = probeFirstEvery
			p.succeeded++
		} else {
			p.every = min(2*p.every, probeMaxEvery)
			p.failed++
		}
	}
	limited := float64(want) > probeLimitedSlop*float64(target)
	if p.pending || !limited || usage != UsageNormal || loss > heavyLoss || (p.probed && now-p.last < p.every) {
		return Cluster{}, false
	}
	rate := float64(want) * probeHeadroom
	rate = min(max(rate, probeMinStep*float64(target)), probeMaxStep*float64(target))
	p.nextID++
	if p.nextID <= 0 {
		p.nextID = 1
	}
	p.last, p.pending, p.targetAt, p.probed = now, true, target, true
	// Long enough for a dozen padding packets at the least: a cluster
	// of a handful says little through a jittery path.
	dur := max(probeDuration, int64(probeMinBits/rate*1e9))
	return Cluster{ID: p.nextID, Rate: int64(rate), Duration: dur}, true
}

// Outcomes counts the probes that raised the estimate and those that did not.
func (p *Prober) Outcomes() (succeeded, failed int) { return p.succeeded, p.failed }
