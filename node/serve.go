package node

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"strings"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/certs"
	"github.com/switchyard/switchyard/internal/dtlsfilter"
	"github.com/switchyard/switchyard/internal/pionlog"
	"github.com/switchyard/switchyard/internal/udpbatch"
	"github.com/switchyard/switchyard/node/signal"
	"github.com/switchyard/switchyard/node/web"
	"github.com/switchyard/switchyard/turn"
)

// Start opens the media ports, the HTTP(S) listener and, as configured, the
// admin and redirect listeners, the TURN server and the cascade; it serves
// until ctx ends or Close is called.
func (n *Node) Start(ctx context.Context) error {
	if err := n.start(ctx); err != nil {
		n.closeAll()
		return err
	}
	return nil
}

func (n *Node) start(ctx context.Context) error {
	if err := n.openMedia(); err != nil {
		return err
	}
	if n.cfg.TLS.CertFile != "" || len(n.cfg.TLS.ACMEDomains) > 0 {
		tc := n.cfg.TLS
		tc.Logger = n.log // certs names itself (component=certs)
		if _, port, err := net.SplitHostPort(n.cfg.HTTPAddr); err == nil {
			fmt.Sscan(port, &tc.HTTPSPort) // redirects from port 80 go to this port
		}
		m, err := certs.New(tc)
		if err != nil {
			return fmt.Errorf("node: https: %w", err)
		}
		n.certs = m
		go m.Watch(ctx, 10*time.Second)
	}
	ln, err := net.Listen("tcp", n.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("node: http %s: %w", n.cfg.HTTPAddr, err)
	}
	n.closers = append(n.closers, ln)
	n.httpLn = ln
	n.started = time.Now()
	if err := n.startTURN(); err != nil {
		return err
	}
	if n.cfg.Cascade.Enabled {
		peers, err := n.startPeering()
		if err != nil {
			return err
		}
		n.peers = peers
	}
	main := n.newServer(n.routes(n.cfg.AdminAddr == ""))
	if n.certs != nil {
		// Not ServeTLS: it would offer h2, and WebSockets cannot upgrade over it.
		tln := tls.NewListener(ln, n.certs.TLSConfig())
		n.serve(main, func() error { return main.Serve(tln) })
	} else {
		n.serve(main, func() error { return main.Serve(ln) })
	}
	if n.cfg.AdminAddr != "" {
		aln, err := net.Listen("tcp", n.cfg.AdminAddr)
		if err != nil {
			return fmt.Errorf("node: http.admin_addr %s: %w", n.cfg.AdminAddr, err)
		}
		admin := n.newServer(n.adminRoutes())
		n.serve(admin, func() error { return admin.Serve(aln) })
	}
	if n.cfg.RedirectAddr != "" {
		if n.certs == nil {
			return errors.New("node: http.redirect_addr needs HTTPS (http.tls_cert or http.acme_domains)")
		}
		rln, err := net.Listen("tcp", n.cfg.RedirectAddr)
		if err != nil {
			return fmt.Errorf("node: http.redirect_addr %s: %w", n.cfg.RedirectAddr, err)
		}
		redirect := n.newServer(n.certs.HTTPHandler())
		n.serve(redirect, func() error { return redirect.Serve(rln) })
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.tick(ctx)
	}()
	go func() {
		select {
		case <-ctx.Done():
			_ = n.Close()
		case <-n.done:
		}
	}()
	if n.cfg.Auth.AllowAnonymous && !n.cfg.AuthRequired() && n.cfg.Public() {
		n.log.Warn("open node: anyone who reaches it may join any room (auth.allow_anonymous)", "http", n.cfg.HTTPAddr)
	}
	n.log.Info("node started", "node", n.cfg.ID, "region", n.cfg.Region, "url", n.URL(),
		"media_udp", n.udpConn.LocalAddr().String(), "auth", n.cfg.AuthRequired())
	return nil
}

// openMedia opens the one UDP port (and the TCP port for ICE over TCP).
func (n *Node) openMedia() error {
	udpAddr := &net.UDPAddr{IP: net.ParseIP(n.cfg.MediaIP), Port: n.cfg.MediaPort}
	conn, err := net.ListenUDP("udp", udpAddr)
	if err != nil {
		return fmt.Errorf("node: media port %s: %w", udpAddr, err)
	}
	n.udpConn = conn
	n.closers = append(n.closers, conn)
	var pc net.PacketConn = conn
	if n.cfg.BatchWrites {
		bc, err := udpbatch.New(conn, udpbatch.WithLogger(n.log.With("component", "udpbatch")))
		if err != nil {
			return fmt.Errorf("node: media port %s: %w", udpAddr, err)
		}
		n.batch, pc = bc, bc
	}
	// Forged DTLS records never reach pion: one would end the connection of
	// the participant whose address it carries.
	n.mediaConn = dtlsfilter.New(pc, func(from net.Addr) {
		n.metrics.forgedDTLS.Inc()
		n.netLog.Warn("forged DTLS record dropped", "from", from.String())
	})
	n.udpMux = webrtc.NewICEUDPMux(nil, n.mediaConn)
	n.closers = append(n.closers, n.udpMux)
	if n.cfg.MediaTCPPort < 0 {
		return nil
	}
	port := n.cfg.MediaTCPPort
	if port == 0 {
		port = n.cfg.MediaPort
	}
	tcpAddr := &net.TCPAddr{IP: net.ParseIP(n.cfg.MediaIP), Port: port}
	ln, err := net.ListenTCP("tcp", tcpAddr)
	if err != nil {
		return fmt.Errorf("node: media tcp port %s (media.tcp_port; -1 turns ICE over TCP off): %w", tcpAddr, err)
	}
	n.tcpLn = ln
	// A connection that sends no STUN binding, or one with a username no
	// participant has, is dropped within seconds, not pion's default 30 s:
	// anyone can open them, and each holds a goroutine and buffers.
	n.tcpMux = ice.NewTCPMuxDefault(ice.TCPMuxParams{
		Listener:                     ln,
		Logger:                       pionlog.Factory{Logger: n.log}.NewLogger("tcpmux"),
		ReadBufferSize:               64,
		FirstStunBindTimeout:         tcpFirstSTUNTimeout,
		AliveDurationForConnFromStun: tcpUnclaimedTimeout,
	})
	n.closers = append(n.closers, n.tcpMux)
	return nil
}

// How long an ICE-TCP connection may wait for its first STUN binding, and
// one opened with a username no participant has for a participant to
// claim it (a client's offer may reach the node just after its first
// check).
const (
	tcpFirstSTUNTimeout = 5 * time.Second
	tcpUnclaimedTimeout = 10 * time.Second
)

// startTURN starts the embedded TURN server when it is configured. Its
// relays may reach only this node's own media port.
func (n *Node) startTURN() error {
	tc := n.cfg.TURN
	if !tc.Enabled() {
		return nil
	}
	relayIP, err := netip.ParseAddr(n.cfg.MediaIP)
	if err != nil {
		return fmt.Errorf("node: turn: media.ip: %w", err)
	}
	media := n.udpConn.LocalAddr().(*net.UDPAddr).AddrPort()
	cfg := turn.Config{
		Realm: tc.Realm, Secret: []byte(tc.Secret), RelayIP: relayIP,
		UDPAddr: tc.UDPAddr, TCPAddr: tc.TCPAddr, TLSAddr: tc.TLSAddr,
		AllowPeer: func(peer netip.AddrPort) bool {
			return peer.Port() == media.Port() && (peer.Addr().Unmap() == media.Addr().Unmap() ||
				n.cfg.PublicIP != "" && peer.Addr().String() == n.cfg.PublicIP)
		},
		MaxAllocationsPerUser: tc.MaxAllocations,
		Logger:                n.log.With("component", "turn"),
	}
	if tc.TLSAddr != "" && n.certs != nil {
		cfg.TLSConfig = n.certs.TLSConfig()
	}
	s, err := turn.Start(cfg)
	if err != nil {
		return fmt.Errorf("node: turn: %w", err)
	}
	n.turn = s
	n.closers = append(n.closers, s)
	return nil
}

// iceServers are the TURN servers handed to a participant in joined, with
// credentials of its own.
func (n *Node) iceServers(user string) []signal.IceServer {
	if n.turn == nil {
		return nil
	}
	host := n.cfg.TURN.Host
	if host == "" {
		host = n.cfg.PublicIP
	}
	if host == "" {
		host = n.cfg.MediaIP
	}
	name, pass := n.turn.Credentials(user, n.cfg.TURN.CredentialTTL)
	return []signal.IceServer{{URLs: n.turn.URLs(host), Username: name, Credential: pass}}
}

func (n *Node) newServer(h http.Handler) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       n.cfg.HTTPIdleTimeout,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          newHTTPErrorLog(n.netLog),
	}
	n.servers = append(n.servers, srv)
	return srv
}

func (n *Node) serve(srv *http.Server, run func() error) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := run(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("http server stopped", "err", err)
		}
	}()
}

// closeAll closes what Start opened, last first.
func (n *Node) closeAll() {
	for i := len(n.closers) - 1; i >= 0; i-- {
		_ = n.closers[i].Close()
	}
	n.closers = nil
}

// URL is the node's HTTP(S) base URL.
func (n *Node) URL() string {
	scheme := "http://"
	if n.certs != nil {
		scheme = "https://"
	}
	return scheme + n.httpLn.Addr().String()
}

// ReloadCertificates re-reads the certificate files (SIGHUP).
func (n *Node) ReloadCertificates() error {
	if n.certs == nil {
		return nil
	}
	return n.certs.Reload()
}

// routes serves the web client and signaling, and the API, metrics and
// profiler unless they live on the admin listener.
func (n *Node) routes(withAdmin bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", n.serveWS)
	n.httpMediaRoutes(mux) // WHIP and WHEP
	if withAdmin {
		n.adminHandlers(mux)
	}
	mux.Handle("/", web.Handler())
	return mux
}

func (n *Node) adminRoutes() http.Handler {
	mux := http.NewServeMux()
	n.adminHandlers(mux)
	return mux
}

// adminHandlers adds the JSON API, metrics and (when on) the profiler, each
// behind the API key where one is needed.
func (n *Node) adminHandlers(mux *http.ServeMux) {
	guard := n.guardAdmin
	mux.Handle("GET /api/v1/node", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := n.Snapshot()
		writeJSON(w, s.Node)
	})))
	mux.Handle("GET /api/v1/conferences", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := n.Snapshot()
		writeJSON(w, s.Conferences)
	})))
	mux.Handle("GET /api/v1/snapshot", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, n.Snapshot())
	})))
	mux.Handle("POST /api/v1/conferences/{room}/recording", guard(http.HandlerFunc(n.serveStartRecording)))
	mux.Handle("DELETE /api/v1/conferences/{room}/recording", guard(http.HandlerFunc(n.serveStopRecording)))
	mux.Handle("GET /metrics", guard(n.metrics.handler()))
	if n.cfg.Pprof {
		mux.Handle("/debug/pprof/", guard(http.HandlerFunc(pprof.Index)))
		mux.Handle("/debug/pprof/cmdline", guard(http.HandlerFunc(pprof.Cmdline)))
		mux.Handle("/debug/pprof/profile", guard(http.HandlerFunc(pprof.Profile)))
		mux.Handle("/debug/pprof/symbol", guard(http.HandlerFunc(pprof.Symbol)))
		mux.Handle("/debug/pprof/trace", guard(http.HandlerFunc(pprof.Trace)))
	}
}

// guardAdmin asks for the API key when one is set, and refuses everything
// on a public listener without one (admin_addr is the other way).
func (n *Node) guardAdmin(h http.Handler) http.Handler {
	key := n.cfg.APIKey
	open := key == "" && (n.cfg.AdminAddr != "" || !n.cfg.Public())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if open {
			h.ServeHTTP(w, r)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if key == "" || !ok || subtle.ConstantTimeCompare([]byte(got), []byte(key)) != 1 {
			n.metrics.refused.WithLabelValues("api-key").Inc()
			w.Header().Set("WWW-Authenticate", `Bearer realm="switchyard"`)
			http.Error(w, "this endpoint needs Authorization: Bearer <http.api_key>", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// newHTTPErrorLog sends the HTTP servers' own complaints (scanners' TLS
// handshakes, malformed requests) to the rate-limited log at debug level.
func newHTTPErrorLog(l *slog.Logger) *log.Logger {
	return slog.NewLogLogger(l.Handler(), slog.LevelDebug)
}
