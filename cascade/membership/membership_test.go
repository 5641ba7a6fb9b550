package membership

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

var clusterSecret = []byte("switchyard test cluster secret!!")

type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) record(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) find(kind EventKind, name string) (Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.Kind == kind && e.Member.Name == name {
			return e, true
		}
	}
	return Event{}, false
}

func fastDetection(c *Config) {
	c.ProbeInterval = 200 * time.Millisecond
	c.ProbeTimeout = 100 * time.Millisecond
}

func start(t *testing.T, name, region string, secret []byte, join []string, tune func(*Config)) (*Membership, *recorder) {
	t.Helper()
	rec := &recorder{}
	cfg := Config{
		Name:     name,
		Secret:   secret,
		BindAddr: "127.0.0.1",
		Meta: Meta{
			Region:    region,
			RelayAddr: netip.MustParseAddrPort("127.0.0.1:4096"),
			SignalURL: "ws://127.0.0.1/" + name,
		},
		Join:           join,
		RejoinInterval: 200 * time.Millisecond,
		Logger:         slog.New(slog.DiscardHandler),
		OnChange:       rec.record,
	}
	if tune != nil {
		tune(&cfg)
	}
	m, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	return m, rec
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func names(ms []Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func member(m *Membership, name string) (Member, bool) {
	for _, mb := range m.Members() {
		if mb.Name == name {
			return mb, true
		}
	}
	return Member{}, false
}

// cluster starts us, eu and ap on loopback, eu and ap joining us.
func cluster(t *testing.T, tune func(*Config)) (ms []*Membership, recs []*recorder) {
	us, rus := start(t, "us-1", "us", clusterSecret, nil, tune)
	join := []string{us.Addr().String()}
	eu, reu := start(t, "eu-1", "eu", clusterSecret, join, tune)
	ap, rap := start(t, "ap-1", "ap", clusterSecret, join, tune)
	ms, recs = []*Membership{us, eu, ap}, []*recorder{rus, reu, rap}
	want := []string{"ap-1", "eu-1", "us-1"}
	waitFor(t, "three members everywhere", func() bool {
		for _, m := range ms {
			if !slices.Equal(names(m.Members()), want) {
				return false
			}
		}
		return true
	})
	return ms, recs
}

func TestMembersSeeEachOtherAndLoad(t *testing.T) {
	ms, recs := cluster(t, fastDetection)
	us, eu, ap := ms[0], ms[1], ms[2]

	for _, m := range ms {
		for _, other := range ms {
			mb, _ := member(m, other.Local().Name)
			want := other.Local()
			if mb.Meta != want.Meta || mb.Addr != want.Addr {
				t.Errorf("%s sees %+v, want %+v", m.Local().Name, mb, want)
			}
		}
	}
	if _, ok := recs[0].find(Joined, "ap-1"); !ok {
		t.Error("us-1 had no join event for ap-1")
	}

	load := Load{Participants: 12, Conferences: 2, BitrateBps: 9_500_000, CPU: 0.37}
	eu.SetLoad(load)
	for _, m := range []*Membership{us, ap} {
		waitFor(t, "load update", func() bool {
			mb, _ := member(m, "eu-1")
			return mb.Meta.Load == load
		})
	}
	waitFor(t, "update event", func() bool {
		e, ok := recs[2].find(Updated, "eu-1")
		return ok && e.Member.Meta.Load == load
	})
	ap.SetDraining(true)
	waitFor(t, "draining", func() bool {
		mb, _ := member(us, "ap-1")
		return mb.Meta.Load.Draining
	})
}

func TestDeadMemberNoticed(t *testing.T) {
	tests := []struct {
		name  string
		tune  func(*Config)
		bound time.Duration // 0: only measured and logged
	}{
		// Tuned five times faster than the 5 s so the bound holds
		// with room to spare on a loaded machine.
		{"fast", func(c *Config) { fastDetection(c) }, 5 * time.Second},
		{"defaults", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, recs := cluster(t, tt.tune)
			stopped := time.Now()
			if err := ms[2].Shutdown(); err != nil {
				t.Fatal(err)
			}
			for i, m := range ms[:2] {
				waitFor(t, "failure of ap-1", func() bool {
					_, ok := recs[i].find(Failed, "ap-1")
					return ok
				})
				took := time.Since(stopped)
				t.Logf("%s noticed ap-1 dead after %v", m.Local().Name, took.Round(time.Millisecond))
				if tt.bound > 0 && took > tt.bound {
					t.Errorf("%s took %v", m.Local().Name, took)
				}
				if _, still := member(m, "ap-1"); still {
					t.Errorf("%s still lists ap-1", m.Local().Name)
				}
			}
		})
	}
}

func TestGracefulLeave(t *testing.T) {
	ms, recs := cluster(t, fastDetection)
	if err := ms[1].Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "leave event", func() bool {
		_, ok := recs[0].find(Left, "eu-1")
		return ok
	})
	if _, failed := recs[0].find(Failed, "eu-1"); failed {
		t.Error("graceful leave reported as failure")
	}
}

func TestWrongSecretCannotJoin(t *testing.T) {
	ms, _ := cluster(t, fastDetection)
	stranger, _ := start(t, "mallory", "us", []byte("not the cluster secret at all!!!"), nil, fastDetection)
	n, err := stranger.Join([]string{ms[0].Addr().String()})
	if err == nil || n != 0 {
		t.Fatalf("join with the wrong secret: %d contacted, err %v", n, err)
	}
	// The push/pull exchange of a join is synchronous: had it been accepted,
	// both sides would list each other now.
	if got := names(stranger.Members()); !slices.Equal(got, []string{"mallory"}) {
		t.Errorf("stranger sees %v", got)
	}
	for _, m := range ms {
		if _, ok := member(m, "mallory"); ok {
			t.Errorf("%s lists the stranger", m.Local().Name)
		}
	}
}

func TestStartValidates(t *testing.T) {
	long := Meta{SignalURL: fmt.Sprintf("https://%0600d", 0)}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no name", Config{Secret: clusterSecret}},
		{"short secret", Config{Name: "a", Secret: []byte("short")}},
		{"meta too large", Config{Name: "a", Secret: clusterSecret, Meta: long}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.BindAddr = "127.0.0.1"
			if m, err := Start(tt.cfg); err == nil {
				m.Shutdown()
				t.Fatal("started")
			}
		})
	}
}

func TestLogLevels(t *testing.T) {
	var mu sync.Mutex
	var got []string
	h := slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		got = append(got, string(p))
		mu.Unlock()
		return len(p), nil
	}), &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	l := newStdLogger(slog.New(h))
	l.Print("[WARN] memberlist: Was able to connect to x over TCP but UDP probes failed")
	l.Print("[DEBUG] memberlist: Stream connection from=127.0.0.1")
	l.Print("[ERR] memberlist: failed")
	l.Print("no prefix")
	want := []string{
		`level=WARN msg="memberlist: Was able to connect to x over TCP but UDP probes failed"`,
		`level=DEBUG msg="memberlist: Stream connection from=127.0.0.1"`,
		`level=ERROR msg="memberlist: failed"`,
		`level=INFO msg="no prefix"`,
	}
	for i := range want {
		if i >= len(got) || got[i] != want[i]+"\n" {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestSuspectBeforeDead: a node killed without leaving is reported suspect
// (Alive false, Suspect set) well before memberlist declares it dead, while
// a live node never is.
func TestSuspectBeforeDead(t *testing.T) {
	tests := []struct {
		name string
		tune func(*Config)
		// The probe timings in effect, for the bound on suspicion.
		interval, timeout time.Duration
		// Whether to require that live eu-1 is never suspected: a busy
		// machine running -race can hold up two 100 ms pings in a row.
		checkLive bool
	}{
		{"fast", fastDetection, 200 * time.Millisecond, 100 * time.Millisecond, false},
		{"defaults", nil, time.Second, 500 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, recs := cluster(t, tt.tune)
			us := ms[0]
			// Let a few probe rounds pass: nobody alive is suspected.
			time.Sleep(3 * tt.interval)
			for _, mb := range us.Members() {
				if tt.checkLive && (mb.Suspect || !us.Alive(mb.Name)) {
					t.Fatalf("us-1 suspects %s before anything failed", mb.Name)
				}
			}

			stopped := time.Now()
			if err := ms[2].Shutdown(); err != nil {
				t.Fatal(err)
			}
			var suspectAfter, deadAfter time.Duration
			waitFor(t, "ap-1 declared dead", func() bool {
				took := time.Since(stopped)
				if tt.checkLive && !us.Alive("eu-1") {
					t.Fatalf("live eu-1 reported not alive %v after ap-1 stopped", took)
				}
				if mb, listed := member(us, "ap-1"); suspectAfter == 0 && listed && mb.Suspect && !us.Alive("ap-1") {
					suspectAfter = took
				}
				if _, ok := recs[0].find(Failed, "ap-1"); ok {
					deadAfter = took
					return true
				}
				return false
			})
			t.Logf("us-1: ap-1 suspect after %v, dead after %v", suspectAfter.Round(time.Millisecond), deadAfter.Round(time.Millisecond))
			if suspectAfter == 0 {
				t.Fatal("ap-1 was declared dead without being suspected first")
			}
			// One probe interval until the next round, two unanswered pings,
			// and one interval of slack for a loaded machine.
			if bound := 2*tt.interval + 2*tt.timeout; suspectAfter > bound {
				t.Errorf("suspected after %v, want within %v", suspectAfter, bound)
			}
			if us.Alive("ap-1") {
				t.Error("dead ap-1 reported alive")
			}
		})
	}
}
