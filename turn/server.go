// Package turn is the node's embedded TURN server, for participants whose
// networks block UDP: it relays only to the node's own media address.
package turn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"
	"github.com/switchyard/switchyard/internal/pionlog"
	"github.com/switchyard/switchyard/internal/ratelog"
)

// Defaults for Config.
const (
	DefaultRealm                 = "switchyard"
	DefaultMaxAllocationsPerUser = 10
)

// minSecret is the shortest Config.Secret accepted.
const minSecret = 16

// Config configures a Server. At least one of UDPAddr, TCPAddr and
// TLSAddr must be set.
type Config struct {
	Realm string // DefaultRealm if empty

	// Secret signs short-lived credentials (the TURN REST scheme):
	// username "<unix expiry>:<user id>", password
	// base64(HMAC-SHA1(Secret, username)). At least 16 bytes.
	Secret []byte

	// RelayIP is the address allocations report, and where relay sockets
	// bind unless RelayBindIP is set (for a public address that is not on
	// an interface, behind a 1:1 NAT).
	RelayIP     netip.Addr
	RelayBindIP netip.Addr

	// Listeners, each "" for off; ":0" picks a free port (see URLs).
	UDPAddr string
	TCPAddr string
	TLSAddr string
	// TLSConfig serves TLSAddr; it may be the HTTPS server's.
	TLSConfig *tls.Config

	// AllowPeer reports whether a relay may exchange datagrams with a
	// peer: the node passes one that accepts its own media address:port
	// only. When set it alone decides (except that port 0, unspecified,
	// multicast and broadcast addresses are always refused); when nil,
	// only public unicast addresses other than the relay's own pass.
	AllowPeer func(netip.AddrPort) bool

	// MaxAllocationsPerUser bounds the allocations of one user id at a
	// time; DefaultMaxAllocationsPerUser if zero.
	MaxAllocationsPerUser int

	Logger *slog.Logger     // slog.Default() if nil
	Now    func() time.Time // the clock for credential expiry; time.Now if nil
}

// Server is a running TURN server.
type Server struct {
	realm  string
	secret []byte
	now    func() time.Time
	netLog *slog.Logger // rate-limited: the network triggers every line
	policy peerPolicy
	quota  quota
	stats  counters

	helloTimeout, idleTimeout time.Duration // for TCP and TLS connections

	turn      *pionturn.Server
	udp       net.PacketConn // nil when off
	tcp       *streamListener
	tls       *streamListener
	closeOnce sync.Once
	closeErr  error
}

type counters struct {
	credentialsRefused atomic.Uint64
	quotaRefused       atomic.Uint64
	permissionsRefused atomic.Uint64
	sendsRefused       atomic.Uint64
	inboundRefused     atomic.Uint64
	connsRefused       atomic.Uint64
}

// Stats are a server's counters.
type Stats struct {
	Allocations int // active now

	// Allocate requests refused: malformed, expired or wrongly signed
	// credentials, or the user's quota reached.
	CredentialsRefused uint64
	QuotaRefused       uint64

	// Forbidden peers: CreatePermission or ChannelBind requests refused,
	// datagrams to a peer dropped (a permission covers the peer's IP, not
	// its port), datagrams from a peer dropped.
	PermissionsRefused uint64
	SendsRefused       uint64
	InboundRefused     uint64

	// TCP and TLS connections refused because too many were open.
	ConnsRefused uint64
}

// Start opens the configured listeners and serves until Close.
func Start(cfg Config) (*Server, error) {
	if len(cfg.Secret) < minSecret {
		return nil, fmt.Errorf("turn: secret of %d bytes, want at least %d", len(cfg.Secret), minSecret)
	}
	if !cfg.RelayIP.IsValid() || cfg.RelayIP.IsUnspecified() {
		return nil, fmt.Errorf("turn: relay IP %v is not an address", cfg.RelayIP)
	}
	bind := cfg.RelayIP
	if cfg.RelayBindIP.IsValid() {
		bind = cfg.RelayBindIP
	}
	bind, announce := bind.Unmap(), cfg.RelayIP.Unmap()
	if bind.Is4() != announce.Is4() {
		return nil, fmt.Errorf("turn: relay bind IP %v and relay IP %v differ in family", bind, announce)
	}
	if cfg.UDPAddr == "" && cfg.TCPAddr == "" && cfg.TLSAddr == "" {
		return nil, errors.New("turn: no listener configured")
	}
	if cfg.TLSAddr != "" && (cfg.TLSConfig == nil ||
		(len(cfg.TLSConfig.Certificates) == 0 && cfg.TLSConfig.GetCertificate == nil && cfg.TLSConfig.GetConfigForClient == nil)) {
		return nil, errors.New("turn: TLS listener without a certificate")
	}
	if cfg.Realm == "" {
		cfg.Realm = DefaultRealm
	}
	if cfg.MaxAllocationsPerUser <= 0 {
		cfg.MaxAllocationsPerUser = DefaultMaxAllocationsPerUser
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}

	s := &Server{
		realm:  cfg.Realm,
		secret: append([]byte(nil), cfg.Secret...),
		now:    cfg.Now,
		netLog: slog.New(ratelog.NewHandler(cfg.Logger.Handler(), ratelog.New[string](cfg.Now, 0, 0))),
		policy: peerPolicy{allow: cfg.AllowPeer, self: []netip.Addr{bind, announce}},
		quota:  quota{max: cfg.MaxAllocationsPerUser, n: make(map[string]int)},

		helloTimeout: helloTimeout,
		idleTimeout:  idleTimeout,
	}
	relay := &relayGenerator{s: s, bind: bind, announce: announce}

	var pcs []pionturn.PacketConnConfig
	var ls []pionturn.ListenerConfig
	fail := func(err error) (*Server, error) {
		for _, pc := range pcs {
			pc.PacketConn.Close()
		}
		for _, l := range ls {
			l.Listener.Close()
		}
		return nil, err
	}
	if cfg.UDPAddr != "" {
		pc, err := net.ListenPacket("udp", cfg.UDPAddr)
		if err != nil {
			return fail(fmt.Errorf("turn: listen udp %s: %w", cfg.UDPAddr, err))
		}
		g := &datagramGate{PacketConn: pc}
		s.udp = g
		pcs = append(pcs, pionturn.PacketConnConfig{
			PacketConn:            g,
			RelayAddressGenerator: relay,
			PermissionHandler:     s.permissionHandler(g.lookup),
		})
	}
	for _, l := range []struct {
		addr string
		tls  bool
	}{{cfg.TCPAddr, false}, {cfg.TLSAddr, true}} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return fail(fmt.Errorf("turn: listen tcp %s: %w", l.addr, err))
		}
		if l.tls {
			ln = tls.NewListener(ln, cfg.TLSConfig)
		}
		sl := newStreamListener(ln, s)
		if l.tls {
			s.tls = sl
		} else {
			s.tcp = sl
		}
		ls = append(ls, pionturn.ListenerConfig{
			Listener:              sl,
			RelayAddressGenerator: relay,
			PermissionHandler:     s.permissionHandler(sl.lookup),
		})
	}

	t, err := pionturn.NewServer(pionturn.ServerConfig{
		PacketConnConfigs: pcs,
		ListenerConfigs:   ls,
		LoggerFactory:     pionlog.Factory{Logger: cfg.Logger},
		Realm:             cfg.Realm,
		// A client that names no address family gets the relay's, not
		// that of the listener it reached (an IPv6 one, say).
		StrictAddressFamily: bind.Is4(),
		AuthHandler:         s.authenticate,
		QuotaHandler:        s.underQuota,
		EventHandler:        pionturn.EventHandler{OnAuth: s.onAuth},
	})
	if err != nil {
		return fail(fmt.Errorf("turn: start: %w", err))
	}
	s.turn = t
	return s, nil
}

// Close stops the listeners and ends every allocation.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if err := s.turn.Close(); err != nil {
			s.closeErr = fmt.Errorf("turn: close: %w", err)
		}
		// pion leaves accepted connections open; their read loops end
		// their allocations as they exit.
		for _, l := range []*streamListener{s.tcp, s.tls} {
			if l != nil {
				l.closeAll()
			}
		}
	})
	return s.closeErr
}

// Credentials returns a username and password for user valid for ttl
// from now. user must not be empty.
func (s *Server) Credentials(user string, ttl time.Duration) (username, password string) {
	username = strconv.FormatInt(s.now().Add(ttl).Unix(), 10) + ":" + user
	return username, restPassword(s.secret, username)
}

// URLs returns the ICE server URLs of the enabled listeners, with the
// ports they are bound to, for host (a name the TLS certificate covers,
// or an IP).
func (s *Server) URLs(host string) []string {
	var urls []string
	if s.udp != nil {
		urls = append(urls, "turn:"+hostPort(host, s.udp.LocalAddr())+"?transport=udp")
	}
	if s.tcp != nil {
		urls = append(urls, "turn:"+hostPort(host, s.tcp.Addr())+"?transport=tcp")
	}
	if s.tls != nil {
		urls = append(urls, "turns:"+hostPort(host, s.tls.Addr())+"?transport=tcp")
	}
	return urls
}

func hostPort(host string, addr net.Addr) string {
	ap, _ := addrPort(addr)
	return net.JoinHostPort(host, strconv.Itoa(int(ap.Port())))
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	return Stats{
		Allocations:        s.turn.AllocationCount(),
		CredentialsRefused: s.stats.credentialsRefused.Load(),
		QuotaRefused:       s.stats.quotaRefused.Load(),
		PermissionsRefused: s.stats.permissionsRefused.Load(),
		SendsRefused:       s.stats.sendsRefused.Load(),
		InboundRefused:     s.stats.inboundRefused.Load(),
		ConnsRefused:       s.stats.connsRefused.Load(),
	}
}

// authenticate is pion's AuthHandler: it returns the key of a REST
// username that has not expired, and its user id for the quota. pion then
// checks the request's MESSAGE-INTEGRITY with the key (see onAuth).
func (s *Server) authenticate(ra *pionturn.RequestAttributes) (string, []byte, bool) {
	expiry, user, err := parseUsername(ra.Username)
	if err == nil && !s.now().Before(time.Unix(expiry, 0)) {
		err = errExpired
	}
	if err != nil {
		s.refuseCredentials(ra.Method.String(), ra.SrcAddr, err)
		return "", nil, false
	}
	// The configured realm, not the client's: a client naming another
	// realm fails the integrity check.
	return user, pionturn.GenerateAuthKey(ra.Username, s.realm, restPassword(s.secret, ra.Username)), true
}

var errIntegrity = errors.New("message integrity check failed (wrong password)")

// onAuth sees pion's verdict on MESSAGE-INTEGRITY.
func (s *Server) onAuth(src, _ net.Addr, _, _, _, method string, ok bool) {
	if !ok {
		s.refuseCredentials(method, src, errIntegrity)
	}
}

// refuseCredentials counts and logs refused credentials. Only Allocate
// requests count: a Refresh with expired credentials is how a finished
// client's allocation ends.
func (s *Server) refuseCredentials(method string, client net.Addr, err error) {
	if method != stun.MethodAllocate.String() {
		s.netLog.Debug("turn: credentials refused", "method", method, "client", client, "err", err)
		return
	}
	s.stats.credentialsRefused.Add(1)
	s.netLog.Info("turn: allocation refused: credentials", "client", client, "err", err)
}

// underQuota is pion's QuotaHandler, which answers 486 (Allocation Quota
// Reached). relayGenerator enforces the quota again, atomically.
func (s *Server) underQuota(user, _ string, _ net.Addr) bool {
	if s.quota.full(user) {
		s.refuseQuota(user)
		return false
	}
	return true
}

func (s *Server) refuseQuota(user string) {
	s.stats.quotaRefused.Add(1)
	s.netLog.Info("turn: allocation refused: quota reached", "user", user, "max", s.quota.max)
}
