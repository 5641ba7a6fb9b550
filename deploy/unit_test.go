package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// unit is a systemd unit file: section -> key -> values in order.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, text string) unit {
	t.Helper()
	u := unit{}
	section := ""
	for i, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";"):
		case strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]"):
			section = l[1 : len(l)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not key=value in a section: %q", unitFile, i+1, l)
			}
			u[section][strings.TrimSpace(k)] = append(u[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return u
}

// last is the value systemd uses for a key set more than once.
func (u unit) last(section, key string) (string, bool) {
	vs := u[section][key]
	if len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

// systemdSeconds parses a time span as systemd does for TimeoutStopSec: a
// bare number is seconds.
func systemdSeconds(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	s = strings.ReplaceAll(strings.ReplaceAll(s, " ", ""), "min", "m")
	return time.ParseDuration(s)
}

// TestUnitKeys checks the unit the guide installs for what the guide says of
// it (parsed as INI, so it runs without systemd).
func TestUnitKeys(t *testing.T) {
	u := parseUnit(t, read(t, unitFile))
	is := func(want string) func(string) bool { return func(v string) bool { return v == want } }
	has := func(want string) func(string) bool {
		return func(v string) bool { return slices.Contains(strings.Fields(v), want) }
	}
	atLeast := func(n int) func(string) bool {
		return func(v string) bool { got, err := strconv.Atoi(v); return err == nil && got >= n }
	}
	tests := []struct {
		section, key string
		ok           func(string) bool
		want         string
	}{
		{"Unit", "After", has("network-online.target"), "network-online.target"},
		{"Service", "Type", is("simple"), "simple"},
		{"Service", "User", is("switchyard"), "switchyard"},
		{"Service", "EnvironmentFile", is("-/etc/switchyard/env"), "-/etc/switchyard/env (the guide's secrets; - while absent)"},
		{"Service", "WorkingDirectory", is("/var/lib/switchyard"), "/var/lib/switchyard"},
		{"Service", "ExecStart", is("/usr/local/bin/switchyard --headless --config /etc/switchyard/config.toml"), "the guide's paths, --headless"},
		{"Service", "ExecReload", is("/bin/kill -HUP $MAINPID"), "SIGHUP (certificate reload)"},
		{"Service", "KillSignal", is("SIGTERM"), "SIGTERM (drain)"},
		{"Service", "Restart", is("on-failure"), "on-failure"},
		{"Service", "LimitNOFILE", atLeast(4096), ">= 4096"},
		{"Service", "AmbientCapabilities", has("CAP_NET_BIND_SERVICE"), "CAP_NET_BIND_SERVICE (ports 80 and 443)"},
		{"Service", "CapabilityBoundingSet", is("CAP_NET_BIND_SERVICE"), "CAP_NET_BIND_SERVICE only"},
		{"Service", "NoNewPrivileges", is("yes"), "yes"},
		{"Service", "ProtectSystem", is("strict"), "strict"},
		{"Service", "ReadWritePaths", has("/var/lib/switchyard"), "/var/lib/switchyard"},
		{"Service", "PrivateTmp", is("yes"), "yes"},
		{"Service", "ProtectHome", is("yes"), "yes"},
		{"Install", "WantedBy", has("multi-user.target"), "multi-user.target"},
	}
	for _, tt := range tests {
		v, ok := u.last(tt.section, tt.key)
		if !ok || !tt.ok(v) {
			t.Errorf("[%s] %s = %q, want %s", tt.section, tt.key, v, tt.want)
		}
	}

	// systemd must not kill a node that is still draining.
	drain := parseTOML(t, read(t, configFile)).GetDuration("cascade.drain_timeout")
	if drain == 0 {
		drain = 60 * time.Second // node.DefaultConfig
	}
	v, _ := u.last("Service", "TimeoutStopSec")
	stop, err := systemdSeconds(v)
	if err != nil || stop < drain+10*time.Second {
		t.Errorf("[Service] TimeoutStopSec = %q: want at least cascade.drain_timeout (%s) + 10s, so the drain ends before systemd kills", v, drain)
	}
}

// TestUnitVerify runs systemd-analyze on the unit, with ExecStart pointing
// at the built binary: verify must be silent, and the security exposure
// must stay low (each hardening key removed raises it).
func TestUnitVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed (Debian package systemd); TestUnitKeys checks the unit as INI")
	}
	text := strings.ReplaceAll(read(t, unitFile), "/usr/local/bin/switchyard", binary(t))
	path := filepath.Join(t.TempDir(), "switchyard.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", unitFile, err, out)
	}
	// Exposure is shown 0.0-10.0; the threshold is in tenths. The unit
	// scores 1.9 ("OK").
	out, err = exec.Command("systemd-analyze", "security", "--offline=true", "--threshold=25", "--no-pager", path).CombinedOutput()
	if err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if strings.Contains(string(out), "unrecognized option") {
			t.Skipf("systemd-analyze security --offline is not supported here (systemd < 250): %s", lines[0])
		}
		t.Errorf("systemd-analyze security: exposure above 2.5 (%v): %s", err, lines[len(lines)-1])
	}
}

// TestGuideShowsUnit keeps the unit shown in the guide the same as the file.
func TestGuideShowsUnit(t *testing.T) {
	want := strings.TrimSpace(read(t, unitFile))
	for _, b := range readGuide(t).blocks {
		if b.info == "ini" {
			if strings.TrimSpace(b.text) != want {
				t.Errorf("%s:%d: the unit shown differs from deploy/switchyard.service; copy the file into the guide", guideFile, b.line)
			}
			return
		}
	}
	t.Errorf("%s: no ini block showing the unit", guideFile)
}
