package linkemu

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

type arrival struct {
	seq uint32
	at  time.Time
}

// recorder collects what a hand-driven scheduler delivers, stamping each
// datagram with the synthetic time the test is delivering at.
type recorder struct {
	now  time.Time
	got  []arrival
	sink func([]byte)
}

func newRecorder() *recorder {
	r := &recorder{}
	r.sink = func(b []byte) {
		r.got = append(r.got, arrival{seq: binary.BigEndian.Uint32(b), at: r.now})
	}
	return r
}

func datagram(seq uint32, size int) []byte {
	b := make([]byte, max(size, 4))
	binary.BigEndian.PutUint32(b, seq)
	return b
}

// runUntil delivers everything queued, stepping the clock to each arrival.
func (r *recorder) runUntil(s *Scheduler, end time.Time) {
	for {
		next, ok := s.Next()
		if !ok || next.After(end) {
			return
		}
		r.now = next
		s.Deliver(next)
	}
}

func TestFixedDelayKeepsOrderAndTime(t *testing.T) {
	s := NewScheduler(1)
	r := newRecorder()
	l, err := s.NewLink(Params{Delay: 30 * time.Millisecond}, r.sink)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if v := s.Send(t0.Add(time.Duration(i)*time.Millisecond), l, datagram(uint32(i), 100)); v != Queued {
			t.Fatalf("send %d: verdict %v", i, v)
		}
	}
	if n := s.Deliver(t0.Add(30*time.Millisecond - 1)); n != 0 {
		t.Fatalf("delivered %d datagrams before their delay", n)
	}
	r.runUntil(s, t0.Add(time.Second))
	if len(r.got) != 5 {
		t.Fatalf("got %d datagrams, want 5", len(r.got))
	}
	for i, a := range r.got {
		want := t0.Add(time.Duration(i)*time.Millisecond + 30*time.Millisecond)
		if a.seq != uint32(i) || !a.at.Equal(want) {
			t.Errorf("arrival %d = seq %d at %v, want seq %d at %v", i, a.seq, a.at.Sub(t0), i, want.Sub(t0))
		}
	}
	if st := l.Stats(); st.Sent != 5 || st.Delivered != 5 || st.Lost != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestSendCopiesTheDatagram(t *testing.T) {
	s := NewScheduler(1)
	r := newRecorder()
	var payload []byte
	r.sink = func(b []byte) { payload = bytes.Clone(b) }
	l, _ := s.NewLink(Params{Delay: time.Millisecond}, r.sink)
	b := []byte("original")
	s.Send(t0, l, b)
	copy(b, "XXXXXXXX")
	s.Deliver(t0.Add(time.Millisecond))
	if string(payload) != "original" {
		t.Fatalf("delivered %q: the link kept the caller's buffer", payload)
	}
}

func lossPattern(seed uint64, n int, loss float64) (lost []int) {
	s := NewScheduler(seed)
	l, _ := s.NewLink(Params{Loss: loss}, func([]byte) {})
	for i := range n {
		if s.Send(t0, l, datagram(uint32(i), 4)) == Lost {
			lost = append(lost, i)
		}
	}
	return lost
}

func TestLossIsSeededAndNearItsRate(t *testing.T) {
	const n = 20000
	for _, loss := range []float64{0, 0.01, 0.1, 0.5, 1} {
		a := lossPattern(42, n, loss)
		b := lossPattern(42, n, loss)
		if len(a) != len(b) {
			t.Fatalf("loss %v: same seed lost %d then %d", loss, len(a), len(b))
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("loss %v: same seed, different pattern at %d", loss, i)
			}
		}
		got := float64(len(a)) / n
		// Binomial standard deviation is at most 0.0036 at n=20000; 0.02 is
		// over five of them.
		if got < loss-0.02 || got > loss+0.02 {
			t.Errorf("loss %v: measured %v", loss, got)
		}
	}
	if a, b := lossPattern(1, n, 0.3), lossPattern(2, n, 0.3); slices.Equal(a, b) {
		t.Error("different seeds gave the same loss pattern")
	}
}

func TestJitter(t *testing.T) {
	const (
		delay  = 50 * time.Millisecond
		jitter = 20 * time.Millisecond
		n      = 2000
	)
	for _, reorder := range []bool{false, true} {
		s := NewScheduler(7)
		r := newRecorder()
		l, _ := s.NewLink(Params{Delay: delay, Jitter: jitter, Reorder: reorder}, r.sink)
		sentAt := make([]time.Time, n)
		for i := range n {
			sentAt[i] = t0.Add(time.Duration(i) * time.Millisecond)
			s.Send(sentAt[i], l, datagram(uint32(i), 4))
		}
		r.runUntil(s, t0.Add(time.Hour))
		if len(r.got) != n {
			t.Fatalf("reorder=%v: got %d, want %d", reorder, len(r.got), n)
		}
		inversions := 0
		spread := map[time.Duration]bool{}
		for i, a := range r.got {
			d := a.at.Sub(sentAt[a.seq])
			if d < delay-jitter || d > delay+jitter {
				t.Fatalf("reorder=%v: datagram %d delayed %v, outside %v±%v", reorder, a.seq, d, delay, jitter)
			}
			spread[d.Round(time.Millisecond)] = true
			if i > 0 && a.seq < r.got[i-1].seq {
				inversions++
			}
		}
		if len(spread) < 10 {
			t.Errorf("reorder=%v: only %d distinct delays, jitter not applied", reorder, len(spread))
		}
		if !reorder && inversions != 0 {
			t.Errorf("ordered link reordered %d datagrams", inversions)
		}
		if reorder && inversions == 0 {
			t.Error("jitter of 20 ms at 1 ms spacing never reordered")
		}
	}
}

func TestBandwidthCapQueuesAndOverflows(t *testing.T) {
	s := NewScheduler(1)
	r := newRecorder()
	// 1250 bytes at 1 Mbit/s take 10 ms each; the queue holds three of them,
	// counting the one in transmission.
	l, _ := s.NewLink(Params{Delay: 5 * time.Millisecond, RateBitsPerSec: 1e6, QueueBytes: 3 * 1250}, r.sink)
	var verdicts []Verdict
	for i := range 6 {
		verdicts = append(verdicts, s.Send(t0, l, datagram(uint32(i), 1250)))
	}
	want := []Verdict{Queued, Queued, Queued, Overflow, Overflow, Overflow}
	for i := range want {
		if verdicts[i] != want[i] {
			t.Fatalf("verdicts = %v, want %v", verdicts, want)
		}
	}
	r.runUntil(s, t0.Add(time.Second))
	for i, a := range r.got {
		wantAt := t0.Add(time.Duration(i+1)*10*time.Millisecond + 5*time.Millisecond)
		if !a.at.Equal(wantAt) {
			t.Errorf("datagram %d arrived at %v, want %v", a.seq, a.at.Sub(t0), wantAt.Sub(t0))
		}
	}
	if st := l.Stats(); st.Overflow != 3 || st.Delivered != 3 {
		t.Errorf("stats = %+v", st)
	}
	// Once the queue drains the link accepts again.
	if v := s.Send(t0.Add(time.Second), l, datagram(9, 1250)); v != Queued {
		t.Errorf("send after drain: %v", v)
	}
}

func TestLinksInterleaveInArrivalOrder(t *testing.T) {
	s := NewScheduler(1)
	var order []string
	slow, _ := s.NewLink(Params{Delay: 100 * time.Millisecond}, func(b []byte) { order = append(order, "slow:"+string(b)) })
	fast, _ := s.NewLink(Params{Delay: 10 * time.Millisecond}, func(b []byte) { order = append(order, "fast:"+string(b)) })
	s.Send(t0, slow, []byte("a"))
	s.Send(t0, fast, []byte("b"))
	s.Send(t0.Add(50*time.Millisecond), fast, []byte("c"))
	s.Deliver(t0.Add(time.Second))
	want := []string{"fast:b", "fast:c", "slow:a"}
	if len(order) != len(want) {
		t.Fatalf("order = %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order = %v, want %v", order, want)
		}
	}
}

func TestClosedLinkDiscards(t *testing.T) {
	s := NewScheduler(1)
	r := newRecorder()
	l, _ := s.NewLink(Params{Delay: time.Millisecond}, r.sink)
	s.Send(t0, l, datagram(1, 4))
	l.Close()
	if v := s.Send(t0, l, datagram(2, 4)); v != Closed {
		t.Errorf("send on closed link: %v", v)
	}
	if n := s.Deliver(t0.Add(time.Second)); n != 0 || len(r.got) != 0 {
		t.Errorf("closed link delivered %d", n)
	}
	if s.Len() != 0 {
		t.Errorf("%d datagrams left in flight", s.Len())
	}
}

func BenchmarkSchedulerSendDeliver(b *testing.B) {
	s := NewScheduler(1)
	l, _ := s.NewLink(Params{Delay: 20 * time.Millisecond, Jitter: 2 * time.Millisecond, Loss: 0.01}, func([]byte) {})
	p := make([]byte, 1200)
	b.ReportAllocs()
	now := t0
	for i := 0; b.Loop(); i++ {
		now = now.Add(time.Millisecond)
		s.Send(now, l, p)
		s.Deliver(now)
	}
}
