// Package browsertest drives real headless browsers (Debian's chromium and
// firefox-esr) against a test server and collects what their pages report.
package browsertest

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RequireEnv names the environment variable that turns a missing browser from
// a skip into a failure (CI sets it after installing the browsers).
const RequireEnv = "SWITCHYARD_REQUIRE_BROWSERS"

// How much of a browser's output to show when a test fails.
const logTail = 16 << 10

// chromiumFlags are the flags TESTING.md found necessary on loopback-only
// machines; --allow-loopback-in-peer-connection above all.
var chromiumFlags = []string{
	"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
	"--allow-loopback-in-peer-connection",
}

// firefoxPrefs give Firefox fake devices, loopback ICE and plain host
// candidates, and keep it from phoning home.
var firefoxPrefs = map[string]any{
	"media.navigator.streams.fake":                      true,
	"media.navigator.permission.disabled":               true,
	"media.peerconnection.ice.loopback":                 true,
	"media.peerconnection.ice.obfuscate_host_addresses": false,
	"media.autoplay.default":                            0,
	"app.update.enabled":                                false,
	"app.update.auto":                                   false,
	"toolkit.telemetry.enabled":                         false,
	"toolkit.telemetry.unified":                         false,
	"datareporting.policy.dataSubmissionEnabled":        false,
	"datareporting.healthreport.uploadEnabled":          false,
	"browser.safebrowsing.malware.enabled":              false,
	"browser.safebrowsing.phishing.enabled":             false,
	"browser.safebrowsing.downloads.enabled":            false,
	"browser.shell.checkDefaultBrowser":                 false,
	"browser.startup.homepage_override.mstone":          "ignore",
	"browser.aboutwelcome.enabled":                      false,
	"extensions.update.enabled":                         false,
	"network.captive-portal-service.enabled":            false,
	"network.connectivity-service.enabled":              false,
	"dom.push.connection.enabled":                       false,
	// Without a granted camera/microphone permission Firefox gathers only
	// "default route" addresses, never loopback, whatever ice.loopback says;
	// fake devices with prompts disabled do not count as granted. Found by trying.
	"permissions.default.camera":     1,
	"permissions.default.microphone": 1,
	// Page console output on stdout, so it lands in the captured log.
	"devtools.console.stdout.content": true,
}

// Browser is one running browser process (with its helper processes).
type Browser struct {
	Name    string
	LogPath string // stdout and stderr of the browser
	profile string // Chromium's profile, set when it serves DevTools
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

// Chromium starts headless Chromium on url. It skips the test when chromium is
// not installed, unless SWITCHYARD_REQUIRE_BROWSERS=1.
func Chromium(t testing.TB, url string) *Browser {
	t.Helper()
	return Options{}.Chromium(t, url)
}

// Firefox starts headless Firefox ESR on url with a fresh profile. It skips
// the test when firefox-esr is not installed, unless SWITCHYARD_REQUIRE_BROWSERS=1.
func Firefox(t testing.TB, url string) *Browser {
	t.Helper()
	return Options{}.Firefox(t, url)
}

func userJS(prefs map[string]any) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(prefs)) {
		v := prefs[k]
		switch v := v.(type) {
		case string:
			fmt.Fprintf(&b, "user_pref(%q, %q);\n", k, v)
		default:
			fmt.Fprintf(&b, "user_pref(%q, %v);\n", k, v)
		}
	}
	return b.String()
}

// lookBrowser finds bin on PATH or ends the test: a skip normally, a failure
// when the environment demands real browsers.
func lookBrowser(t testing.TB, bin string) string {
	t.Helper()
	path, err := exec.LookPath(bin)
	if err == nil {
		return path
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("browsertest: %s not found on PATH and %s=1: install it (apt-get install %s)", bin, RequireEnv, bin)
		return ""
	}
	t.Skipf("browsertest: %s not installed (apt-get install %s); set %s=1 to make this a failure", bin, bin, RequireEnv)
	return ""
}

func start(t testing.TB, name string, cmd *exec.Cmd) *Browser {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("browsertest: create %s log: %v", name, err)
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Own process group, so that cleanup reaches the renderer and content
	// processes too and none outlives the test or writes into a removed profile.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("browsertest: start %s: %v", name, err)
	}
	b := &Browser{Name: name, LogPath: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() {
		b.waitErr = cmd.Wait()
		logFile.Close()
		close(b.exited)
	}()
	t.Cleanup(func() {
		b.stop()
		if t.Failed() {
			t.Logf("browsertest: last output of %s (%s):\n%s", name, logPath, tail(logPath, logTail))
		}
	})
	return b
}

// Exited reports whether the browser process is gone, and how it ended.
func (b *Browser) Exited() (bool, error) {
	select {
	case <-b.exited:
		return true, b.waitErr
	default:
		return false, nil
	}
}

func (b *Browser) stop() {
	pgid := b.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-b.exited
	// Helper processes die with the group signal but may take a moment to
	// exit; wait (bounded) so the profile directory can be removed. Zombies
	// awaiting init's reaping hold no files, and here init reaps them only
	// every second or two, so they do not count.
	for i := 0; i < 100; i++ {
		if err := syscall.Kill(-pgid, 0); err == syscall.ESRCH || !groupRunning(pgid) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// groupRunning reports whether a process of group pgid is still running
// (not a zombie), from /proc; without /proc it assumes so.
func groupRunning(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		if state, group, ok := parseStat(string(stat)); ok && group == pgid && state != 'Z' {
			return true
		}
	}
	return false
}

// parseStat reads the state and process group from /proc/PID/stat:
// "pid (comm) state ppid pgrp ...", where comm may hold spaces and parentheses.
func parseStat(stat string) (state byte, pgrp int, ok bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, false
	}
	fields := strings.Fields(stat[i+1:])
	if len(fields) < 3 || len(fields[0]) != 1 {
		return 0, 0, false
	}
	pgrp, err := strconv.Atoi(fields[2])
	if err != nil {
		return 0, 0, false
	}
	return fields[0][0], pgrp, true
}

func tail(path string, n int64) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	if int64(len(data)) > n {
		data = append([]byte("…"), data[int64(len(data))-n:]...)
	}
	return string(data)
}
