// Switchyard is a WebRTC conference node: a selective forwarding unit with a
// live terminal console. `switchyard` runs a node; see README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/switchyard/switchyard/bench"
	"github.com/switchyard/switchyard/certs"
	"github.com/switchyard/switchyard/console"
	"github.com/switchyard/switchyard/demo"
	"github.com/switchyard/switchyard/loadgen"
	"github.com/switchyard/switchyard/node"
	"github.com/switchyard/switchyard/soak"
)

// commands are the subcommands; without one, switchyard runs a node.
var commands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) int{
	"demo":         demo.Main,
	"load":         loadgen.Main,
	"bench":        bench.Main,
	"soak":         soak.Main,
	"recording":    recordingMain,
	"token":        tokenMain,
	"config":       configMain,
	"check-config": checkConfigMain, // the older spelling of config check
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the exit, so that usage errors return status 2.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, ok := commands[args[0]]
		if !ok {
			fmt.Fprintf(stderr, "switchyard: unknown command %q (commands: demo, load, bench, soak, recording, token, config; run without one to start a node)\n", args[0])
			return 2
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return cmd(ctx, args[1:], stdout, stderr)
	}
	c, err := loadConfig(args, stderr)
	if err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "switchyard: %v\n", err)
		return 2
	}
	if err := runNode(nodeConfig(c), c.v, c.headless, stderr); err != nil {
		fmt.Fprintf(stderr, "switchyard: %v\n", err)
		return 1
	}
	return 0
}

// loadConfig reads config.toml (if present), SWITCHYARD_* variables and flags,
// in rising precedence, strictly (config.go): an unknown key or variable, or
// a value not of its default's type, is an error.
func loadConfig(args []string, stderr io.Writer) (*loadedConfig, error) {
	def := node.DefaultConfig()
	defaults := map[string]any{
		"node.id":                        def.ID,
		"node.region":                    def.Region,
		"http.addr":                      def.HTTPAddr,
		"http.pprof":                     false,
		"media.ip":                       def.MediaIP,
		"media.port":                     def.MediaPort,
		"media.public_ip":                def.PublicIP,
		"media.allowed_networks":         []string{},
		"media.tcp_port":                 def.MediaTCPPort,
		"http.tls_cert":                  "",
		"http.tls_key":                   "",
		"http.acme_domains":              []string{},
		"http.acme_email":                "",
		"http.acme_directory":            "",
		"http.acme_cache":                "",
		"http.redirect_addr":             "",
		"http.api_key":                   "",
		"http.admin_addr":                "",
		"auth.allow_anonymous":           false,
		"auth.secret":                    "",
		"auth.skew":                      def.Auth.Skew,
		"turn.udp_addr":                  "",
		"turn.tcp_addr":                  "",
		"turn.tls_addr":                  "",
		"turn.secret":                    "",
		"turn.realm":                     def.TURN.Realm,
		"turn.host":                      "",
		"turn.credential_ttl":            def.TURN.CredentialTTL,
		"turn.max_allocations":           def.TURN.MaxAllocations,
		"media.initial_bitrate":          def.InitialBitrate,
		"media.max_bitrate":              def.MaxBitrate,
		"media.batch_writes":             def.BatchWrites,
		"media.red":                      def.RED,
		"limits.max_rooms":               def.MaxRooms,
		"limits.max_participants":        def.MaxParticipants,
		"limits.max_shares":              def.MaxShares,
		"limits.max_room_size":           def.MaxRoomSize,
		"limits.message_rate":            def.MessageRate,
		"limits.message_burst":           def.MessageBurst,
		"limits.gone_after":              def.GoneAfter,
		"limits.join_timeout":            def.JoinTimeout,
		"limits.offer_timeout":           def.OfferTimeout,
		"limits.max_pending":             def.MaxPending,
		"limits.connections_per_address": def.ConnsPerAddress,
		"limits.join_rate":               def.JoinRate,
		"limits.join_burst":              def.JoinBurst,
		"limits.limit_loopback":          def.LimitLoopback,
		"http.idle_timeout":              def.HTTPIdleTimeout,
		"log.level":                      "info",
		"recording.dir":                  "recordings",
		"console.ssh.enabled":            false,
		"console.ssh.addr":               "127.0.0.1:2222",
		"console.ssh.host_key":           "switchyard_host_key",
		"console.ssh.authorized_keys":    "authorized_keys",
		"cascade.enabled":                false,
		"cascade.secret":                 "",
		"cascade.relay_addr":             def.Cascade.RelayAddr,
		"cascade.gossip_addr":            def.Cascade.GossipAddr,
		"cascade.advertise_ip":           "",
		"cascade.join":                   []string{},
		"cascade.signal_url":             "",
		"cascade.region_header":          def.Cascade.RegionHeader,
		"cascade.overload":               def.Cascade.Overload,
		"cascade.drain_timeout":          def.Cascade.DrainTimeout,
		"cascade.probe_interval":         time.Duration(0),
		"cascade.probe_timeout":          time.Duration(0),
	}
	// Keys without a default: auth.required unset means "decided by
	// http.addr" (required off loopback); the value gives the type.
	optional := map[string]any{"auth.required": false}
	s, err := newSchema(defaults, optional, map[string]string{})
	if err != nil {
		return nil, fmt.Errorf("configuration keys: %w", err)
	}
	fs := pflag.NewFlagSet("switchyard", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "config.toml", "configuration file (TOML); missing is fine for the default path")
	headless := fs.Bool("headless", false, "run without the terminal console; log to stderr")
	flags := []struct{ key, name, usage string }{
		{"node.id", "id", "node id"},
		{"node.region", "region", "region this node serves"},
		{"http.addr", "http", "HTTP address for the web client, signaling, API and metrics"},
		{"media.ip", "media-ip", "IP address of the WebRTC UDP port"},
		{"media.public_ip", "public-ip", "IP address announced to clients instead of media-ip"},
		{"log.level", "log-level", "debug, info, warn or error"},
		{"console.ssh.addr", "ssh-addr", "address of the SSH console"},
		{"cascade.relay_addr", "relay-addr", "UDP address of the relay between nodes"},
		{"cascade.gossip_addr", "gossip-addr", "address of the cluster membership (UDP and TCP)"},
		{"media.port", "media-port", "the single UDP port for all WebRTC media (0 = any)"},
		{"console.ssh.enabled", "ssh", "serve the console over SSH"},
		{"cascade.enabled", "cascade", "join a cascade of nodes (needs cascade.secret)"},
		{"cascade.join", "join", "gossip addresses of other nodes to join (host:port, repeatable)"},
	}
	for _, f := range flags {
		addFlag(fs, s, f.key, f.name, f.usage)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c, err := readConfig(s, *configPath, fs.Changed("config"), os.Environ(), fs)
	if err != nil {
		return nil, err
	}
	c.headless = *headless
	return c, nil
}

// nodeConfig is the node's configuration from checked values.
func nodeConfig(c *loadedConfig) node.Config {
	v := c.v
	return node.Config{
		ID:              v.GetString("node.id"),
		Region:          v.GetString("node.region"),
		HTTPAddr:        v.GetString("http.addr"),
		Pprof:           v.GetBool("http.pprof"),
		MediaIP:         v.GetString("media.ip"),
		MediaPort:       v.GetInt("media.port"),
		PublicIP:        v.GetString("media.public_ip"),
		AllowedNetworks: v.GetStringSlice("media.allowed_networks"),
		InitialBitrate:  v.GetInt("media.initial_bitrate"),
		MaxBitrate:      v.GetInt("media.max_bitrate"),
		BatchWrites:     v.GetBool("media.batch_writes"),
		RecordingDir:    v.GetString("recording.dir"),
		RED:             v.GetString("media.red"),
		MaxRooms:        v.GetInt("limits.max_rooms"),
		MaxParticipants: v.GetInt("limits.max_participants"),
		MaxRoomSize:     v.GetInt("limits.max_room_size"),
		MaxShares:       v.GetInt("limits.max_shares"),
		MessageRate:     v.GetFloat64("limits.message_rate"),
		MessageBurst:    v.GetInt("limits.message_burst"),
		GoneAfter:       v.GetDuration("limits.gone_after"),
		JoinTimeout:     v.GetDuration("limits.join_timeout"),
		OfferTimeout:    v.GetDuration("limits.offer_timeout"),
		MaxPending:      v.GetInt("limits.max_pending"),
		ConnsPerAddress: v.GetInt("limits.connections_per_address"),
		JoinRate:        v.GetFloat64("limits.join_rate"),
		JoinBurst:       v.GetInt("limits.join_burst"),
		LimitLoopback:   v.GetBool("limits.limit_loopback"),
		HTTPIdleTimeout: v.GetDuration("http.idle_timeout"),
		MediaTCPPort:    v.GetInt("media.tcp_port"),
		TLS: certs.Config{
			CertFile: v.GetString("http.tls_cert"), KeyFile: v.GetString("http.tls_key"),
			ACMEDomains: v.GetStringSlice("http.acme_domains"), ACMEEmail: v.GetString("http.acme_email"),
			ACMEDirectory: v.GetString("http.acme_directory"), CacheDir: acmeCache(v),
		},
		RedirectAddr: v.GetString("http.redirect_addr"),
		APIKey:       v.GetString("http.api_key"),
		AdminAddr:    v.GetString("http.admin_addr"),
		Auth: node.AuthConfig{
			Required:       authRequired(v),
			AllowAnonymous: v.GetBool("auth.allow_anonymous"),
			Secret:         v.GetString("auth.secret"),
			Skew:           v.GetDuration("auth.skew"),
		},
		TURN: node.TURNConfig{
			UDPAddr: v.GetString("turn.udp_addr"), TCPAddr: v.GetString("turn.tcp_addr"), TLSAddr: v.GetString("turn.tls_addr"),
			Secret: v.GetString("turn.secret"), Realm: v.GetString("turn.realm"), Host: v.GetString("turn.host"),
			CredentialTTL: v.GetDuration("turn.credential_ttl"), MaxAllocations: v.GetInt("turn.max_allocations"),
		},
		Cascade: node.CascadeConfig{
			Enabled:       v.GetBool("cascade.enabled"),
			Secret:        v.GetString("cascade.secret"),
			RelayAddr:     v.GetString("cascade.relay_addr"),
			GossipAddr:    v.GetString("cascade.gossip_addr"),
			AdvertiseIP:   v.GetString("cascade.advertise_ip"),
			Join:          v.GetStringSlice("cascade.join"),
			SignalURL:     v.GetString("cascade.signal_url"),
			RegionHeader:  v.GetString("cascade.region_header"),
			Overload:      v.GetFloat64("cascade.overload"),
			DrainTimeout:  v.GetDuration("cascade.drain_timeout"),
			ProbeInterval: v.GetDuration("cascade.probe_interval"),
			ProbeTimeout:  v.GetDuration("cascade.probe_timeout"),
			Links:         c.links,
		},
	}
}

// acmeCache is http.acme_cache, "acme-cache" when ACME is on and it is
// unset (certificates must outlive restarts, or Let's Encrypt's rate limits
// bite).
func acmeCache(v *viper.Viper) string {
	if dir := v.GetString("http.acme_cache"); dir != "" || len(v.GetStringSlice("http.acme_domains")) == 0 {
		return dir
	}
	return "acme-cache"
}

// authRequired is auth.required when set; unset, the node decides from its
// address (required off loopback).
func authRequired(v *viper.Viper) *bool {
	if !v.IsSet("auth.required") {
		return nil
	}
	b := v.GetBool("auth.required")
	return &b
}

func runNode(cfg node.Config, v *viper.Viper, headless bool, stderr io.Writer) error {
	level, err := logLevel(v.GetString("log.level"))
	if err != nil {
		return err
	}
	useConsole := !headless && isatty.IsTerminal(os.Stdout.Fd()) && isatty.IsTerminal(os.Stdin.Fd())
	stderrHandler := slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	var logs *console.LogBuffer
	var logger *slog.Logger
	if useConsole {
		// The console owns the terminal: records go to its Log view only.
		logs = console.NewLogBuffer(2000, nil)
		logger = slog.New(levelFilter{logs, level})
	} else {
		logs = console.NewLogBuffer(2000, stderrHandler)
		logger = slog.New(logs)
	}
	slog.SetDefault(logger)

	// SIGTERM drains (participants are moved to other nodes, then the node
	// exits); Ctrl-C stops at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	defer signal.Stop(term)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	n, err := node.New(cfg, logger)
	if err != nil {
		return err
	}
	if err := n.Start(ctx); err != nil {
		return err
	}
	defer n.Close()
	go func() {
		for {
			select {
			case <-hup:
				if err := n.ReloadCertificates(); err != nil {
					logger.Error("SIGHUP: certificates not reloaded", "err", err)
				} else {
					logger.Info("SIGHUP: certificates reloaded")
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		select {
		case <-term:
		case <-ctx.Done():
			return
		}
		logger.Info("SIGTERM: draining", "timeout", cfg.Cascade.DrainTimeout)
		dctx, cancel := context.WithTimeout(ctx, cfg.Cascade.DrainTimeout)
		defer cancel()
		if err := n.Drain(dctx); err != nil {
			logger.Warn("drain incomplete", "err", err)
		}
		stop()
	}()
	if !useConsole {
		fmt.Fprintf(stderr, "switchyard: node %s (%s) serving %s/r/demo?name=you\n", n.ID(), cfg.Region, n.URL())
	}
	opts := console.Options{Refresh: 250 * time.Millisecond, Logs: logs, Viewer: "local", Logger: logger}
	sshErr := make(chan error, 1)
	if v.GetBool("console.ssh.enabled") {
		sshCfg := console.SSHConfig{
			Addr:               v.GetString("console.ssh.addr"),
			HostKeyPath:        v.GetString("console.ssh.host_key"),
			AuthorizedKeysPath: v.GetString("console.ssh.authorized_keys"),
		}
		go func() {
			// The operator asked for the SSH console: a node that cannot
			// serve it (port taken, no authorized_keys) stops rather
			// than run on without it.
			if err := console.ServeSSH(ctx, sshCfg, n, n, opts); err != nil && ctx.Err() == nil {
				sshErr <- fmt.Errorf("ssh console (console.ssh.*): %w", err)
				stop()
			}
		}()
	}
	if useConsole {
		if err := console.Run(ctx, n, n, opts); err != nil {
			return fmt.Errorf("console: %w", err)
		}
	} else {
		<-ctx.Done()
	}
	select {
	case err := <-sshErr:
		return err
	default:
		return nil
	}
}

// levelFilter drops records below a level before they reach h.
type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}

func (f levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFilter{f.Handler.WithAttrs(a), f.min}
}

func (f levelFilter) WithGroup(g string) slog.Handler {
	return levelFilter{f.Handler.WithGroup(g), f.min}
}
