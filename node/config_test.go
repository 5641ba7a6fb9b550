package node

import (
	"strings"
	"testing"
)

func TestCascadeConfigValidate(t *testing.T) {
	var httpAddr string
	tests := []struct {
		name   string
		mutate func(*CascadeConfig)
		err    string
	}{
		{"off needs nothing", func(c *CascadeConfig) { c.Enabled = false; c.Secret = "" }, ""},
		{"loopback", func(c *CascadeConfig) {}, ""},
		{"short secret", func(c *CascadeConfig) { c.Secret = "short" }, "secret"},
		{"wildcard relay without advertise", func(c *CascadeConfig) { c.RelayAddr = "0.0.0.0:4096" }, "advertise_ip"},
		{"empty host without advertise", func(c *CascadeConfig) { c.RelayAddr = ":4096" }, "advertise_ip"},
		{"wildcard relay with advertise", func(c *CascadeConfig) { c.RelayAddr = ":4096"; c.AdvertiseIP = "10.0.0.2" }, ""},
		{"bad advertise", func(c *CascadeConfig) { c.AdvertiseIP = "nope" }, "not an IP"},
		{"overload out of range", func(c *CascadeConfig) { c.Overload = 1.5 }, "overload"},
		{"wildcard http without signal_url", func(c *CascadeConfig) { httpAddr = ":443" }, "signal_url"},
		{"wildcard http with signal_url", func(c *CascadeConfig) { httpAddr = "0.0.0.0:443"; c.SignalURL = "https://eu.example.org" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig().Cascade
			c.Enabled, c.Secret = true, "0123456789abcdef"
			httpAddr = "127.0.0.1:8080"
			tt.mutate(&c)
			err := c.validate(httpAddr)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("error %v, want one mentioning %q", err, tt.err)
			}
		})
	}
}
