// Package control is the language nodes speak to each other about a
// conference over the relay: who is here and what they publish, which
// layers are needed, keyframe requests and endpoint messages.
//
// A control message is JSON in a relay datagram of type message whose
// endpoint is empty (the conference travels in the relay header). Each
// node sends a State for every conference it hosts to every other node,
// when it changes and once a second: it is the whole truth about that node's
// side of the conference, so a lost datagram costs nothing but a second.
package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/switchyard/switchyard/media"
)

// MaxSize bounds one control message (a relay datagram is at most 16 KiB).
const MaxSize = 15 << 10

// Limits on what a State may carry.
const (
	MaxParticipants = 100
	MaxIDLen        = 96
	MaxTextLen      = 64
	MaxLinks        = 64
)

// Message types.
const (
	TypeState    = "state"
	TypeKeyframe = "keyframe"
	TypeEndpoint = "endpoint"
)

// Message is the envelope; Type says which fields count.
type Message struct {
	Type string `json:"t"`

	// state
	Participants []Participant `json:"participants,omitempty"`
	Dominant     string        `json:"dominant,omitempty"`
	Wants        []Want        `json:"wants,omitempty"`
	// Links is the sender's relay round trip to each node it peers with,
	// in ms by node id, so that every node can sum the path between any
	// two of them (end-to-end RTT).
	Links map[string]float64 `json:"links,omitempty"`
	// Recording: the sender records the conference (server recording), so
	// every node tells its participants.
	Recording bool `json:"recording,omitempty"`

	// keyframe: the receiving node asks the publisher's node for a keyframe.
	Publisher string       `json:"publisher,omitempty"`
	Kind      media.Kind   `json:"kind,omitempty"`
	Source    media.Source `json:"source,omitempty"` // absent: the kind's default (mic, camera)
	Layer     int          `json:"layer,omitempty"`

	// endpoint: a participant's message to one participant (To) or all ("").
	From    string          `json:"from,omitempty"`
	To      string          `json:"to,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Participant is one participant of the sending node.
type Participant struct {
	ID     string  `json:"id"`
	Name   string  `json:"name"`
	Region string  `json:"region"`
	RTTMs  float64 `json:"rtt_ms"` // participant to its node
	// Measured is the participant's own ping RTT to others, by id.
	Measured map[string]float64 `json:"measured,omitempty"`
	Tracks   []Track            `json:"tracks,omitempty"`
	// What the participant turned off, shares or records, as its node says.
	MicOff    bool `json:"mic_off,omitempty"`
	E2EE      bool `json:"e2ee,omitempty"`
	CameraOff bool `json:"camera_off,omitempty"`
	Sharing   bool `json:"sharing,omitempty"`
	Recording bool `json:"recording,omitempty"`
	Moderator bool `json:"moderator,omitempty"`
}

// Track is one published track.
type Track struct {
	Kind        media.Kind   `json:"kind"`             // "audio" or "video"
	Source      media.Source `json:"source,omitempty"` // absent: the kind's default (mic, camera)
	MimeType    string       `json:"mime"`
	ClockRate   uint32       `json:"clock"`
	Channels    uint16       `json:"channels,omitempty"`
	Fmtp        string       `json:"fmtp,omitempty"`
	AudioLevel  uint8        `json:"audio_level_ext,omitempty"` // header extension id in relayed packets
	AudioMuted  bool         `json:"muted,omitempty"`
	Layers      []Layer      `json:"layers,omitempty"`
	PayloadType uint8        `json:"pt,omitempty"`
}

// Layer is one simulcast layer as its publisher's node sees it.
type Layer struct {
	Index   int   `json:"i"`
	Active  bool  `json:"active"`
	Bitrate int64 `json:"bitrate"`
	Width   int   `json:"w,omitempty"`
	Height  int   `json:"h,omitempty"`
	// Held: the publisher sends the layer, but the relay link to the node
	// this state goes to does not carry it (the sending node's estimate of
	// the link); Active is false then, so that the receiving node's
	// participants choose a layer that arrives.
	Held bool `json:"held,omitempty"`
}

// Want says which layers of a publisher's track the sending node needs.
type Want struct {
	Publisher string         `json:"publisher"`
	Kind      media.Kind     `json:"kind"`
	Source    media.Source   `json:"source,omitempty"` // absent: the kind's default
	Layers    media.LayerSet `json:"layers"`
}

// TrackSource is the track's source, its kind's default when unnamed.
func (t *Track) TrackSource() media.Source { return sourceOr(t.Source, t.Kind) }

// WantSource is the wanted track's source, its kind's default when unnamed.
func (w *Want) WantSource() media.Source { return sourceOr(w.Source, w.Kind) }

// KeyframeSource is the source a keyframe request is for.
func (m *Message) KeyframeSource() media.Source { return sourceOr(m.Source, m.Kind) }

func sourceOr(s media.Source, k media.Kind) media.Source {
	if s.Valid() {
		return s
	}
	return media.SourceOf(k)
}

// Encode marshals m.
func Encode(m *Message) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("control: encode %s: %w", m.Type, err)
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("control: %s message of %d bytes exceeds %d", m.Type, len(b), MaxSize)
	}
	return b, nil
}

// Decode parses and validates a control message from another node.
func Decode(b []byte) (Message, error) {
	var m Message
	if len(b) > MaxSize {
		return m, fmt.Errorf("control: message of %d bytes exceeds %d", len(b), MaxSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Message{}, fmt.Errorf("control: malformed: %w", err)
	}
	if dec.More() {
		return Message{}, errors.New("control: trailing data")
	}
	if err := m.validate(); err != nil {
		return Message{}, fmt.Errorf("control: %s: %w", m.Type, err)
	}
	return m, nil
}

func (m *Message) validate() error {
	switch m.Type {
	case TypeState:
		if len(m.Participants) > MaxParticipants {
			return fmt.Errorf("more than %d participants", MaxParticipants)
		}
		seen := make(map[string]bool, len(m.Participants))
		for i := range m.Participants {
			p := &m.Participants[i]
			if err := p.validate(); err != nil {
				return err
			}
			if seen[p.ID] {
				return fmt.Errorf("participant %q twice", p.ID)
			}
			seen[p.ID] = true
		}
		if err := id("dominant", m.Dominant, true); err != nil {
			return err
		}
		if len(m.Links) > MaxLinks {
			return errors.New("too many links")
		}
		for node, ms := range m.Links {
			if err := id("link node", node, false); err != nil {
				return err
			}
			if !(ms >= 0 && ms < 60_000) {
				return fmt.Errorf("link to %q: round trip %v ms out of range", trunc(node), ms)
			}
		}
		if len(m.Wants) > MaxParticipants*2 {
			return errors.New("too many wants")
		}
		for _, w := range m.Wants {
			if err := id("want publisher", w.Publisher, false); err != nil {
				return err
			}
			if err := kind(w.Kind); err != nil {
				return err
			}
			if !w.Layers.Valid() {
				return fmt.Errorf("want layers %#x name a layer that does not exist", uint8(w.Layers))
			}
		}
		return nil
	case TypeKeyframe:
		if err := id("publisher", m.Publisher, false); err != nil {
			return err
		}
		if err := kind(m.Kind); err != nil {
			return err
		}
		if m.Layer < 0 || m.Layer >= media.MaxLayers {
			return fmt.Errorf("layer %d out of range", m.Layer)
		}
		return nil
	case TypeEndpoint:
		if err := id("from", m.From, false); err != nil {
			return err
		}
		if err := id("to", m.To, true); err != nil {
			return err
		}
		if p := bytes.TrimSpace(m.Payload); len(p) == 0 || p[0] != '{' || !json.Valid(p) {
			return errors.New("payload is not a JSON object")
		}
		return nil
	case "":
		return errors.New("missing type")
	}
	return fmt.Errorf("unknown type %q", trunc(m.Type))
}

func (p *Participant) validate() error {
	if err := id("participant id", p.ID, false); err != nil {
		return err
	}
	if err := text("name", p.Name); err != nil {
		return err
	}
	if err := text("region", p.Region); err != nil {
		return err
	}
	if !(p.RTTMs >= 0 && p.RTTMs < 60_000) {
		return fmt.Errorf("participant %q: rtt %v out of range", p.ID, p.RTTMs)
	}
	if len(p.Measured) > MaxParticipants {
		return fmt.Errorf("participant %q: too many measurements", p.ID)
	}
	for peer, ms := range p.Measured {
		if err := id("measured peer", peer, false); err != nil {
			return err
		}
		if !(ms >= 0 && ms < 60_000) {
			return fmt.Errorf("participant %q: measured rtt %v out of range", p.ID, ms)
		}
	}
	if len(p.Tracks) > len(media.Sources) {
		return fmt.Errorf("participant %q: more than %d tracks", p.ID, len(media.Sources))
	}
	sources := map[media.Source]bool{}
	for _, t := range p.Tracks {
		if err := kind(t.Kind); err != nil {
			return err
		}
		src := t.TrackSource()
		if src.Kind() != t.Kind {
			return fmt.Errorf("participant %q: a %s track cannot carry %s", p.ID, t.Kind, src)
		}
		if sources[src] {
			return fmt.Errorf("participant %q: two %s tracks", p.ID, src)
		}
		sources[src] = true
		if !strings.HasPrefix(strings.ToLower(t.MimeType), t.Kind.String()+"/") || len(t.MimeType) > 32 {
			return fmt.Errorf("participant %q: mime type %q does not fit kind %s", p.ID, trunc(t.MimeType), t.Kind)
		}
		if t.ClockRate == 0 || t.ClockRate > 192_000 {
			return fmt.Errorf("participant %q: clock rate %d", p.ID, t.ClockRate)
		}
		if len(t.Fmtp) > 256 || !utf8.ValidString(t.Fmtp) {
			return fmt.Errorf("participant %q: fmtp too long or not UTF-8", p.ID)
		}
		if t.AudioLevel > 14 {
			return fmt.Errorf("participant %q: audio level extension id %d", p.ID, t.AudioLevel)
		}
		if len(t.Layers) > media.MaxLayers {
			return fmt.Errorf("participant %q: more than %d layers", p.ID, media.MaxLayers)
		}
		for _, l := range t.Layers {
			if l.Index < 0 || l.Index >= media.MaxLayers || l.Bitrate < 0 || l.Width < 0 || l.Height < 0 || l.Width > 16384 || l.Height > 16384 {
				return fmt.Errorf("participant %q: layer %+v out of range", p.ID, l)
			}
		}
	}
	return nil
}

// kind refuses a missing kind (decoding already refused unknown names).
func kind(k media.Kind) error {
	if k != media.KindAudio && k != media.KindVideo {
		return errors.New("kind missing")
	}
	return nil
}

// id checks an identifier: printable ASCII without spaces.
func id(field, v string, empty bool) error {
	if v == "" {
		if empty {
			return nil
		}
		return fmt.Errorf("%s is empty", field)
	}
	if len(v) > MaxIDLen {
		return fmt.Errorf("%s longer than %d bytes", field, MaxIDLen)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("%s %q has a character outside printable ASCII", field, trunc(v))
		}
	}
	return nil
}

func text(field, v string) error {
	if len(v) > 4*MaxTextLen || !utf8.ValidString(v) || utf8.RuneCountInString(v) > MaxTextLen {
		return fmt.Errorf("%s too long or not UTF-8", field)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s has control characters", field)
		}
	}
	return nil
}

func trunc(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
