package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want func(options) bool
	}{
		{"defaults", nil, func(o options) bool {
			return o.nodes == 3 && o.participants == 4 && o.conferences == 2 && o.duration == 0 && !o.headless && o.churn
		}},
		{"headless run", []string{"--headless", "--duration", "20s", "--nodes", "2"}, func(o options) bool {
			return o.headless && o.duration == 20*time.Second && o.nodes == 2
		}},
		{"six regions", []string{"--nodes=6", "--participants=2", "--conferences=1"}, func(o options) bool { return o.nodes == 6 }},
		{"any port", []string{"--port", "0"}, func(o options) bool { return o.port == 0 }},
		{"no churn", []string{"--churn=false"}, func(o options) bool { return !o.churn }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			o, err := parseFlags(tt.args, &stderr)
			if err != nil {
				t.Fatalf("parseFlags(%q): %v", tt.args, err)
			}
			if !tt.want(o) {
				t.Errorf("parseFlags(%q) = %+v", tt.args, o)
			}
		})
	}
}

// Bad input must be refused with status 2 and a message naming the problem,
// before anything starts.
func TestMainBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"zero nodes", []string{"--nodes", "0"}, "--nodes 0"},
		{"too many nodes", []string{"--nodes", "7"}, "--nodes 7"},
		{"one participant", []string{"--participants", "1"}, "at least 2"},
		{"no conferences", []string{"--conferences", "0"}, "--conferences 0"},
		{"negative duration", []string{"--duration", "-1s"}, "negative"},
		{"negative loss", []string{"--lossy-loss", "-0.1"}, "--lossy-loss"},
		{"loss above one", []string{"--lossy-loss", "1.5"}, "--lossy-loss"},
		{"zero rate", []string{"--lossy-rate", "0"}, "--lossy-rate"},
		{"port out of range", []string{"--port", "65535", "--nodes", "3"}, "--port"},
		{"too many participants", []string{"--participants", "30", "--conferences", "2"}, "at most"},
		{"unknown flag", []string{"--bogus"}, "unknown flag"},
		{"not a number", []string{"--nodes", "three"}, "invalid argument"},
		{"not a duration", []string{"--duration", "soon"}, "invalid argument"},
		{"stray argument", []string{"now"}, "unexpected argument"},
		{"bad log level", []string{"--log-level", "loud"}, "--log-level"},
		{"every zero", []string{"--every", "0s"}, "--every"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := Main(context.Background(), tt.args, &stdout, &stderr); got != 2 {
				t.Errorf("Main(%q) = %d, want 2; stderr:\n%s", tt.args, got, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("Main(%q) stderr does not mention %q:\n%s", tt.args, tt.want, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("Main(%q) wrote to stdout: %q", tt.args, stdout.String())
			}
		})
	}
}

func TestMainHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if got := Main(context.Background(), []string{"--help"}, &stdout, &stderr); got != 0 {
		t.Errorf("Main(--help) = %d, want 0", got)
	}
	if !strings.Contains(stderr.String(), "--participants") {
		t.Errorf("help does not list the flags:\n%s", stderr.String())
	}
}

// --help explains every label of the headless status line.
func TestHelpExplainsStatusLine(t *testing.T) {
	var help bytes.Buffer
	if _, err := parseFlags([]string{"--help"}, &help); err == nil {
		t.Fatal("--help parsed as a run")
	}
	s := healthy()
	s.Nodes[1].Failed = "connection refused"
	line := statusLine(s)
	for _, label := range []string{"t", "nodes", "participants", "relay", "speakers", "lossy"} {
		if !strings.Contains(" "+line, " "+label+" ") && !strings.Contains(" "+line, " "+label+"=") {
			t.Errorf("status line has no %q: %s", label, line)
		}
		if !strings.Contains(help.String(), "\n  "+label+" ") {
			t.Errorf("--help does not explain %q:\n%s", label, help.String())
		}
	}
	if !strings.Contains(help.String(), "FAILED") {
		t.Errorf("--help does not say how a failed node shows:\n%s", help.String())
	}
}
