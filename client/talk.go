package client

import "time"

// Audio levels as RFC 6464 carries them: -dBov, 0 the loudest, 127 silence.
const (
	LevelSilence = 127
	levelLoud    = 20 // a talker close to the microphone
	levelQuiet   = 45 // the quiet end of a syllable
	levelRoom    = 90 // background noise while not talking
)

// TalkPattern says what a participant's microphone hears t after it started
// publishing: the audio level (-dBov, 0..127) and whether that is voice. It
// drives the RFC 6464 header extension, from which the node picks the
// dominant speaker, and whether real Opus or silence is sent.
type TalkPattern func(t time.Duration) (level uint8, voice bool)

// Turns is a conference of slots talkers who take turns of length turn: the
// participant in slot talks during every slots-th turn, with syllables and
// short pauses, and is quiet otherwise. Talkers in different slots of the
// same Turns never overlap, so the dominant speaker moves turn by turn.
func Turns(slot, slots int, turn time.Duration) TalkPattern {
	if slots < 1 {
		slots = 1
	}
	slot = ((slot % slots) + slots) % slots
	if turn <= 0 {
		turn = 4 * time.Second
	}
	return func(t time.Duration) (uint8, bool) {
		if t < 0 || int(t/turn)%slots != slot {
			return levelRoom, false
		}
		return speech(t % turn)
	}
}

// Always talks, pausing briefly now and then; the default for a publisher.
func Always() TalkPattern {
	return func(t time.Duration) (uint8, bool) {
		if t < 0 {
			return levelRoom, false
		}
		return speech(t)
	}
}

// Silent never talks.
func Silent() TalkPattern {
	return func(time.Duration) (uint8, bool) { return LevelSilence, false }
}

// speech is the level inside a turn: phrases of 1.6 s with a 0.4 s breath,
// and within a phrase syllables about 5 per second, loud in the middle.
func speech(in time.Duration) (uint8, bool) {
	const phrase, breath = 1600 * time.Millisecond, 400 * time.Millisecond
	p := in % (phrase + breath)
	if p >= phrase {
		return levelRoom, false
	}
	const syllable = 200 * time.Millisecond
	s := p % syllable
	// A triangle from quiet to loud and back within each syllable.
	half := syllable / 2
	d := s
	if d > half {
		d = syllable - s
	}
	level := levelQuiet - int(d)*(levelQuiet-levelLoud)/int(half)
	return uint8(level), true
}
