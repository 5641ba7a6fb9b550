// Switchyard is a WebRTC conference node: a selective forwarding unit with a
// live terminal console. `switchyard` runs a node; see README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/switchyard/switchyard/console"
	"github.com/switchyard/switchyard/node"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the exit, so that usage errors return status 2.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "switchyard: unknown command %q (commands: none yet; run without one to start a node)\n", args[0])
		return 2
	}
	v, headless, err := loadConfig(args, stderr)
	if err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "switchyard: %v\n", err)
		return 2
	}
	cfg := nodeConfig(v)
	if err := runNode(cfg, v, headless, stderr); err != nil {
		fmt.Fprintf(stderr, "switchyard: %v\n", err)
		return 1
	}
	return 0
}

// loadConfig reads config.toml (if present), SWITCHYARD_* variables and flags,
// in rising precedence.
func loadConfig(args []string, stderr io.Writer) (*viper.Viper, bool, error) {
	v := viper.New()
	def := node.DefaultConfig()
	defaults := map[string]any{
		"node.id":                     def.ID,
		"node.region":                 def.Region,
		"http.addr":                   def.HTTPAddr,
		"media.ip":                    def.MediaIP,
		"media.port":                  def.MediaPort,
		"media.public_ip":             def.PublicIP,
		"media.allowed_networks":      def.AllowedNetworks,
		"media.initial_bitrate":       def.InitialBitrate,
		"media.max_bitrate":           def.MaxBitrate,
		"limits.max_rooms":            def.MaxRooms,
		"limits.max_participants":     def.MaxParticipants,
		"limits.max_room_size":        def.MaxRoomSize,
		"limits.message_rate":         def.MessageRate,
		"limits.message_burst":        def.MessageBurst,
		"limits.gone_after":           def.GoneAfter,
		"log.level":                   "info",
		"console.ssh.enabled":         false,
		"console.ssh.addr":            "127.0.0.1:2222",
		"console.ssh.host_key":        "switchyard_host_key",
		"console.ssh.authorized_keys": "authorized_keys",
	}
	for k, val := range defaults {
		v.SetDefault(k, val)
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
	}
	for _, f := range flags {
		fs.String(f.name, v.GetString(f.key), f.usage)
	}
	fs.Int("media-port", def.MediaPort, "the single UDP port for all WebRTC media (0 = any)")
	fs.Bool("ssh", false, "serve the console over SSH")
	if err := fs.Parse(args); err != nil {
		return nil, false, err
	}
	if fs.NArg() > 0 {
		return nil, false, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, f := range flags {
		_ = v.BindPFlag(f.key, fs.Lookup(f.name))
	}
	_ = v.BindPFlag("media.port", fs.Lookup("media-port"))
	_ = v.BindPFlag("console.ssh.enabled", fs.Lookup("ssh"))
	v.SetEnvPrefix("SWITCHYARD")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	v.SetConfigFile(*configPath)
	v.SetConfigType("toml")
	if err := v.ReadInConfig(); err != nil {
		var notFound *iofs.PathError
		if !(errors.As(err, &notFound) && !fs.Changed("config")) {
			return nil, false, fmt.Errorf("config %s: %w", *configPath, err)
		}
	}
	return v, *headless, nil
}

func nodeConfig(v *viper.Viper) node.Config {
	return node.Config{
		ID:              v.GetString("node.id"),
		Region:          v.GetString("node.region"),
		HTTPAddr:        v.GetString("http.addr"),
		MediaIP:         v.GetString("media.ip"),
		MediaPort:       v.GetInt("media.port"),
		PublicIP:        v.GetString("media.public_ip"),
		AllowedNetworks: v.GetStringSlice("media.allowed_networks"),
		InitialBitrate:  v.GetInt("media.initial_bitrate"),
		MaxBitrate:      v.GetInt("media.max_bitrate"),
		MaxRooms:        v.GetInt("limits.max_rooms"),
		MaxParticipants: v.GetInt("limits.max_participants"),
		MaxRoomSize:     v.GetInt("limits.max_room_size"),
		MessageRate:     v.GetFloat64("limits.message_rate"),
		MessageBurst:    v.GetInt("limits.message_burst"),
		GoneAfter:       v.GetDuration("limits.gone_after"),
	}
}

func logLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log.level %q: %w", s, err)
	}
	return l, nil
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

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	n, err := node.New(cfg, logger)
	if err != nil {
		return err
	}
	if err := n.Start(ctx); err != nil {
		return err
	}
	defer n.Close()
	if !useConsole {
		fmt.Fprintf(stderr, "switchyard: node %s (%s) serving %s/r/demo?name=you\n", n.ID(), cfg.Region, n.URL())
	}
	opts := console.Options{Refresh: 250 * time.Millisecond, Logs: logs, Viewer: "local", Logger: logger}
	if v.GetBool("console.ssh.enabled") {
		sshCfg := console.SSHConfig{
			Addr:               v.GetString("console.ssh.addr"),
			HostKeyPath:        v.GetString("console.ssh.host_key"),
			AuthorizedKeysPath: v.GetString("console.ssh.authorized_keys"),
		}
		go func() {
			if err := console.ServeSSH(ctx, sshCfg, n, n, opts); err != nil {
				logger.Error("ssh console stopped", "err", err)
			}
		}()
	}
	if useConsole {
		if err := console.Run(ctx, n, n, opts); err != nil {
			return fmt.Errorf("console: %w", err)
		}
		return nil
	}
	<-ctx.Done()
	return nil
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
