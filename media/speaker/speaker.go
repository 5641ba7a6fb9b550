package speaker

import (
	"math"
	"sync"
	"time"
)

const (
	// frame is the audio duration one level report stands for. Browsers send
	// Opus with 20 ms packets; other packet times stretch or shrink the three
	// time scales in proportion.
	frame = 20 * time.Millisecond

	// idleGap is how long a speaker may send nothing before the missing time
	// counts as silence. Opus DTX and muting stop packets for hundreds of
	// milliseconds; network jitter bunches packets by less than this, and
	// treating a late burst as silence would break up a speaker's active
	// blocks.
	idleGap = 100 * time.Millisecond

	// floorWindow is the number of frames over which the noise floor may rise.
	// It only falls instantly, so a speaker's quiet moments set it; a window
	// of several seconds keeps it from climbing into continuous speech.
	floorWindow = 10 * 1000 / 20

	// maxFloor caps the noise floor at -47 dBov, the quietest level a frame
	// can have and still count as active. Without it a participant whose
	// first packets are speech, or who sends nothing between words (DTX,
	// level 127), would have the floor set by their own voice and be muted
	// by it until their first quiet moment. Steady noise louder than this is
	// rare behind a browser's noise suppression, and the V bit covers it.
	maxFloor = 127 - 47

	// speakingHangover is how many frames Speaking stays true after the last
	// active frame, so the indicator does not flicker between words.
	speakingHangover = 25

	// displayRangeDB maps the level to AudioLevel: 0 dBov is 1, this many dB
	// below is 0. Conversational speech lands around 0.5..0.7.
	displayRangeDB = 70

	// Smoothing of AudioLevel per frame: rise fast so speech shows at once,
	// fall slowly so the meter is readable.
	displayAttack  = 0.5
	displayRelease = 0.12

	silence = 0 // loudness of RFC 6464 level 127, digital silence
)

// Speaker is one participant's audio as seen by the Detector. Level may be
// called from the participant's receiving goroutine while the Detector decides
// on another.
type Speaker struct {
	id string

	mu sync.Mutex
	// The fields below are guarded by mu.
	ring    [window]uint8 // loudness (127 - RFC level) of the newest frames; 0 = silence
	head    int           // index of the newest frame in ring
	last    time.Time     // time up to which frames are accounted for
	floor   uint8         // noise floor as loudness; 0 until a non-silent level is seen
	winMin  uint8         // quietest non-silent loudness in the current floor window
	winLen  int           // frames in the current floor window
	vadSeen bool          // the sender has set the voice-activity bit at least once
	since   int           // frames since the last active frame; == never before the first
	run     int           // consecutive active frames up to the newest
	talked  int           // frames since the newest run of mediumLen active frames; == never before the first
	display float64       // smoothed AudioLevel

	// eval is written by Decide with the Detector's mutex held.
	eval evaluation
}

// evaluation is a speaker's state as of the last Decide.
type evaluation struct {
	act    activity
	talked int
}

// never is the frame count of a speaker that has not been active yet; kept
// far below overflow even after years of counting.
const never = 1 << 40

func newSpeaker(id string) *Speaker {
	return &Speaker{id: id, since: never, talked: never}
}

// ID returns the participant id the Speaker was added with.
func (s *Speaker) ID() string { return s.id }

// Level records the audio level of one packet: level is the RFC 6464 value
// (0 loudest .. 127 silence, in -dBov) and voice its V bit. at is the time the
// packet arrived; it must come from the same clock as Decide's.
func (s *Speaker) Level(level uint8, voice bool, at time.Time) {
	if level > 127 {
		level = 127
	}
	loud := 127 - level

	s.mu.Lock()
	defer s.mu.Unlock()

	if !s.last.IsZero() {
		if gap := at.Sub(s.last); gap > idleGap {
			// The packet itself covers the last frame of the gap.
			s.pushSilence(int(gap/frame) - 1)
		}
	}
	if at.After(s.last) {
		s.last = at
	}

	if voice {
		s.vadSeen = true
	}
	if loud != silence {
		s.trackFloor(loud)
	}
	// Once a sender has shown that it sets the V bit, trust it: its own
	// voice-activity detector sees the decoded signal, which separates a loud
	// fan from speech better than a level threshold can.
	if s.vadSeen && !voice {
		loud = silence
	}
	s.push(loud)
}

// pushSilence accounts for n frames without packets. Called with mu held.
func (s *Speaker) pushSilence(n int) {
	if n <= 0 {
		return
	}
	for i := 0; i < min(n, window); i++ {
		s.head = (s.head + 1) % window
		s.ring[s.head] = silence
	}
	s.since = min(s.since+n, never)
	s.talked = min(s.talked+n, never)
	s.run = 0
	s.display *= math.Pow(1-displayRelease, float64(n))
}

// push appends one frame. Called with mu held.
func (s *Speaker) push(loud uint8) {
	s.head = (s.head + 1) % window
	s.ring[s.head] = loud

	bands := s.subBands(loud)
	s.talked = min(s.talked+1, never)
	if bands > mediumThres {
		s.since = 0
		s.run++
		if s.run >= mediumLen {
			s.talked = 0
		}
	} else {
		s.since = min(s.since+1, never)
		s.run = 0
	}

	target := 0.0
	if bands > 0 {
		target = max(0, min(1, 1-float64(127-loud)/displayRangeDB))
	}
	if target > s.display {
		s.display += (target - s.display) * displayAttack
	} else {
		s.display += (target - s.display) * displayRelease
	}
}

// subBands maps a frame's loudness to active pseudo sub-bands. Frames within
// one sub-band of the noise floor count as silence, so that participants with
// different background noise compete on equal terms. Called with mu held.
func (s *Speaker) subBands(loud uint8) int {
	if loud == silence || int(loud) < int(s.floor)+subBandDB {
		return 0
	}
	return min(int(loud)/subBandDB, subBands-1)
}

// trackFloor follows the quietest level the speaker sends, which between
// words is the room's background noise. Called with mu held.
func (s *Speaker) trackFloor(loud uint8) {
	loud = min(loud, maxFloor)
	if s.floor == 0 || loud < s.floor {
		s.floor = loud
		s.winMin, s.winLen = 0, 0
		return
	}
	if s.winMin == 0 || loud < s.winMin {
		s.winMin = loud
	}
	s.winLen++
	if s.winLen >= floorWindow {
		// Rise halfway (in dB) towards the window's minimum: the noise
		// may have grown, but one window of continuous speech must not
		// lift the floor into the speech itself.
		s.floor += (s.winMin - s.floor + 1) / 2
		s.winMin, s.winLen = 0, 0
	}
}

// Speaking reports whether the speaker was above the speech threshold within
// the last half second of audio.
func (s *Speaker) Speaking() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.since < speakingHangover
}

// AudioLevel returns a smoothed level for display: 0 for silence or
// background noise, 1 for a full-scale signal.
func (s *Speaker) AudioLevel() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.display
}

// evaluate brings the speaker up to time at (silence for a speaker that sent
// nothing) and counts its activity on the three time scales.
func (s *Speaker) evaluate(at time.Time) evaluation {
	s.mu.Lock()
	defer s.mu.Unlock()

	if !s.last.IsZero() {
		if gap := at.Sub(s.last); gap > idleGap {
			n := int(gap / frame)
			s.pushSilence(n)
			s.last = s.last.Add(time.Duration(n) * frame)
		}
	}

	var a activity
	block := 0 // active frames in the block being counted
	for j := 0; j < window; j++ {
		bands := s.subBands(s.ring[(s.head-j+window)%window])
		if j == 0 {
			a.immediate = bands
		}
		if bands > mediumThres {
			block++
		}
		if j%mediumLen == mediumLen-1 {
			if j < mediumLen {
				a.medium = block
			}
			if block > longThres {
				a.long++
			}
			block = 0
		}
	}
	return evaluation{act: a, talked: s.talked}
}
