package soak

import (
	"errors"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/viper"

	"github.com/switchyard/switchyard/node/snapshot"
)

// TestNodeConfig reads the generated file the way main.go does (viper,
// TOML), so that a key the node would not find shows here.
func TestNodeConfig(t *testing.T) {
	tests := []struct {
		spec nodeSpec
		join []string
	}{
		{nodeSpec{"us", "us"}, nil},
		{nodeSpec{"eu", "eu"}, []string{"127.0.0.1:7001"}},
		{nodeSpec{"ap", "ap"}, []string{"127.0.0.1:7001", "127.0.0.1:7002"}},
	}
	for _, tt := range tests {
		t.Run(tt.spec.id, func(t *testing.T) {
			text := nodeConfig(tt.spec, 8080, 10000, 4096, `s3cr"et`, tt.join)
			v := viper.New()
			v.SetConfigType("toml")
			if err := v.ReadConfig(strings.NewReader(text)); err != nil {
				t.Fatalf("%v\n%s", err, text)
			}
			for key, want := range map[string]any{
				"node.id": tt.spec.id, "node.region": tt.spec.region,
				"http.addr": "127.0.0.1:8080", "http.pprof": true,
				"media.ip": "127.0.0.1", "media.port": int64(10000), "log.level": "info",
				"cascade.enabled": true, "cascade.secret": `s3cr"et`,
				"cascade.relay_addr": "127.0.0.1:4096", "cascade.gossip_addr": "127.0.0.1:0",
				"cascade.drain_timeout": "2s",
			} {
				if got := v.Get(key); got != want {
					t.Errorf("%s = %v (%T), want %v", key, got, got, want)
				}
			}
			if got := v.GetStringSlice("cascade.join"); !reflect.DeepEqual(got, append([]string{}, tt.join...)) {
				t.Errorf("join %q, want %q", got, tt.join)
			}
			for _, k := range v.AllKeys() {
				if !strings.Contains(text, strings.SplitN(k, ".", 2)[1]) || strings.Count(k, ".") != 1 {
					t.Errorf("unexpected key %s", k)
				}
			}
		})
	}
}

func TestClusterReady(t *testing.T) {
	peer := func(id string, alive bool, rtt float64) snapshot.Peer {
		return snapshot.Peer{ID: id, Alive: alive, RTTMs: rtt}
	}
	full := func() []snapshot.Node {
		return []snapshot.Node{
			{ID: "us", Peers: []snapshot.Peer{peer("eu", true, 0.4), peer("ap", true, 0.5)}},
			{ID: "eu", Peers: []snapshot.Peer{peer("us", true, 0.4), peer("ap", true, 0.3)}},
			{ID: "ap", Peers: []snapshot.Peer{peer("us", true, 0.5), peer("eu", true, 0.3)}},
		}
	}
	tests := []struct {
		name   string
		change func([]snapshot.Node)
		ok     bool
		why    string
	}{
		{"all linked", func([]snapshot.Node) {}, true, ""},
		{"unknown peer", func(s []snapshot.Node) { s[2].Peers = s[2].Peers[:1] }, false, "ap does not know eu"},
		{"link down", func(s []snapshot.Node) { s[1].Peers[1].Alive = false }, false, "eu has no live relay link to ap"},
		{"no rtt yet", func(s []snapshot.Node) { s[0].Peers[0].RTTMs = 0 }, false, "us has no live relay link to eu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := full()
			tt.change(s)
			ok, why := clusterReady(s)
			if ok != tt.ok || !strings.Contains(why, tt.why) {
				t.Errorf("clusterReady = %v, %q; want %v, %q", ok, why, tt.ok, tt.why)
			}
		})
	}
}

func TestScanLog(t *testing.T) {
	log := `time=1 level=INFO msg="participant joined"
time=2 level=ERROR msg="join failed"
time=3 level=WARN msg="relay: dropped datagram"
panic: runtime error: index out of range [3] with length 3

goroutine 1 [running]:
fatal error: concurrent map writes
WARNING: DATA RACE
time=4 level=ERROR msg="again"
`
	panics, errs := scanLog(strings.NewReader(log))
	want := []string{"panic: runtime error: index out of range [3] with length 3", "fatal error: concurrent map writes", "WARNING: DATA RACE"}
	if !reflect.DeepEqual(panics, want) || errs != 2 {
		t.Errorf("scanLog = %q, %d; want %q, 2", panics, errs, want)
	}
	if p, e := scanLog(strings.NewReader("level=INFO msg=\"a panic: in a message is not one\"\n")); p != nil || e != 0 {
		t.Errorf("a quoted panic counted: %q %d", p, e)
	}
}

func TestExitText(t *testing.T) {
	if got := exitText(nil); got != "exit status 0" {
		t.Errorf("exitText(nil) = %q", got)
	}
	err := exec.Command("sh", "-c", "exit 3").Run()
	if got := exitText(err); got != "exit status 3" {
		t.Errorf("exitText(exit 3) = %q", got)
	}
	err = exec.Command("sh", "-c", "kill -KILL $$").Run()
	if got := exitText(err); got != "killed by signal 9 (killed)" {
		t.Errorf("exitText(SIGKILL) = %q", got)
	}
	if got := exitText(errors.New("wait: odd")); got != "wait: odd" {
		t.Errorf("exitText(other) = %q", got)
	}
}

func TestChildEnv(t *testing.T) {
	t.Setenv("SWITCHYARD_HTTP_API_KEY", "secret")
	t.Setenv("SOAK_TEST_KEEP", "1")
	env := strings.Join(childEnv(), "\n")
	if strings.Contains(env, "SWITCHYARD_") || !strings.Contains(env, "SOAK_TEST_KEEP=1") {
		t.Errorf("child environment:\n%s", env)
	}
}

func TestFreePorts(t *testing.T) {
	for range 5 {
		p, err := freeUDPPort(true)
		if err != nil || p <= 0 {
			t.Fatalf("freeUDPPort = %d, %v", p, err)
		}
	}
	if p, err := freeTCPPort(); err != nil || p <= 0 {
		t.Fatalf("freeTCPPort = %d, %v", p, err)
	}
}
