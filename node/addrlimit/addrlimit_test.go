package addrlimit

import (
	"net/netip"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func addr(s string) netip.Addr           { return netip.MustParseAddr(s) }

func TestConnections(t *testing.T) {
	l := New(Config{Conns: 2, Exempt: func(a netip.Addr) bool { return a.IsLoopback() }}, nil)
	a, b := addr("192.0.2.1"), addr("192.0.2.2")
	r1, err1 := l.Acquire(a)
	r2, err2 := l.Acquire(a)
	if err1 != nil || err2 != nil {
		t.Fatalf("first two connections refused: %v %v", err1, err2)
	}
	if _, err := l.Acquire(a); err != ErrTooMany {
		t.Fatalf("third connection from one address: err %v, want ErrTooMany", err)
	}
	if _, err := l.Acquire(b); err != nil {
		t.Fatalf("another address is limited by the first: %v", err)
	}
	if _, err := l.Acquire(addr("::ffff:192.0.2.1")); err != ErrTooMany {
		t.Fatalf("the IPv4-mapped form of a full address got in: %v", err)
	}
	r1()
	r1() // a second release is harmless
	if _, err := l.Acquire(a); err != nil {
		t.Fatalf("slot not given back: %v", err)
	}
	r2()
	for range 100 {
		if _, err := l.Acquire(addr("127.0.0.1")); err != nil {
			t.Fatalf("an exempt address was limited: %v", err)
		}
	}
}

func TestJoinRate(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := New(Config{JoinRate: 2, JoinBurst: 3}, c.now)
	a := addr("198.51.100.7")
	steps := []struct {
		after time.Duration
		want  bool
	}{
		{0, true}, {0, true}, {0, true}, // the burst
		{0, false},                      // spent
		{400 * time.Millisecond, false}, // 0.8 of a token
		{100 * time.Millisecond, true},  // 1.0
		{0, false},
		{10 * time.Second, true}, // refilled to the burst, not beyond
		{0, true}, {0, true}, {0, false},
	}
	for i, s := range steps {
		c.advance(s.after)
		if got := l.AllowJoin(a); got != s.want {
			t.Fatalf("step %d (+%v): AllowJoin = %v, want %v", i, s.after, got, s.want)
		}
	}
	if !l.AllowJoin(addr("198.51.100.8")) {
		t.Fatal("a second address shares the first one's bucket")
	}
}

func TestForgetsIdleAddresses(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := New(Config{Conns: 4, JoinRate: 1, JoinBurst: 2}, c.now)
	for i := range 1000 {
		a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		rel, err := l.Acquire(a)
		if err != nil {
			t.Fatal(err)
		}
		l.AllowJoin(a)
		rel()
	}
	if n := l.Tracked(); n != 1000 {
		t.Fatalf("tracking %d addresses right after their joins, want 1000", n)
	}
	c.advance(5 * time.Second)
	l.Sweep()
	if n := l.Tracked(); n != 0 {
		t.Fatalf("still tracking %d idle addresses after a sweep", n)
	}
}
