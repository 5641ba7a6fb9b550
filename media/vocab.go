package media

import (
	"fmt"

	"github.com/pion/webrtc/v4"
)

// Kind is what a track carries. Its text form ("audio", "video") is what
// signaling, the cascade's control messages, the API and the console show.
type Kind uint8

// Track kinds.
const (
	KindAudio Kind = iota + 1
	KindVideo
)

// KindOf converts pion's codec type.
func KindOf(t webrtc.RTPCodecType) Kind {
	switch t {
	case webrtc.RTPCodecTypeAudio:
		return KindAudio
	case webrtc.RTPCodecTypeVideo:
		return KindVideo
	}
	return 0
}

// CodecType is pion's name for the kind.
func (k Kind) CodecType() webrtc.RTPCodecType {
	switch k {
	case KindAudio:
		return webrtc.RTPCodecTypeAudio
	case KindVideo:
		return webrtc.RTPCodecTypeVideo
	}
	return 0
}

func (k Kind) String() string {
	switch k {
	case KindAudio:
		return "audio"
	case KindVideo:
		return "video"
	}
	return "unknown"
}

// ParseKind reads "audio" or "video".
func ParseKind(s string) (Kind, error) {
	switch s {
	case "audio":
		return KindAudio, nil
	case "video":
		return KindVideo, nil
	}
	return 0, fmt.Errorf("media: kind %q is neither audio nor video", s)
}

// MarshalText writes the kind's name.
func (k Kind) MarshalText() ([]byte, error) {
	if k != KindAudio && k != KindVideo {
		return nil, fmt.Errorf("media: invalid kind %d", uint8(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText reads the kind's name, refusing anything else.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// LayerSet is a set of simulcast layers of one track: bit i is layer i
// (RIDs[i]); audio, which has one layer, uses bit 0.
type LayerSet uint8

// AllLayers holds every layer a track can have.
const AllLayers LayerSet = 1<<MaxLayers - 1

// Has reports whether layer i is in the set.
func (s LayerSet) Has(i int) bool { return i >= 0 && i < MaxLayers && s&(1<<i) != 0 }

// With returns the set with layer i added; an index out of range adds nothing.
func (s LayerSet) With(i int) LayerSet {
	if i < 0 || i >= MaxLayers {
		return s
	}
	return s | 1<<i
}

// Valid reports whether the set names only layers that exist.
func (s LayerSet) Valid() bool { return s&^AllLayers == 0 }

// Source is what a published track carries, as the publisher named it: a
// participant publishes at most one track of each source.
type Source uint8

// Track sources.
const (
	SourceMic Source = iota + 1
	SourceCamera
	SourceScreen
	numSources
)

// Sources lists every source.
var Sources = [...]Source{SourceMic, SourceCamera, SourceScreen}

// SourceOf is the default source of a track of kind k whose publisher did
// not name it: its microphone or its camera.
func SourceOf(k Kind) Source {
	if k == KindAudio {
		return SourceMic
	}
	return SourceCamera
}

// Kind is the kind of track a source publishes.
func (s Source) Kind() Kind {
	if s == SourceMic {
		return KindAudio
	}
	return KindVideo
}

// Index numbers the sources from 0, for arrays.
func (s Source) Index() int { return int(s) - 1 }

// Valid reports whether s names a source.
func (s Source) Valid() bool { return s >= SourceMic && s < numSources }

func (s Source) String() string {
	switch s {
	case SourceMic:
		return "mic"
	case SourceCamera:
		return "camera"
	case SourceScreen:
		return "screen"
	}
	return "unknown"
}

// ParseSource reads "mic", "camera" or "screen".
func ParseSource(s string) (Source, error) {
	for _, src := range Sources {
		if src.String() == s {
			return src, nil
		}
	}
	return 0, fmt.Errorf("media: source %q is none of mic, camera, screen", s)
}

// MarshalText writes the source's name.
func (s Source) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("media: invalid source %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText reads the source's name, refusing anything else.
func (s *Source) UnmarshalText(b []byte) error {
	v, err := ParseSource(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
