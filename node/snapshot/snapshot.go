// Package snapshot is the node's state as one plain value: the JSON API serves it
// and the console draws it, so both always show the same model.
package snapshot

import "time"

// Reasons a subscription is forwarded on the layer it is on. They are shown to
// operators verbatim, so they read as plain words.
const (
	ReasonBest        = "best layer for the tile"
	ReasonBandwidth   = "bandwidth estimate"
	ReasonConstraint  = "receiver constraint"
	ReasonKeyframe    = "waiting for keyframe"
	ReasonOperatorCap = "operator cap"
	ReasonNotSent     = "layer not published"
	ReasonHidden      = "tile not shown"
	ReasonLastN       = "bandwidth: recent speakers first"
	ReasonAudio       = "audio"
	ReasonMuted       = "muted by operator"
	ReasonOff         = "turned off by its publisher"
	// ReasonRelayLink: the layer's node holds it back because the relay
	// link from there does not carry it.
	ReasonRelayLink = "relay link"
)

// Snapshot is everything the node knows, taken at one instant.
type Snapshot struct {
	Taken       time.Time    `json:"taken"`
	Node        Node         `json:"node"`
	Conferences []Conference `json:"conferences"`
}

// Node describes this node and its totals.
type Node struct {
	ID           string    `json:"id"`
	Region       string    `json:"region"`
	Started      time.Time `json:"started"`
	UptimeSec    float64   `json:"uptime_sec"`
	Draining     bool      `json:"draining"`
	CPUPercent   float64   `json:"cpu_percent"` // of one core, from process CPU time
	BitrateIn    int64     `json:"bitrate_in"`  // bits/s, all media received
	BitrateOut   int64     `json:"bitrate_out"` // bits/s, all media sent
	Conferences  int       `json:"conferences"`
	Participants int       `json:"participants"`
	PacketsIn    uint64    `json:"packets_in"`
	PacketsOut   uint64    `json:"packets_out"`
	NACKsIn      uint64    `json:"nacks_in"`    // NACKed packets asked by receivers
	Retransmits  uint64    `json:"retransmits"` // packets resent from the cache
	Peers        []Peer    `json:"peers"`       // other nodes this node relays to
	SignalURL    string    `json:"signal_url"`  // where clients join this node
	HTTPAddr     string    `json:"http_addr"`
	MediaUDPPort int       `json:"media_udp_port"`
	Cascade      *Cascade  `json:"cascade,omitempty"` // nil when the node runs alone
}

// Cascade is this node's side of the relay between nodes.
type Cascade struct {
	RelayAddr  string `json:"relay_addr"`
	GossipAddr string `json:"gossip_addr"`
	// Drops counts relay datagrams refused, by reason (e.g. "bad tag",
	// "replayed", "unknown conference").
	Drops map[string]uint64 `json:"drops"`
	// Moved counts participants redirected to another node at join.
	Redirects uint64 `json:"redirects"`
}

// Peer is one relay link to another node of the cascade.
type Peer struct {
	ID           string   `json:"id"`
	Region       string   `json:"region"`
	Addr         string   `json:"addr"` // relay address
	SignalURL    string   `json:"signal_url"`
	Alive        bool     `json:"alive"`
	Draining     bool     `json:"draining"`
	Participants int      `json:"participants"` // on that node, as it gossips
	Stress       float64  `json:"stress"`       // 0..1, what bridge selection compares
	RTTMs        float64  `json:"rtt_ms"`       // relay ping round trip
	LossPct      float64  `json:"loss_pct"`     // relay datagrams lost towards this node
	BitrateIn    int64    `json:"bitrate_in"`
	BitrateOut   int64    `json:"bitrate_out"`
	Conferences  []string `json:"conferences"` // shared with this node
	// Bytes sent and received on the link by what they carry: "q", "h",
	// "f" (video layers), "audio", "rtcp", "message".
	BytesOut map[string]uint64 `json:"bytes_out"`
	BytesIn  map[string]uint64 `json:"bytes_in"`
	// SkippedBytes is video this node did not send because nobody behind
	// the link needed that layer (Octo would have sent it).
	SkippedBytes uint64 `json:"skipped_bytes"`
	NACKsSent    uint64 `json:"nacks_sent"`     // packets this node asked the peer to resend
	NACKsAnswer  uint64 `json:"nacks_answered"` // packets resent to the peer from the cache
	Repaired     uint64 `json:"repaired"`       // gaps from the peer filled by a resend
	Emulated     string `json:"emulated,omitempty"`
	// CapacityBps is this node's estimate of what the link to the peer
	// carries, bits/s (0: no limit seen); CapacityState says why ("cut:
	// queue", "configured rate", ...). TxLossPct is the share of this
	// node's datagrams the peer reports missing.
	CapacityBps   int64   `json:"capacity_bps"`
	CapacityState string  `json:"capacity_state"`
	TxLossPct     float64 `json:"tx_loss_pct"`
	// Held lists the layers of this node's tracks the link does not carry
	// for the peer ("us-p1 camera f"), and HeldBytes the video wanted
	// behind the link but not sent for that.
	Held      []string `json:"held,omitempty"`
	HeldBytes uint64   `json:"held_bytes"`
}

// Conference is one room.
type Conference struct {
	Name            string        `json:"name"`
	Created         time.Time     `json:"created"`
	Nodes           []string      `json:"nodes"`
	DominantSpeaker string        `json:"dominant_speaker"` // participant id, "" when none yet
	BitrateIn       int64         `json:"bitrate_in"`
	BitrateOut      int64         `json:"bitrate_out"`
	WorstLossPct    float64       `json:"worst_loss_pct"`
	Participants    []Participant `json:"participants"`
	// Recording is the server recording under way on this node, nil when
	// none; RecordingError why the last one stopped, if on an error.
	Recording      *Recording `json:"recording,omitempty"`
	RecordingError string     `json:"recording_error,omitempty"`
}

// Recording is a conference's server recording on this node.
type Recording struct {
	Dir   string    `json:"dir"`
	Since time.Time `json:"since"`
	By    string    `json:"by"`    // "api", "console", or the moderator who started it
	Files int       `json:"files"` // tracks being written
	Bytes int64     `json:"bytes"` // written so far
	// Refused are tracks not recorded, with why (an encrypted participant).
	Refused []RefusedTrack `json:"refused,omitempty"`
}

// RefusedTrack is a participant whose tracks a recording leaves out.
type RefusedTrack struct {
	Participant string `json:"participant"`
	Name        string `json:"name"`
	Reason      string `json:"reason"`
}

// Participant is one endpoint in a conference, local or (with a cascade) remote.
type Participant struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Region      string    `json:"region"`
	Node        string    `json:"node"`
	Remote      bool      `json:"remote"` // hosted by another node
	Kind        string    `json:"kind"`   // how it joined: "" signaling WebSocket, "whip", "whep"
	Joined      time.Time `json:"joined"`
	State       string    `json:"state"` // ICE/peer connection state
	RTTMs       float64   `json:"rtt_ms"`
	LossUpPct   float64   `json:"loss_up_pct"`   // lost on the way from the participant to the node
	LossDownPct float64   `json:"loss_down_pct"` // lost on the way from the node to the participant
	JitterMs    float64   `json:"jitter_ms"`
	BitrateUp   int64     `json:"bitrate_up"`
	BitrateDown int64     `json:"bitrate_down"`
	EstimateBps int64     `json:"estimate_bps"` // bandwidth estimate towards the participant
	// NACKsIn counts the packets this participant asked to be resent,
	// Retransmits those resent and RetransmitsRefused those refused
	// (over its retransmission budget, repeated within a round trip, too
	// old, or no longer cached).
	NACKsIn            uint64         `json:"nacks_in"`
	Retransmits        uint64         `json:"retransmits"`
	RetransmitsRefused uint64         `json:"retransmits_refused"`
	Speaking           bool           `json:"speaking"`
	AudioLevel         float64        `json:"audio_level"` // 0 (silence) .. 1 (loudest)
	AudioMuted         bool           `json:"audio_muted"` // forwarding muted by an operator
	MicOff             bool           `json:"mic_off"`     // the participant turned its microphone off
	CameraOff          bool           `json:"camera_off"`  // ... its camera
	Sharing            bool           `json:"sharing"`     // it shares its screen
	Recording          bool           `json:"recording"`   // it records the meeting locally
	E2EE               bool           `json:"e2ee"`        // it encrypts its media end to end
	LayerCap           string         `json:"layer_cap"`   // "" or the highest rid an operator allows
	Audio              bool           `json:"audio"`       // publishes audio
	Layers             []Layer        `json:"layers"`      // published video layers
	Subs               []Subscription `json:"subscriptions"`
	E2E                []E2E          `json:"e2e"`
}

// Layer is one published simulcast encoding.
type Layer struct {
	RID     string `json:"rid"`
	Active  bool   `json:"active"` // packets seen recently
	Bitrate int64  `json:"bitrate"`
	Width   int    `json:"width"`
	Height  int    `json:"height"`
	// Reason says why an inactive layer is not arriving when it is not its
	// publisher's doing (ReasonRelayLink).
	Reason string `json:"reason,omitempty"`
}

// Subscription is one track a participant receives.
type Subscription struct {
	Publisher     string `json:"publisher"` // participant id
	PublisherName string `json:"publisher_name"`
	Kind          string `json:"kind"`      // "audio" or "video"
	Source        string `json:"source"`    // "mic", "camera" or "screen"
	Forwarded     string `json:"forwarded"` // rid being sent, "" when nothing is
	Target        string `json:"target"`    // rid the selector wants
	Reason        string `json:"reason"`
	MaxHeight     int    `json:"max_height"` // receiver's constraint, 0 when none
	Bitrate       int64  `json:"bitrate"`
	// REDAdded: the node adds its own redundancy to this audio
	// (media.red = protect-speakers).
	REDAdded bool `json:"red_added,omitempty"`
	// Codec is what the receiver is sent: audio/red, audio/opus (RED
	// stripped for it), video/VP8, video/H264.
	Codec string `json:"codec"`
	// Video: frames per second forwarded and what the publisher sends in
	// the forwarded layer; freezes as the node sees them (a gap between
	// frames over three average intervals and 150 ms, WebRTC's
	// freezeCount) and their total length; time since the latest frame.
	FPS          float64 `json:"fps,omitempty"`
	LayerFPS     float64 `json:"layer_fps,omitempty"`
	Freezes      uint64  `json:"freezes,omitempty"`
	FreezeMs     float64 `json:"freeze_ms,omitempty"`
	SinceFrameMs float64 `json:"since_frame_ms,omitempty"`
}

// E2E is the end-to-end round trip between two participants.
type E2E struct {
	Peer       string  `json:"peer"`
	PeerName   string  `json:"peer_name"`
	MeasuredMs float64 `json:"measured_ms"` // ping/pong through the node(s), 0 if not measured
	ComputedMs float64 `json:"computed_ms"` // sum of the hops the node knows
	// The hops: participant to its node, node to node (0 on one node),
	// the peer's node to the peer. Path names the nodes, e.g. "us→eu".
	ClientMs float64 `json:"client_ms"`
	RelayMs  float64 `json:"relay_ms"`
	PeerMs   float64 `json:"peer_ms"`
	Path     string  `json:"path"`
}

// Find returns the conference with the given name.
func (s *Snapshot) Find(room string) (*Conference, bool) {
	for i := range s.Conferences {
		if s.Conferences[i].Name == room {
			return &s.Conferences[i], true
		}
	}
	return nil, false
}

// Find returns the participant with the given id.
func (c *Conference) Find(id string) (*Participant, bool) {
	for i := range c.Participants {
		if c.Participants[i].ID == id {
			return &c.Participants[i], true
		}
	}
	return nil, false
}
