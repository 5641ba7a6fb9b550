// Package deploy holds the files a self-hoster installs and the tests that keep them true.
//
// config.toml is the example server configuration and switchyard.service the
// systemd unit that docs/deploy.md installs. The tests build the switchyard
// binary and check that the configuration validates through the node's own
// path (switchyard check-config), that the unit passes systemd-analyze, and
// that every configuration key, environment variable, subcommand, flag and
// port the guide names exists in main.go and in the files it shows.
package deploy
