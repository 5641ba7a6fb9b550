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
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

// Chromium starts headless Chromium on url. It skips the test when chromium is
// not installed, unless SWITCHYARD_REQUIRE_BROWSERS=1.
func Chromium(t testing.TB, url string) *Browser {
	t.Helper()
	bin := lookBrowser(t, "chromium")
	profile := t.TempDir()
	args := append(append([]string{}, chromiumFlags...), "--user-data-dir="+profile, url)
	return start(t, "chromium", exec.Command(bin, args...))
}

// Firefox starts headless Firefox ESR on url with a fresh profile. It skips
// the test when firefox-esr is not installed, unless SWITCHYARD_REQUIRE_BROWSERS=1.
func Firefox(t testing.TB, url string) *Browser {
	t.Helper()
	bin := lookBrowser(t, "firefox-esr")
	profile := t.TempDir()
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(userJS()), 0o600); err != nil {
		t.Fatalf("browsertest: write firefox prefs: %v", err)
	}
	cmd := exec.Command(bin, "--headless", "--no-remote", "--profile", profile, url)
	cmd.Env = append(os.Environ(), "HOME="+profile, "MOZ_HEADLESS=1")
	return start(t, "firefox", cmd)
}

func userJS() string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(firefoxPrefs)) {
		v := firefoxPrefs[k]
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
	// Helper processes die with the group signal but may take a moment to be
	// reaped by init; wait (bounded) so the profile directory can be removed.
	for i := 0; i < 100; i++ {
		if err := syscall.Kill(-pgid, 0); err == syscall.ESRCH {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
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
