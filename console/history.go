package console

import (
	"strings"

	"github.com/switchyard/switchyard/node/snapshot"
)

// historySecs is how far back the sparklines reach.
const historySecs = 60

// series keeps one value per second for the last minute, indexed by the unix
// second modulo historySecs; sec records which second a slot holds so that
// stale slots read as gaps.
type series struct {
	sec [historySecs]int64
	val [historySecs]float64
	set [historySecs]bool
}

// put records v for second s; keepMax makes several snapshots within one
// second keep their worst value (loss) rather than their last (bitrate).
func (s *series) put(sec int64, v float64, keepMax bool) {
	i := int(sec % historySecs)
	if s.set[i] && s.sec[i] == sec && keepMax && s.val[i] >= v {
		return
	}
	s.sec[i], s.val[i], s.set[i] = sec, v, true
}

// window returns the values of the last historySecs seconds ending at now,
// oldest first, and whether each was recorded.
func (s *series) window(now int64) (vals [historySecs]float64, ok [historySecs]bool) {
	for k := 0; k < historySecs; k++ {
		sec := now - historySecs + 1 + int64(k)
		i := int(((sec % historySecs) + historySecs) % historySecs)
		if s.set[i] && s.sec[i] == sec {
			vals[k], ok[k] = s.val[i], true
		}
	}
	return vals, ok
}

type participantHistory struct {
	lastSec                  int64
	up, down, lossUp, lossDn series
}

// history is the console's memory of past snapshots. The snapshot is one
// instant, so sparklines need the console to keep what it saw.
type history struct {
	now   int64 // second of the latest snapshot
	parts map[string]*participantHistory
}

func newHistory() *history {
	return &history{parts: make(map[string]*participantHistory)}
}

func histKey(room, pid string) string { return room + "\x00" + pid }

func (h *history) add(s *snapshot.Snapshot) {
	sec := s.Taken.Unix()
	h.now = sec
	for ci := range s.Conferences {
		c := &s.Conferences[ci]
		for pi := range c.Participants {
			p := &c.Participants[pi]
			k := histKey(c.Name, p.ID)
			ph := h.parts[k]
			if ph == nil {
				ph = &participantHistory{}
				h.parts[k] = ph
			}
			ph.lastSec = sec
			ph.up.put(sec, float64(p.BitrateUp), false)
			ph.down.put(sec, float64(p.BitrateDown), false)
			ph.lossUp.put(sec, p.LossUpPct, true)
			ph.lossDn.put(sec, p.LossDownPct, true)
		}
	}
	// Forget participants gone for longer than the window, so a long-running
	// node does not accumulate everyone who ever joined.
	for k, ph := range h.parts {
		if sec-ph.lastSec > historySecs {
			delete(h.parts, k)
		}
	}
}

func (h *history) get(room, pid string) *participantHistory {
	return h.parts[histKey(room, pid)]
}

var sparkBlocks = []rune("▁▂▃▄▅▆▇█")

// sparkline draws the last minute of s in width cells; each cell covers an
// equal share of the minute and shows its largest value. floor is the
// smallest full-scale value, so that near-zero noise does not fill the
// chart. Seconds without data are blank.
func sparkline(s *series, now int64, width int, floor float64) (string, float64) {
	if width <= 0 {
		return "", 0
	}
	width = min(width, historySecs)
	vals, ok := s.window(now)
	peak := floor
	for i, v := range vals {
		if ok[i] && v > peak {
			peak = v
		}
	}
	var b strings.Builder
	for c := 0; c < width; c++ {
		lo, hi := c*historySecs/width, (c+1)*historySecs/width
		v, seen := 0.0, false
		for i := lo; i < hi; i++ {
			if ok[i] {
				v, seen = max(v, vals[i]), true
			}
		}
		if !seen {
			b.WriteByte(' ')
			continue
		}
		level := 0
		if peak > 0 {
			level = int(v / peak * float64(len(sparkBlocks)-1))
		}
		b.WriteRune(sparkBlocks[max(0, min(level, len(sparkBlocks)-1))])
	}
	return b.String(), peak
}
