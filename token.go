package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/switchyard/switchyard/auth"
)

// tokenMain is `switchyard token`: it prints one join token signed with the
// node's auth.secret (config file, or SWITCHYARD_AUTH_SECRET).
func tokenMain(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("switchyard token", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: switchyard token --room ROOM [--name NAME] [--identity ID] [--ttl 1h] [--subscribe-only] [--moderator] [--config config.toml]")
		fs.PrintDefaults()
	}
	configPath := fs.String("config", "config.toml", "configuration file holding auth.secret; missing is fine for the default path")
	room := fs.String("room", "", "conference name, or a pattern with * (team-*, or * for any room)")
	name := fs.String("name", "", "display name")
	identity := fs.String("identity", "", "stable user id (the token's subject)")
	ttl := fs.Duration("ttl", time.Hour, "how long the token stays valid")
	subscribeOnly := fs.Bool("subscribe-only", false, "grant subscribe only, not publish")
	moderator := fs.Bool("moderator", false, "grant moderator as well")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "switchyard token: %v\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "switchyard token: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *room == "" {
		fmt.Fprintln(stderr, "switchyard token: --room is required")
		return 2
	}
	secret, err := authSecret(*configPath, fs.Changed("config"))
	if err != nil {
		fmt.Fprintf(stderr, "switchyard token: %v\n", err)
		return 2
	}
	c := auth.Claims{
		Room:     *room,
		Name:     *name,
		Identity: *identity,
		Grants:   auth.Grants{Publish: !*subscribeOnly, Subscribe: true, Moderator: *moderator},
	}
	tok, err := auth.Issue(secret, c, *ttl, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "switchyard token: %v\n", err)
		return 2
	}
	fmt.Fprintln(stdout, tok)
	return 0
}

// authSecret reads auth.secret the way the node reads its configuration: the
// environment (SWITCHYARD_AUTH_SECRET) over the config file. A missing file is
// fine only at the default path.
func authSecret(configPath string, explicit bool) ([]byte, error) {
	v := viper.New()
	v.SetDefault("auth.secret", "")
	v.SetEnvPrefix("SWITCHYARD")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	v.SetConfigFile(configPath)
	v.SetConfigType("toml")
	if err := v.ReadInConfig(); err != nil {
		var notFound *iofs.PathError
		if !(errors.As(err, &notFound) && !explicit) {
			return nil, fmt.Errorf("config %s: %w", configPath, err)
		}
	}
	secret := []byte(v.GetString("auth.secret"))
	if len(secret) == 0 {
		return nil, fmt.Errorf("auth.secret is not set (config file [auth] secret, or SWITCHYARD_AUTH_SECRET); it needs at least %d bytes", auth.MinSecretLen)
	}
	if err := auth.CheckSecret(secret); err != nil {
		return nil, fmt.Errorf("auth.secret: %w", err)
	}
	return secret, nil
}
