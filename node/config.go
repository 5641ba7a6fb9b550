package node

import (
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Config is everything a node needs to run; main fills it from config.toml,
// SWITCHYARD_* environment variables and flags.
type Config struct {
	ID     string // node id; "" = derived from host name and port
	Region string // region this node serves

	HTTPAddr string // web client, signaling, API, metrics

	// MediaIP is the address the single WebRTC UDP port binds to and
	// announces as a host candidate.
	MediaIP   string
	MediaPort int // 0 = any free port
	// PublicIP, when set, is announced instead of MediaIP (a box behind 1:1 NAT).
	PublicIP string
	// AllowedNetworks limits the remote ICE candidates the node will check;
	// anything outside is ignored, so tests never touch a non-loopback address.
	AllowedNetworks []string

	MaxRooms        int
	MaxParticipants int // on the whole node
	MaxRoomSize     int
	MessageRate     float64 // signaling messages per second per client
	MessageBurst    int

	// GoneAfter is how long a participant whose media path failed stays before removal.
	GoneAfter time.Duration
	// InitialBitrate and MaxBitrate bound the per-receiver bandwidth estimate.
	InitialBitrate int
	MaxBitrate     int
}

// DefaultConfig is a node that works on one machine with no configuration.
func DefaultConfig() Config {
	return Config{
		Region:          "local",
		HTTPAddr:        "127.0.0.1:8080",
		MediaIP:         "127.0.0.1",
		MediaPort:       10000,
		AllowedNetworks: []string{"127.0.0.0/8", "::1/128"},
		MaxRooms:        100,
		MaxParticipants: 500,
		MaxRoomSize:     50,
		MessageRate:     30,
		MessageBurst:    60,
		GoneAfter:       4 * time.Second,
		InitialBitrate:  2_500_000,
		MaxBitrate:      8_000_000,
	}
}

func (c *Config) validate() ([]netip.Prefix, error) {
	if c.Region == "" {
		return nil, fmt.Errorf("config: region is empty")
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return nil, fmt.Errorf("config: http_addr %q: %w", c.HTTPAddr, err)
	}
	if ip := net.ParseIP(c.MediaIP); ip == nil {
		return nil, fmt.Errorf("config: media_ip %q is not an IP address", c.MediaIP)
	}
	if c.PublicIP != "" && net.ParseIP(c.PublicIP) == nil {
		return nil, fmt.Errorf("config: public_ip %q is not an IP address", c.PublicIP)
	}
	if c.MediaPort < 0 || c.MediaPort > 65535 {
		return nil, fmt.Errorf("config: media_port %d out of range", c.MediaPort)
	}
	if c.MaxRooms < 1 || c.MaxParticipants < 1 || c.MaxRoomSize < 2 {
		return nil, fmt.Errorf("config: limits must be positive (max_rooms %d, max_participants %d, max_room_size %d >= 2)",
			c.MaxRooms, c.MaxParticipants, c.MaxRoomSize)
	}
	if c.MessageRate <= 0 || c.MessageBurst < 1 {
		return nil, fmt.Errorf("config: message_rate and message_burst must be positive")
	}
	if c.GoneAfter <= 0 || c.GoneAfter > 10*time.Second {
		return nil, fmt.Errorf("config: gone_after %s must be within (0, 10s]", c.GoneAfter)
	}
	if c.InitialBitrate <= 0 || c.MaxBitrate < c.InitialBitrate {
		return nil, fmt.Errorf("config: need 0 < initial_bitrate <= max_bitrate")
	}
	var nets []netip.Prefix
	for _, s := range c.AllowedNetworks {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("config: allowed_networks: %w", err)
		}
		nets = append(nets, p.Masked())
	}
	if len(nets) == 0 {
		return nil, fmt.Errorf("config: allowed_networks is empty; use 0.0.0.0/0 to allow every address")
	}
	return nets, nil
}
