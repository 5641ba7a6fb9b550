package main

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Configuration values: the kinds a default can have, how a value of the
// file or the text of a variable or flag is read as one, and what some keys
// must be beyond their kind.

// valueKind is the type a key's values must have: its default's.
type valueKind int

const (
	kindString valueKind = iota
	kindInt
	kindFloat
	kindBool
	kindDuration
	kindList // of strings
)

func kindOf(def any) (valueKind, error) {
	switch def.(type) {
	case string:
		return kindString, nil
	case int:
		return kindInt, nil
	case float64:
		return kindFloat, nil
	case bool:
		return kindBool, nil
	case time.Duration:
		return kindDuration, nil
	case []string:
		return kindList, nil
	}
	return 0, fmt.Errorf("default of type %T", def)
}

// String is the kind as --help shows it.
func (k valueKind) String() string {
	return [...]string{"string", "int", "float", "bool", "duration", "strings"}[k]
}

// fromTOML converts a value of the file to the kind.
func (k valueKind) fromTOML(raw any) (any, error) {
	if _, ok := raw.(map[string]any); ok {
		return nil, errors.New("is a table, not a value")
	}
	switch k {
	case kindString:
		if s, ok := raw.(string); ok {
			return s, nil
		}
		return nil, fmt.Errorf("%s is not a string (put it in quotes)", tomlText(raw))
	case kindInt:
		switch x := raw.(type) {
		case int64:
			return int(x), nil
		case string:
			if _, err := strconv.Atoi(x); err == nil {
				return nil, fmt.Errorf("%q is a string, not an integer (write it without quotes)", x)
			}
		}
		return nil, fmt.Errorf("%s is not an integer", tomlText(raw))
	case kindFloat:
		switch x := raw.(type) {
		case int64:
			return float64(x), nil
		case float64:
			if !math.IsNaN(x) && !math.IsInf(x, 0) {
				return x, nil
			}
		}
		return nil, fmt.Errorf("%s is not a number", tomlText(raw))
	case kindBool:
		if b, ok := raw.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("%s is not a boolean (true or false)", tomlText(raw))
	case kindDuration:
		switch x := raw.(type) {
		case string:
			return parseDuration(x)
		case int64, float64:
			if x == int64(0) || x == 0.0 {
				return time.Duration(0), nil // 0 is 0 in any unit
			}
			return nil, bareDuration(tomlText(raw))
		}
		return nil, fmt.Errorf("%s is not a duration (a string such as \"4s\")", tomlText(raw))
	case kindList:
		items, ok := raw.([]any)
		if !ok {
			if s, ok := raw.(string); ok {
				return nil, fmt.Errorf("%q is not a list: write [%q]", s, s)
			}
			return nil, fmt.Errorf("%s is not a list of strings", tomlText(raw))
		}
		list := make([]string, 0, len(items))
		for i, item := range items {
			s, ok := item.(string)
			if !ok {
				return nil, fmt.Errorf("%s: item %d, %s, is not a string", tomlText(raw), i+1, tomlText(item))
			}
			list = append(list, s)
		}
		return list, nil
	}
	return nil, fmt.Errorf("unknown kind %d", k)
}

// fromText converts the text of a variable or flag to the kind; a list is
// comma-separated, and a list flag may be given more than once.
func (k valueKind) fromText(texts ...string) (any, error) {
	if k == kindList {
		list := []string{}
		for _, t := range texts {
			for _, s := range strings.Split(t, ",") {
				if s = strings.TrimSpace(s); s != "" {
					list = append(list, s)
				}
			}
		}
		return list, nil
	}
	s := texts[len(texts)-1]
	switch k {
	case kindString:
		return s, nil
	case kindInt:
		if n, err := strconv.Atoi(s); err == nil {
			return n, nil
		}
		return nil, fmt.Errorf("%q is not an integer", s)
	case kindFloat:
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, nil
		}
		return nil, fmt.Errorf("%q is not a number", s)
	case kindBool:
		if b, err := strconv.ParseBool(s); err == nil {
			return b, nil
		}
		return nil, fmt.Errorf("%q is not a boolean (true or false)", s)
	case kindDuration:
		return parseDuration(s)
	}
	return nil, fmt.Errorf("unknown kind %d", k)
}

// parseDuration refuses a bare number: cast reads "4" as 4 ns, which is
// never what an operator meant.
func parseDuration(s string) (any, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f == 0 {
			return time.Duration(0), nil
		}
		return nil, bareDuration(strconv.Quote(s))
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a duration (such as \"4s\", \"500ms\", \"1m30s\")", s)
	}
	return d, nil
}

func bareDuration(n string) error {
	digits := strings.Trim(n, `"`)
	return fmt.Errorf("%s has no unit: write %q or %q (a bare number would be read as %s nanoseconds)", n, digits+"s", digits+"ms", digits)
}

// tomlText shows a value of the file as it was written.
func tomlText(raw any) string {
	switch x := raw.(type) {
	case string:
		return strconv.Quote(x)
	case []any:
		parts := make([]string, len(x))
		for i, item := range x {
			parts[i] = tomlText(item)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprint(raw)
}

// valueText shows a checked value the way the file would spell it.
func valueText(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case time.Duration:
		return strconv.Quote(x.String())
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []string:
		parts := make([]string, len(x))
		for i, s := range x {
			parts[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprint(v)
}

// valueChecks are what a key's value must be beyond its type. Ranges that
// depend on other keys are node.Config's to check.
var valueChecks = map[string]func(any) error{
	"media.port":     portCheck(0, ""),
	"media.tcp_port": portCheck(-1, " (-1 = off, 0 = as media.port)"),

	"http.addr":           addrCheck(false),
	"http.redirect_addr":  addrCheck(true),
	"http.admin_addr":     addrCheck(true),
	"turn.udp_addr":       addrCheck(true),
	"turn.tcp_addr":       addrCheck(true),
	"turn.tls_addr":       addrCheck(true),
	"console.ssh.addr":    addrCheck(false),
	"cascade.relay_addr":  addrCheck(false),
	"cascade.gossip_addr": addrCheck(false),
	"cascade.join":        eachCheck(addrCheck(false)),

	"media.ip":               ipCheck(false),
	"media.public_ip":        ipCheck(true),
	"cascade.advertise_ip":   ipCheck(true),
	"media.allowed_networks": eachCheck(prefixCheck),

	"cascade.signal_url":  urlCheck,
	"http.acme_directory": urlCheck,
	"log.level": func(v any) error {
		if _, err := logLevel(v.(string)); err != nil {
			return fmt.Errorf("%q is not a log level (debug, info, warn, error)", v)
		}
		return nil
	},
}

func portCheck(min int, note string) func(any) error {
	return func(v any) error {
		if p := v.(int); p < min || p > 65535 {
			return fmt.Errorf("%d is not a port: want %d..65535%s", p, min, note)
		}
		return nil
	}
}

// addrCheck wants host:port with a numeric port; optional allows "".
func addrCheck(optional bool) func(any) error {
	return func(v any) error {
		s := v.(string)
		if s == "" && optional {
			return nil
		}
		_, port, err := net.SplitHostPort(s)
		if err != nil {
			return fmt.Errorf("%q is not an address (host:port)", s)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			return fmt.Errorf("%q: port %q is not a port number (0..65535)", s, port)
		}
		return nil
	}
}

func ipCheck(optional bool) func(any) error {
	return func(v any) error {
		s := v.(string)
		if s == "" && optional {
			return nil
		}
		if _, err := netip.ParseAddr(s); err != nil {
			return fmt.Errorf("%q is not an IP address", s)
		}
		return nil
	}
}

func prefixCheck(v any) error {
	if _, err := netip.ParsePrefix(v.(string)); err != nil {
		return fmt.Errorf("%q is not a network (such as \"10.0.0.0/8\")", v)
	}
	return nil
}

func urlCheck(v any) error {
	s := v.(string)
	if s == "" {
		return nil
	}
	if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// URL", s)
	}
	return nil
}

func eachCheck(check func(any) error) func(any) error {
	return func(v any) error {
		for _, s := range v.([]string) {
			if err := check(s); err != nil {
				return err
			}
		}
		return nil
	}
}

// checkValue is every rule for one typed value of key: the key's own
// check, then no negative numbers (media.tcp_port's -1 aside).
func checkValue(key string, v any) error {
	if check := valueChecks[key]; check != nil {
		if err := check(v); err != nil {
			return err
		}
	}
	switch x := v.(type) {
	case int:
		if x < 0 && key != "media.tcp_port" {
			return fmt.Errorf("%d is negative", x)
		}
	case float64:
		if x < 0 {
			return fmt.Errorf("%g is negative", x)
		}
	case time.Duration:
		if x < 0 {
			return fmt.Errorf("%q is negative", x.String())
		}
	}
	return nil
}
