package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/switchyard/switchyard/certs"
	"github.com/switchyard/switchyard/node"
)

// checkConfigMain is `switchyard check-config`: it reads the configuration
// exactly as a node would (file, SWITCHYARD_* variables, flags), validates
// it and prints what the node would run, without opening a socket. Status 0:
// valid; 2: not.
func checkConfigMain(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "switchyard check-config: %v\n", err)
		return 2
	}
	v, _, err := loadConfig(args, stderr)
	if err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return fail(err)
	}
	path := v.ConfigFileUsed()
	_, statErr := os.Stat(path)
	fromFile := statErr == nil
	if fromFile {
		if err := checkKnownKeys(path); err != nil {
			return fail(err)
		}
	}
	cfg, err := nodeConfig(v)
	if err != nil {
		return fail(err)
	}
	if _, err := logLevel(v.GetString("log.level")); err != nil {
		return fail(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := node.New(cfg, quiet) // validates; opens nothing
	if err != nil {
		return fail(err)
	}
	// What node.Start checks before it listens.
	tls := cfg.TLS.CertFile != "" || len(cfg.TLS.ACMEDomains) > 0
	if tls {
		tc := cfg.TLS
		tc.Logger = quiet
		if _, err := certs.New(tc); err != nil {
			return fail(fmt.Errorf("https: %w", err))
		}
	} else if cfg.RedirectAddr != "" {
		return fail(errors.New("http.redirect_addr needs HTTPS (http.tls_cert or http.acme_domains)"))
	}
	if !fromFile {
		path = "no config file (" + path + "), defaults"
	}
	fmt.Fprintf(stdout, "switchyard check-config: %s: valid\n", path)
	for _, l := range configSummary(n.Config(), n.ID(), tls) {
		fmt.Fprintf(stdout, "  %-8s %s\n", l[0], l[1])
	}
	return 0
}

// checkKnownKeys refuses keys the node would silently ignore: a misspelt
// key otherwise leaves its setting at the default without a word.
func checkKnownKeys(path string) error {
	known, _, err := loadConfig([]string{"--config", os.DevNull}, io.Discard)
	if err != nil {
		return fmt.Errorf("defaults: %w", err)
	}
	file := viper.New()
	file.SetConfigFile(path)
	file.SetConfigType("toml")
	if err := file.ReadInConfig(); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	keys := known.AllKeys()
	var unknown []string
	for _, k := range file.AllKeys() {
		switch {
		case slices.Contains(keys, k),
			k == "auth.required",                   // no default: unset means "decided by http.addr"
			strings.HasPrefix(k, "cascade.links."): // checked by cascadeLinks
			continue
		}
		unknown = append(unknown, k)
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("config %s: unknown keys %s (misspelt? the node would ignore them)", path, strings.Join(unknown, ", "))
	}
	return nil
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
