package freeze

// Stage measures how continuously a receiver sees whoever is on stage, the
// dominant speaker: the time someone was on stage, how long their video
// took to come after they got there (a switch costs a keyframe), and how
// long it stood still afterwards. Gaps of StageGap or less are ordinary
// frame spacing at a low layer's frame rate, not freezes.
//
// Like Detector, a Stage is a pure state machine over times in ns (any
// epoch, not decreasing); the zero value is ready, nobody on stage.
type Stage struct {
	who   string // "" when nobody (or the receiver itself) is on stage
	since int64
	last  int64 // the latest frame from who since they came on stage; 0 none

	stats StageStats
}

// StageGap is the longest gap between two frames of the speaker that is
// not counted as frozen.
const StageGap = int64(300e6)

// StageStats are a Stage's totals, ns.
type StageStats struct {
	OnStage  int64 // someone other than the receiver was on stage
	Switches int   // changes to a speaker other than the receiver
	Waiting  int64 // from each change to the speaker's first frame
	Frozen   int64 // gaps longer than StageGap after the first frame
	Unseen   int   // changes whose speaker sent no frame while on stage
}

// Change puts who on stage at at; "" takes everyone off (the receiver
// itself speaking, or nobody).
func (s *Stage) Change(who string, at int64) {
	if who == s.who {
		return
	}
	s.close(at)
	s.who, s.since, s.last = who, at, 0
	if who != "" {
		s.stats.Switches++
	}
}

// Frame records a video frame from publisher from at at.
func (s *Stage) Frame(from string, at int64) {
	if from != s.who || from == "" || at < s.since {
		return
	}
	if s.last == 0 {
		s.stats.Waiting += at - s.since
	} else if gap := at - s.last; gap > StageGap {
		s.stats.Frozen += gap
	}
	s.last = at
}

// close ends the current stage at at: a wait or a gap still open counts.
func (s *Stage) close(at int64) {
	if s.who == "" || at < s.since {
		return
	}
	s.stats.OnStage += at - s.since
	switch {
	case s.last == 0:
		s.stats.Waiting += at - s.since
		s.stats.Unseen++
	case at-s.last > StageGap:
		s.stats.Frozen += at - s.last
	}
}

// Stats returns the totals as of at, the current stage included so far.
func (s *Stage) Stats(at int64) StageStats {
	c := *s
	c.close(at)
	return c.stats
}
