// Package signal defines the JSON messages exchanged over the node's WebSocket
// signaling channel and validates what arrives from the network.
package signal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// MaxMessageSize bounds one signaling message; larger ones are refused.
const MaxMessageSize = 64 << 10

// Limits on the free-text fields a client sends.
const (
	MaxRoomLen   = 64
	MaxNameLen   = 64
	MaxRegionLen = 32
	MaxSDPLen    = 48 << 10
	MaxTiles     = 256
)

// Message types. Client to node: Join, Offer (once, the client's first),
// Answer, Candidate, Constraints, Message, Leave, and a moderator's Kick and
// Mute, PublishState, Share, Recording and ServerRecording. Node to client:
// Joined, Answer, Offer, Candidate, ParticipantJoined, ParticipantLeft,
// ParticipantUpdated, DominantSpeaker, Message, Error, Redirect,
// NodeStopping, ServerRecording.
const (
	TypeJoin               = "join"
	TypeJoined             = "joined"
	TypeOffer              = "offer"
	TypeAnswer             = "answer"
	TypeCandidate          = "candidate"
	TypeConstraints        = "constraints"
	TypeMessage            = "message"
	TypeLeave              = "leave"
	TypeParticipantJoined  = "participant-joined"
	TypeParticipantLeft    = "participant-left"
	TypeDominantSpeaker    = "dominant-speaker"
	TypeError              = "error"
	TypeRedirect           = "redirect"
	TypeKick               = "kick"
	TypeMute               = "mute"
	TypePublishState       = "publish-state"
	TypeShare              = "share"
	TypeRecording          = "recording"
	TypeParticipantUpdated = "participant-updated"
	TypeNodeStopping       = "node-stopping"
	// TypeServerRecording: from a moderator, start (On) or stop the node's
	// recording of the conference; from the node, to everyone, that the
	// conference is (On) or is no longer recorded, with Reason when a
	// recording stopped on an error.
	TypeServerRecording = "server-recording"
)

// Participant describes a conference member to the others.
type Participant struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Region string `json:"region"`
	Node   string `json:"node"`
	// What the participant turned off, shares, records, may do.
	MicOff    bool `json:"mic_off,omitempty"`
	CameraOff bool `json:"camera_off,omitempty"`
	Sharing   bool `json:"sharing,omitempty"`
	Recording bool `json:"recording,omitempty"`
	Moderator bool `json:"moderator,omitempty"`
	// E2EE: the participant encrypts its media end to end; the node
	// forwards frames it cannot read.
	E2EE bool `json:"e2ee,omitempty"`
}

// TrackInfo says whose track, and which source, an m-line of the node's
// offer carries.
type TrackInfo struct {
	Publisher string `json:"publisher"`
	Source    string `json:"source"`
}

// IceServer is one entry of RTCConfiguration.iceServers.
type IceServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Grants are what a participant may do in its conference.
type Grants struct {
	Publish   bool `json:"publish"`
	Subscribe bool `json:"subscribe"`
	Moderator bool `json:"moderator"`
}

// Candidate is a trickled ICE candidate, in the browser's RTCIceCandidateInit shape.
type Candidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// Message is the envelope of every signaling message; Type says which fields count.
type Message struct {
	Type string `json:"type"`

	// join; Token is a join token (JWT) where the node requires one, and
	// its display name wins over Name.
	Room   string `json:"room,omitempty"`
	Name   string `json:"name,omitempty"`
	Region string `json:"region,omitempty"`
	Token  string `json:"token,omitempty"`
	// E2EE: the joining client encrypts its media end to end.
	E2EE bool `json:"e2ee,omitempty"`

	// joined
	ID           string        `json:"id,omitempty"`
	Node         string        `json:"node,omitempty"`
	Participants []Participant `json:"participants,omitempty"`
	// Fallback lists other nodes' signaling URLs (ws:// or wss://) to
	// rejoin through if this node goes away.
	Fallback []string `json:"fallback,omitempty"`
	// IceServers are the TURN servers (with short-lived credentials) the
	// client should use; Grants what it may do.
	IceServers []IceServer `json:"ice_servers,omitempty"`
	Grants     *Grants     `json:"grants,omitempty"`

	// kick, mute (a moderator's actions on ID): Muted says mute or unmute.
	Muted bool `json:"muted,omitempty"`

	// offer, answer. The client's first offer names its publishing m-lines
	// (mid -> "mic", "camera", "screen"); the node's offers say whose
	// track each sending m-line carries.
	SDP     string               `json:"sdp,omitempty"`
	Sources map[string]string    `json:"sources,omitempty"`
	Tracks  map[string]TrackInfo `json:"tracks,omitempty"`

	// publish-state: the client turned its microphone or camera off (or on).
	MicOff    bool `json:"mic_off,omitempty"`
	CameraOff bool `json:"camera_off,omitempty"`
	// share, recording: started (true) or stopped.
	On bool `json:"on,omitempty"`

	// candidate; a nil Candidate in a candidate message means end of candidates.
	Candidate *Candidate `json:"candidate,omitempty"`

	// constraints: the largest height the receiver shows for each publisher's
	// video, by participant id; 0 means the tile is hidden.
	Tiles map[string]int `json:"tiles,omitempty"`

	// message: To is a participant id, "" for everyone; From is filled by the node.
	To      string          `json:"to,omitempty"`
	From    string          `json:"from,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`

	// participant-joined
	Participant *Participant `json:"participant,omitempty"`

	// error: Code is a stable word, Reason the human sentence. Fatal errors
	// are followed by a close of the WebSocket.
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	Fatal  bool   `json:"fatal,omitempty"`

	// redirect: join again at URL.
	URL string `json:"url,omitempty"`
}

// Error codes sent to clients.
const (
	CodeBadMessage    = "bad-message"
	CodeTooLarge      = "too-large"
	CodeRateLimited   = "rate-limited"
	CodeRoomFull      = "room-full"
	CodeNodeFull      = "node-full"
	CodeDraining      = "draining"
	CodeBadSDP        = "bad-sdp"
	CodeNotJoined     = "not-joined"
	CodeUnknownPeer   = "unknown-participant"
	CodeRemoved       = "removed"
	CodeInternal      = "internal"
	CodeProtocol      = "protocol"
	CodeAlreadyJoined = "already-joined"
	CodeTimeout       = "timeout"
	CodeUnauthorized  = "unauthorized" // a join token is required and missing
	CodeForbidden     = "forbidden"    // the participant's grants do not allow it
	CodeShareBusy     = "share-busy"   // another participant shares already
	CodeRecording     = "recording"    // the server recording could not start or stop
)

// MaxTokenLen bounds a join token.
const MaxTokenLen = 4096

// ErrTooLarge is returned for messages over MaxMessageSize.
var ErrTooLarge = errors.New("message exceeds 64 KiB")

// Decode parses and validates one message from a client. The error is fit to
// send back to the client as the reason.
func Decode(data []byte) (Message, error) {
	var m Message
	if len(data) > MaxMessageSize {
		return m, ErrTooLarge
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Message{}, fmt.Errorf("malformed JSON: %w", err)
	}
	if dec.More() {
		return Message{}, errors.New("trailing data after the JSON object")
	}
	if err := m.validate(); err != nil {
		return Message{}, err
	}
	return m, nil
}

func (m *Message) validate() error {
	switch m.Type {
	case TypeJoin:
		if err := text("room", m.Room, 1, MaxRoomLen); err != nil {
			return err
		}
		if !roomName(m.Room) {
			return errors.New("room: only letters, digits, '-', '_' and '.' are allowed")
		}
		minName := 1
		if m.Token != "" {
			minName = 0 // the token names the participant
		}
		if err := text("name", m.Name, minName, MaxNameLen); err != nil {
			return err
		}
		if len(m.Token) > MaxTokenLen {
			return fmt.Errorf("token: longer than %d bytes", MaxTokenLen)
		}
		return text("region", m.Region, 0, MaxRegionLen)
	case TypeKick, TypeMute:
		return text("id", m.ID, 1, 96)
	case TypePublishState, TypeShare, TypeRecording, TypeServerRecording:
		return nil
	case TypeOffer, TypeAnswer:
		if len(m.Sources) > 16 {
			return errors.New("offer: more than 16 sources")
		}
		for mid, src := range m.Sources {
			if err := text("sources mid", mid, 1, 32); err != nil {
				return err
			}
			if src != "mic" && src != "camera" && src != "screen" {
				return fmt.Errorf("offer: source %q is none of mic, camera, screen", truncate(src, 16))
			}
		}
		if m.SDP == "" {
			return fmt.Errorf("%s: sdp is empty", m.Type)
		}
		if len(m.SDP) > MaxSDPLen {
			return fmt.Errorf("%s: sdp longer than %d bytes", m.Type, MaxSDPLen)
		}
		if !utf8.ValidString(m.SDP) {
			return fmt.Errorf("%s: sdp is not UTF-8", m.Type)
		}
		return nil
	case TypeCandidate:
		if m.Candidate != nil && len(m.Candidate.Candidate) > 1024 {
			return errors.New("candidate: longer than 1024 bytes")
		}
		return nil
	case TypeConstraints:
		if len(m.Tiles) > MaxTiles {
			return fmt.Errorf("constraints: more than %d tiles", MaxTiles)
		}
		for id, h := range m.Tiles {
			if h < 0 || h > 8192 {
				return fmt.Errorf("constraints: height %d for %q out of range 0..8192", h, id)
			}
		}
		return nil
	case TypeMessage:
		if len(m.Payload) == 0 {
			return errors.New("message: payload is empty")
		}
		if !json.Valid(m.Payload) {
			return errors.New("message: payload is not JSON")
		}
		return text("to", m.To, 0, 64)
	case TypeLeave:
		return nil
	case "":
		return errors.New("missing type")
	default:
		return fmt.Errorf("unknown message type %q", truncate(m.Type, 32))
	}
}

func text(field, v string, min, max int) error {
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s: not UTF-8", field)
	}
	n := utf8.RuneCountInString(v)
	if n < min {
		return fmt.Errorf("%s: required", field)
	}
	if n > max {
		return fmt.Errorf("%s: longer than %d characters", field, max)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s: control characters are not allowed", field)
		}
	}
	return nil
}

func roomName(s string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
