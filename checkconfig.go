package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/switchyard/switchyard/certs"
	"github.com/switchyard/switchyard/node"
)

// configMain is `switchyard config check|show`: the configuration read
// exactly as a node would read it (config.go), without starting one.
func configMain(_ context.Context, args []string, stdout, stderr io.Writer) int {
	usage := "usage: switchyard config check|show [--config FILE] [node flags]\n" +
		"  check  validate the configuration without opening a socket (status 2: invalid)\n" +
		"  show   print every key's effective value and where it came from (default, file, env, flag), secrets masked\n"
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "check":
		return checkConfig("config check", args[1:], stdout, stderr)
	case "show":
		return showConfig(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stderr, usage)
		return 0
	}
	fmt.Fprintf(stderr, "switchyard config: unknown command %q\n%s", args[0], usage)
	return 2
}

// checkConfigMain is `switchyard check-config`, the older spelling of
// `switchyard config check`, kept for scripts and unit files.
func checkConfigMain(_ context.Context, args []string, stdout, stderr io.Writer) int {
	return checkConfig("check-config", args, stdout, stderr)
}

// checkConfig reads the configuration exactly as a node would (file,
// SWITCHYARD_* variables, flags), validates it and prints what the node
// would run, without opening a socket. Status 0: valid; 2: not.
func checkConfig(name string, args []string, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "switchyard %s: %v\n", name, err)
		return 2
	}
	c, err := loadConfig(args, stderr)
	if err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return fail(err)
	}
	n, tls, err := validateConfig(c)
	if err != nil {
		return fail(err)
	}
	path := c.path
	if !c.found {
		path = "no config file (" + path + "), defaults"
	}
	fmt.Fprintf(stdout, "switchyard %s: %s: valid\n", name, path)
	for _, l := range configSummary(n.Config(), n.ID(), tls) {
		fmt.Fprintf(stdout, "  %-8s %s\n", l[0], l[1])
	}
	return 0
}

// validateConfig is every check the node makes before it listens: node.New
// (which opens nothing) and the certificates.
func validateConfig(c *loadedConfig) (n *node.Node, tls bool, err error) {
	cfg := nodeConfig(c)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err = node.New(cfg, quiet)
	if err != nil {
		return nil, false, err
	}
	tls = cfg.TLS.CertFile != "" || len(cfg.TLS.ACMEDomains) > 0
	if tls {
		tc := cfg.TLS
		tc.Logger = quiet
		if _, err := certs.New(tc); err != nil {
			return nil, false, fmt.Errorf("https: %w", err)
		}
	} else if cfg.RedirectAddr != "" {
		return nil, false, errors.New("http.redirect_addr needs HTTPS (http.tls_cert or http.acme_domains)")
	}
	return n, tls, nil
}

// showConfig is `switchyard config show`: one line per key, its effective
// value and where it came from; secrets are masked. A configuration that
// loads but does not validate is shown, then its problem (status 2).
func showConfig(args []string, stdout, stderr io.Writer) int {
	c, err := loadConfig(args, stderr)
	if err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "switchyard config show: %v\n", err)
		return 2
	}
	lines := map[string]string{}
	for key, val := range c.values {
		lines[key] = fmt.Sprintf("%s = %s\t# %s", key, shownValue(key, val), c.origins[key])
	}
	if _, set := c.values["auth.required"]; !set {
		cfg := nodeConfig(c)
		lines["auth.required"] = fmt.Sprintf("auth.required = %t\t# default: unset, so decided by http.addr (required off loopback)", cfg.AuthRequired())
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, key := range slices.Sorted(maps.Keys(lines)) {
		fmt.Fprintln(w, lines[key])
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "switchyard config show: %v\n", err)
		return 1
	}
	if _, _, err := validateConfig(c); err != nil {
		fmt.Fprintf(stderr, "switchyard config show: not valid: %v\n", err)
		return 2
	}
	return 0
}

// shownValue is a value as config show prints it: a secret that is set
// shows only that it is.
func shownValue(key string, v any) string {
	if s, ok := v.(string); ok && s != "" && slices.Contains(secretKeys, key) {
		return `"********"`
	}
	return valueText(v)
}

// configSummary is what a valid configuration will run, one line per part;
// it never shows a secret.
func configSummary(c node.Config, id string, tls bool) [][2]string {
	onOff := func(b bool, on, off string) string {
		if b {
			return on
		}
		return off
	}
	web := c.HTTPAddr + onOff(tls, " https", " http")
	switch {
	case len(c.TLS.ACMEDomains) > 0:
		web += " (ACME " + strings.Join(c.TLS.ACMEDomains, ", ") + ")"
	case c.TLS.CertFile != "":
		web += " (" + c.TLS.CertFile + ")"
	}
	if c.RedirectAddr != "" {
		web += ", redirect " + c.RedirectAddr
	}
	media := fmt.Sprintf("%s udp %d", c.MediaIP, c.MediaPort)
	if c.MediaTCPPort >= 0 {
		media += fmt.Sprintf(", tcp %d", cmp.Or(c.MediaTCPPort, c.MediaPort))
	}
	if c.PublicIP != "" {
		media += ", announced as " + c.PublicIP
	}
	api := "open on loopback"
	switch {
	case c.APIKey != "":
		api = "api key"
	case c.AdminAddr != "":
		api = "on " + c.AdminAddr
	case c.Public():
		api = "closed (no http.api_key or http.admin_addr)"
	}
	if c.AdminAddr != "" && c.APIKey != "" {
		api += " on " + c.AdminAddr
	}
	turn := "off"
	if c.TURN.Enabled() {
		var ls []string
		for _, a := range [][2]string{{"udp", c.TURN.UDPAddr}, {"tcp", c.TURN.TCPAddr}, {"tls", c.TURN.TLSAddr}} {
			if a[1] != "" {
				ls = append(ls, a[0]+" "+a[1])
			}
		}
		turn = strings.Join(ls, ", ") + "; clients use " + cmp.Or(c.TURN.Host, c.PublicIP, c.MediaIP)
	}
	cascade := "off"
	if c.Cascade.Enabled {
		cascade = fmt.Sprintf("relay %s, gossip %s, join %v", c.Cascade.RelayAddr, c.Cascade.GossipAddr, c.Cascade.Join)
		if c.Cascade.AdvertiseIP != "" {
			cascade += ", advertised as " + c.Cascade.AdvertiseIP
		}
		if c.Cascade.SignalURL != "" {
			cascade += ", clients sent to " + c.Cascade.SignalURL
		}
	}
	return [][2]string{
		{"node", id + " (region " + c.Region + ")"},
		{"web", web},
		{"joins", onOff(c.AuthRequired(), "token required", onOff(c.Public(), "open to anyone (auth.allow_anonymous)", "no token needed (loopback)"))},
		{"media", media},
		{"turn", turn},
		{"api", api},
		{"cascade", cascade},
	}
}
