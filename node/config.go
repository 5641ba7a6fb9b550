package node

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/switchyard/switchyard/linkemu"
)

// Config is everything a node needs to run; main fills it from config.toml,
// SWITCHYARD_* environment variables and flags.
type Config struct {
	ID     string // node id; "" = derived from host name and port
	Region string // region this node serves

	HTTPAddr string // web client, signaling, API, metrics
	// Pprof serves net/http/pprof under /debug/pprof/ on HTTPAddr. Off by
	// default: profiles expose internals and cost CPU while they run.
	Pprof bool

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

	// JoinTimeout closes a signaling connection that has not joined a room
	// within it; OfferTimeout removes a participant that joined but sent no
	// offer within it. Until its offer a participant is pending: it counts
	// against MaxPending, not against the room, room and node limits.
	JoinTimeout  time.Duration
	OfferTimeout time.Duration
	MaxPending   int
	// ConnsPerAddress bounds concurrent signaling connections from one IP
	// address, and JoinRate/JoinBurst its joins per second; 0 = no limit.
	// Loopback addresses are exempt unless LimitLoopback is set: the demo
	// and the benchmark run every participant from 127.0.0.1.
	ConnsPerAddress int
	JoinRate        float64
	JoinBurst       int
	LimitLoopback   bool
	// HTTPIdleTimeout closes idle keep-alive HTTP connections.
	HTTPIdleTimeout time.Duration
	// InitialBitrate and MaxBitrate bound the per-receiver bandwidth estimate.
	InitialBitrate int
	MaxBitrate     int
	// BatchWrites sends the copies of one forwarded packet with one
	// sendmmsg instead of a sendto each (Linux; elsewhere it has no effect).
	BatchWrites bool

	// Cascade joins this node to others so that one conference can span them.
	Cascade CascadeConfig
}

// CascadeConfig is how a node finds the other nodes and relays media to them.
type CascadeConfig struct {
	Enabled bool
	// Secret is the cluster secret (at least 16 bytes): it keys the gossip
	// and every relay datagram. Every node of a cluster has the same one.
	Secret string
	// RelayAddr is the single UDP socket for media between nodes (Octo's 4096).
	RelayAddr string
	// GossipAddr is the membership socket (UDP and TCP).
	GossipAddr string
	// AdvertiseIP, when set, is the address other nodes use to reach this
	// node's relay and gossip sockets; by default the bound address.
	AdvertiseIP string
	// Join lists gossip addresses ("host:port") of other nodes.
	Join []string
	// SignalURL is this node's base URL as clients reach it, for redirects
	// (e.g. "https://eu.example.org"); by default http://HTTPAddr.
	SignalURL string
	// RegionHeader is the HTTP header a geo-aware proxy sets to the
	// client's region; it wins over the region the client names itself.
	RegionHeader string
	// Overload is the stress (0..1: the larger of participants over
	// MaxParticipants and CPU over all cores) above which a node is not
	// chosen for participants of its region.
	Overload float64
	// Links emulates a network towards other nodes, by node id: delay,
	// jitter, loss and rate on every relay datagram this node sends there.
	Links map[string]linkemu.Params
	// ProbeInterval and ProbeTimeout tune failure detection (memberlist);
	// zero takes the defaults (1 s, 500 ms: a dead node is noticed in about 4 s).
	ProbeInterval time.Duration
	ProbeTimeout  time.Duration
	// DrainTimeout bounds how long SIGTERM waits for participants to move.
	DrainTimeout time.Duration
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
		JoinTimeout:     10 * time.Second,
		OfferTimeout:    10 * time.Second,
		MaxPending:      100,
		ConnsPerAddress: 16,
		JoinRate:        2,
		JoinBurst:       10,
		HTTPIdleTimeout: 30 * time.Second,
		InitialBitrate:  2_500_000,
		MaxBitrate:      8_000_000,
		BatchWrites:     true,
		Cascade: CascadeConfig{
			RelayAddr:    "127.0.0.1:4096",
			GossipAddr:   "127.0.0.1:7946",
			RegionHeader: "X-Switchyard-Region",
			Overload:     0.8,
			DrainTimeout: 60 * time.Second,
		},
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
	if c.JoinTimeout <= 0 || c.OfferTimeout <= 0 || c.HTTPIdleTimeout <= 0 {
		return nil, fmt.Errorf("config: join_timeout (%s), offer_timeout (%s) and http_idle_timeout (%s) must be positive",
			c.JoinTimeout, c.OfferTimeout, c.HTTPIdleTimeout)
	}
	if c.MaxPending < 1 || c.ConnsPerAddress < 0 || c.JoinRate < 0 || c.JoinBurst < 0 {
		return nil, fmt.Errorf("config: max_pending must be positive; connections_per_address, join_rate and join_burst must not be negative")
	}
	if c.InitialBitrate <= 0 || c.MaxBitrate < c.InitialBitrate {
		return nil, fmt.Errorf("config: need 0 < initial_bitrate <= max_bitrate")
	}
	if err := c.Cascade.validate(); err != nil {
		return nil, err
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

func (c *CascadeConfig) validate() error {
	if !c.Enabled {
		return nil
	}
	if len(c.Secret) < 16 {
		return errors.New("config: cascade.secret must be at least 16 bytes (every node of the cluster shares it)")
	}
	for name, addr := range map[string]string{"relay_addr": c.RelayAddr, "gossip_addr": c.GossipAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("config: cascade.%s %q: %w", name, addr, err)
		}
	}
	if c.AdvertiseIP != "" && net.ParseIP(c.AdvertiseIP) == nil {
		return fmt.Errorf("config: cascade.advertise_ip %q is not an IP address", c.AdvertiseIP)
	}
	if host, _, _ := net.SplitHostPort(c.RelayAddr); c.AdvertiseIP == "" && (host == "" || net.ParseIP(host).IsUnspecified()) {
		// Other nodes need one address to send to; a wildcard bind has none.
		return fmt.Errorf("config: cascade.relay_addr %q binds every interface: set cascade.advertise_ip to the address other nodes reach", c.RelayAddr)
	}
	if c.Overload <= 0 || c.Overload > 1 {
		return fmt.Errorf("config: cascade.overload %g must be within (0, 1]", c.Overload)
	}
	for peer, l := range c.Links {
		if err := l.Validate(); err != nil {
			return fmt.Errorf("config: cascade.links.%s: %w", peer, err)
		}
	}
	if c.DrainTimeout <= 0 {
		return fmt.Errorf("config: cascade.drain_timeout %s must be positive", c.DrainTimeout)
	}
	return nil
}
