package node

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/certs"
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
	// MediaTCPPort accepts ICE over TCP (passive candidates) for clients
	// whose UDP is blocked: 0 = the same port number as MediaPort (any free
	// port when that is 0), -1 = off.
	MediaTCPPort int
	// AllowedNetworks limits the remote ICE candidates the node will check;
	// anything outside is ignored, so tests never touch a non-loopback
	// address. Empty: loopback when MediaIP is loopback, else every unicast
	// address but loopback and link-local.
	AllowedNetworks []string

	MaxRooms        int
	MaxParticipants int // on the whole node
	MaxRoomSize     int
	// MaxShares is how many participants of a conference may share their
	// screen at once.
	MaxShares    int
	MessageRate  float64 // signaling messages per second per client
	MessageBurst int

	// GoneAfter is how long a participant whose media path failed stays before removal.
	GoneAfter time.Duration

	// JoinTimeout closes a signaling connection that has not joined a room
	// within it; OfferTimeout removes a participant that joined but sent no
	// offer within it. Until its offer a participant is pending: it counts
	// against MaxPending, not against the room, room and node limits.
	JoinTimeout  time.Duration
	OfferTimeout time.Duration
	MaxPending   int

	// RED is the audio redundancy policy (RFC 2198): "forward" (the
	// default) negotiates red/48000/2 with clients that offer it, forwards
	// it to those that negotiated it and strips it, recovering lost packets
	// from the redundancy, for the others; "off" negotiates plain Opus only.
	RED string

	// RecordingDir is where server recordings go: one directory per
	// recording, <room>-<UTC time>, with a WebM file per track and a
	// manifest.json.
	RecordingDir string
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

	// TLS serves HTTPS (and so wss signaling) from certificate files or
	// with ACME; RedirectAddr (e.g. ":80") answers ACME HTTP-01 challenges
	// and redirects everything else to HTTPS.
	TLS          certs.Config
	RedirectAddr string
	// APIKey guards /api/v1, /metrics and /debug/pprof (Authorization:
	// Bearer). AdminAddr serves them on a listener of their own instead of
	// HTTPAddr. Off loopback one of the two is needed to reach them at all.
	APIKey    string
	AdminAddr string
	// Auth is who may join.
	Auth AuthConfig
	// TURN is the embedded TURN server, for clients whose UDP is blocked.
	TURN TURNConfig
}

// AuthConfig says who may join.
type AuthConfig struct {
	// Required asks every join for a token signed with Secret. nil: required
	// whenever HTTPAddr is not a loopback address.
	Required *bool
	// AllowAnonymous must be set to run a node off loopback without tokens.
	AllowAnonymous bool
	Secret         string
	// Skew is the clock skew allowed on a token's exp and nbf.
	Skew time.Duration
}

// TURNConfig is the embedded TURN server; it runs when Secret is set and at
// least one listener address is.
type TURNConfig struct {
	UDPAddr, TCPAddr, TLSAddr string
	// Secret keys the short-lived credentials handed to clients in joined.
	Secret string
	Realm  string
	// Host is the name or address clients reach the TURN listeners at;
	// empty: PublicIP, else MediaIP.
	Host string
	// CredentialTTL is how long a handed-out credential lasts.
	CredentialTTL time.Duration
	// MaxAllocations is the allocations one participant may hold.
	MaxAllocations int
}

// Enabled reports whether the TURN server runs.
func (t TURNConfig) Enabled() bool {
	return t.Secret != "" && (t.UDPAddr != "" || t.TCPAddr != "" || t.TLSAddr != "")
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
		Auth:            AuthConfig{Skew: 30 * time.Second},
		TURN:            TURNConfig{Realm: "switchyard", CredentialTTL: 12 * time.Hour, MaxAllocations: 10},
		MaxRooms:        100,
		MaxParticipants: 500,
		MaxRoomSize:     50,
		MaxShares:       1,
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
		RED:             REDForward,
		Cascade: CascadeConfig{
			RelayAddr:    "127.0.0.1:4096",
			GossipAddr:   "127.0.0.1:7946",
			RegionHeader: "X-Switchyard-Region",
			Overload:     0.8,
			DrainTimeout: 60 * time.Second,
		},
	}
}

// The values of Config.RED.
const (
	REDForward = "forward"
	REDOff     = "off"
	// REDProtectSpeakers forwards as REDForward does and, towards a
	// receiver that negotiated RED and loses 2% or more of what it is
	// sent, adds the node's own RED to the dominant speaker's plain Opus.
	REDProtectSpeakers = "protect-speakers"
)

func (c *Config) validate() ([]netip.Prefix, error) {
	switch c.RED {
	case "":
		c.RED = REDForward
	case REDForward, REDOff, REDProtectSpeakers:
	default:
		return nil, fmt.Errorf("config: media.red %q: want %q, %q or %q", c.RED, REDForward, REDProtectSpeakers, REDOff)
	}
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
	if c.MaxShares < 1 {
		return nil, fmt.Errorf("config: limits.max_shares %d must be at least 1", c.MaxShares)
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
	if err := c.Cascade.validate(c.HTTPAddr); err != nil {
		return nil, err
	}
	if err := c.validateAccess(); err != nil {
		return nil, err
	}
	if c.MediaTCPPort < -1 || c.MediaTCPPort > 65535 {
		return nil, fmt.Errorf("config: media.tcp_port %d out of range (-1 = off, 0 = as media.port)", c.MediaTCPPort)
	}
	var nets []netip.Prefix
	for _, s := range c.AllowedNetworks {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("config: allowed_networks: %w", err)
		}
		nets = append(nets, p.Masked())
	}
	return nets, nil
}

// Public reports whether the node serves clients beyond this machine: its
// HTTP address is not a loopback one.
func (c *Config) Public() bool { return !loopbackHost(c.HTTPAddr) }

// AuthRequired reports whether joins need a token.
func (c *Config) AuthRequired() bool {
	if c.Auth.Required != nil {
		return *c.Auth.Required
	}
	return c.Public()
}

// loopbackHost reports whether a host:port names only loopback addresses.
func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// validateAccess checks who may join and reach the node: secure by default
// off loopback, zero configuration on it.
func (c *Config) validateAccess() error {
	if c.AuthRequired() {
		if err := auth.CheckSecret([]byte(c.Auth.Secret)); err != nil {
			return fmt.Errorf("config: joins need tokens here, so auth.secret (SWITCHYARD_AUTH_SECRET) must be set: %w", err)
		}
	} else if c.Public() && !c.Auth.AllowAnonymous {
		return fmt.Errorf("config: http.addr %s is not a loopback address and auth.required is off: "+
			"anyone could join any room; set auth.secret, or auth.allow_anonymous = true to run an open node", c.HTTPAddr)
	}
	if c.Auth.Skew < 0 || c.Auth.Skew > 10*time.Minute {
		return fmt.Errorf("config: auth.skew %s must be within [0, 10m]", c.Auth.Skew)
	}
	if c.TURN.Secret == "" && (c.TURN.UDPAddr != "" || c.TURN.TCPAddr != "" || c.TURN.TLSAddr != "") {
		return errors.New("config: turn.udp_addr/tcp_addr/tls_addr are set but turn.secret is not (SWITCHYARD_TURN_SECRET): the TURN server would not start")
	}
	if c.TURN.Enabled() {
		if len(c.TURN.Secret) < 16 {
			return errors.New("config: turn.secret must be at least 16 bytes")
		}
		if c.TURN.TLSAddr != "" && c.TLS.CertFile == "" && len(c.TLS.ACMEDomains) == 0 {
			return errors.New("config: turn.tls_addr needs a certificate (http.tls_cert/tls_key or http.acme_domains)")
		}
		if c.TURN.CredentialTTL <= 0 || c.TURN.MaxAllocations < 1 {
			return errors.New("config: turn.credential_ttl and turn.max_allocations must be positive")
		}
	}
	return nil
}

// concreteHost reports whether host:port names one host (not a wildcard).
func concreteHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil || host == "" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsUnspecified()
}

func (c *CascadeConfig) validate(httpAddr string) error {
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
	if c.SignalURL == "" && !concreteHost(httpAddr) {
		return fmt.Errorf("config: http.addr %q has no host other nodes could send clients to: set cascade.signal_url (e.g. https://eu.example.org)", httpAddr)
	}
	return nil
}
