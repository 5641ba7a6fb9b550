package linkemu

import (
	"encoding/binary"
	"testing"
	"time"
)

func TestEmulatorDeliversInOrderAfterDelay(t *testing.T) {
	e := NewEmulator(1)
	defer e.Close()
	type got struct {
		seq uint32
		at  time.Time
	}
	ch := make(chan got, 200)
	const delay = 5 * time.Millisecond
	l, err := e.NewLink(Params{Delay: delay, Jitter: time.Millisecond}, func(b []byte) {
		ch <- got{binary.BigEndian.Uint32(b), time.Now()}
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 100 {
		if v := l.Send(datagram(uint32(i), 64)); v != Queued {
			t.Fatalf("send %d: %v", i, v)
		}
	}
	for i := range 100 {
		select {
		case g := <-ch:
			if g.seq != uint32(i) {
				t.Fatalf("datagram %d arrived in position %d", g.seq, i)
			}
			// Only a lower bound: arriving early is a bug, arriving late is
			// just a busy machine.
			if el := g.at.Sub(start); el < delay-time.Millisecond {
				t.Fatalf("datagram %d arrived after %v, before its delay", i, el)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of 100 datagrams arrived", i)
		}
	}
	if st := l.Stats(); st.Delivered != 100 {
		t.Errorf("stats = %+v", st)
	}
}

func TestEmulatorLinksAreIndependent(t *testing.T) {
	e := NewEmulator(3)
	defer e.Close()
	lossy := make(chan struct{}, 1000)
	clean := make(chan struct{}, 1000)
	a, _ := e.NewLink(Params{Loss: 1}, func([]byte) { lossy <- struct{}{} })
	b, _ := e.NewLink(Params{}, func([]byte) { clean <- struct{}{} })
	for range 50 {
		a.Send([]byte{1})
		b.Send([]byte{2})
	}
	for i := range 50 {
		select {
		case <-clean:
		case <-time.After(10 * time.Second):
			t.Fatalf("clean link delivered %d of 50", i)
		}
	}
	if st := a.Stats(); st.Lost != 50 || st.Delivered != 0 {
		t.Errorf("lossy link stats = %+v", st)
	}
	if len(lossy) != 0 {
		t.Errorf("lossy link delivered %d", len(lossy))
	}
}

func TestSchedulerLinkSendViaLinkIsRefused(t *testing.T) {
	s := NewScheduler(1)
	l, _ := s.NewLink(Params{}, func([]byte) {})
	if v := l.Send([]byte{1}); v != Closed {
		t.Errorf("Link.Send on a hand-driven link = %v, want Closed", v)
	}
}
