package bwe

const (
	probeMinPackets   = 8
	unsaturatedRatio  = 0.9  // arrival rate under this share of the send rate: the link is full
	probeUtilization  = 0.95 // of a saturated link's arrival rate, taken as the estimate
	probeMaxLossShare = 0.3  // a cluster that lost more says nothing
)

// ProbeStarted tells the estimator a cluster is being sent at rate bits/s:
// what it shows the path carries is never taken as more than that. Media
// bursts inside a cluster (a keyframe, a burst of retransmissions) or a
// token bucket's burst allowance at the bottleneck would otherwise read as
// capacity.
func (e *Estimator) ProbeStarted(id int, rate int64) {
	s := &e.probes[id%maxProbeClusters]
	*s = probeStats{id: id, planned: float64(rate)}
}

// probeAdd accumulates a packet of a probe cluster.
func (e *Estimator) probeAdd(p Packet) {
	s := &e.probes[p.Probe%maxProbeClusters]
	if s.id != p.Probe {
		*s = probeStats{id: p.Probe}
	}
	if s.sentBytes == 0 && s.lost == 0 {
		s.firstSend = p.SendTime
	}
	if s.done {
		return
	}
	s.lastSend = max(s.lastSend, p.SendTime)
	s.lastSendSize = p.Size
	s.sentBytes += p.Size
	if !p.Received {
		s.lost++
		return
	}
	if s.received == 0 || p.Arrival < s.firstArr {
		s.firstArr, s.firstRecvSize = p.Arrival, p.Size
	}
	s.lastArr = max(s.lastArr, p.Arrival)
	s.recvBytes += p.Size
	s.received++
}

// applyProbes turns complete clusters (a later packet has been reported)
// into estimates, and raises the target to them.
func (e *Estimator) applyProbes() {
	for i := range e.probes {
		s := &e.probes[i]
		if s.id == 0 || s.done || s.received+s.lost == 0 {
			continue
		}
		if e.newestProbe == s.id {
			continue // the cluster may still be arriving
		}
		s.done = true
		if r, ok := s.rate(); ok && r > e.target {
			e.target = r
			e.capKnown = false // the link carries more than we knew
		}
	}
}

// rate is what a cluster shows the path carries, bits/s.
func (s *probeStats) rate() (float64, bool) {
	if s.received < probeMinPackets || float64(s.lost) > probeMaxLossShare*float64(s.received+s.lost) {
		return 0, false
	}
	sendSpan := float64(s.lastSend-s.firstSend) / 1e9
	arrSpan := float64(s.lastArr-s.firstArr) / 1e9
	if sendSpan < 1e-3 || arrSpan < 1e-3 {
		return 0, false
	}
	send := float64(s.sentBytes-s.lastSendSize) * 8 / sendSpan
	recv := float64(s.recvBytes-s.firstRecvSize) * 8 / arrSpan
	r := min(send, recv)
	if recv < unsaturatedRatio*send {
		r = probeUtilization * recv
	}
	if s.planned > 0 {
		r = min(r, s.planned)
	}
	return r, true
}
