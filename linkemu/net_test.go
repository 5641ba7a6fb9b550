package linkemu

import (
	"errors"
	"net"
	"testing"
	"time"
)

func loopback() *net.UDPAddr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// pair returns an impaired socket and a plain peer socket on loopback.
func pair(t *testing.T, cfg NetConfig) (*Net, *conn, *net.UDPConn) {
	t.Helper()
	l, err := NewNet(cfg)
	if err != nil {
		t.Fatal(err)
	}
	uc, err := l.ListenUDP("udp4", loopback())
	if err != nil {
		t.Fatal(err)
	}
	peer, err := net.ListenUDP("udp4", loopback())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = uc.Close(); _ = peer.Close() })
	return l, uc.(*conn), peer
}

func TestNetDeliversBothWays(t *testing.T) {
	delay := 30 * time.Millisecond
	l, c, peer := pair(t, NetConfig{Up: Params{Delay: delay}, Down: Params{Delay: delay}})
	buf := make([]byte, 1500)

	start := time.Now()
	if _, err := c.WriteTo([]byte("up"), peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := peer.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("peer read: %v", err)
	}
	if string(buf[:n]) != "up" {
		t.Fatalf("peer got %q", buf[:n])
	}
	// Only the lower bound is safe to check on a busy machine.
	if el := time.Since(start); el < delay {
		t.Errorf("up packet arrived after %v, before the %v delay", el, delay)
	}

	start = time.Now()
	if _, err := peer.WriteToUDP([]byte("down"), from); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err = c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("impaired read: %v", err)
	}
	if string(buf[:n]) != "down" {
		t.Fatalf("impaired side got %q", buf[:n])
	}
	if el := time.Since(start); el < delay {
		t.Errorf("down packet arrived after %v, before the %v delay", el, delay)
	}
	st := l.Stats()
	if want := (Stats{Sent: 1, Delivered: 1}); st.Up != want || st.Down != want {
		t.Errorf("stats %+v, want one datagram each way", st)
	}
}

func TestNetLossIsCounted(t *testing.T) {
	l, c, peer := pair(t, NetConfig{Up: Params{Loss: 1}})
	for range 10 {
		if _, err := c.WriteTo([]byte("x"), peer.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	if st := l.Stats(); st.Up.Lost != 10 || st.Up.Delivered != 0 {
		t.Fatalf("stats %+v, want 10 lost and none delivered", st)
	}
	if err := l.SetUp(Params{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteTo([]byte("y"), peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 10)
	if n, _, err := peer.ReadFromUDP(buf); err != nil || string(buf[:n]) != "y" {
		t.Fatalf("after clearing loss: %q, %v", buf[:n], err)
	}
}

func TestNetReadDeadlineAndClose(t *testing.T) {
	_, c, _ := pair(t, NetConfig{})
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, _, err := c.ReadFrom(make([]byte, 10))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
	_ = c.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() {
		_, _, err := c.ReadFrom(make([]byte, 10))
		done <- err
	}()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read after close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("read still blocked 5 s after Close")
	}
	if _, err := c.WriteTo([]byte("x"), loopback()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

func TestNetRejectsBadSettings(t *testing.T) {
	if _, err := NewNet(NetConfig{Down: Params{Loss: 2}}); err == nil {
		t.Fatal("NewNet accepted loss 2")
	}
	l, err := NewNet(NetConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Set(Params{}, Params{Delay: -time.Second}); err == nil {
		t.Fatal("Set accepted a negative delay")
	}
}

func TestDelayLinePopsEarliestFirst(t *testing.T) {
	// With Params.Reorder a later datagram may be due before an earlier one.
	d := newDelayLine()
	now := time.Now()
	for _, ms := range []int{30, 10, 20, 10} {
		d.push(packet{buf: []byte{byte(ms)}, at: now.Add(time.Duration(ms) * time.Millisecond)})
	}
	var got []byte
	for range 4 {
		p, err := d.pop()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.buf[0])
	}
	if want := []byte{10, 10, 20, 30}; string(got) != string(want) {
		t.Fatalf("popped %v, want %v", got, want)
	}
}
