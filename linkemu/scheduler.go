package linkemu

import "time"

// Link is one impaired direction towards one peer. Its datagrams are
// delivered, in arrival-time order, to the output function given when the
// link was made.
type Link struct {
	sched *Scheduler
	em    *Emulator // nil when the scheduler is driven by hand
	out   func([]byte)

	// Guarded by the owner of sched (Emulator.mu, or the test driving it).
	shaper shaper
	closed bool

	counters
}

// Stats returns the link's counters; safe from any goroutine.
func (l *Link) Stats() Stats { return l.load() }

// Params returns the link's current impairment.
func (l *Link) Params() Params {
	l.lock()
	defer l.unlock()
	return l.shaper.p
}

// SetParams changes the impairment of datagrams sent from now on.
func (l *Link) SetParams(p Params) error {
	if err := p.Validate(); err != nil {
		return err
	}
	l.lock()
	l.shaper.p = p
	l.unlock()
	return nil
}

// Close discards the link's queued datagrams and refuses new ones.
func (l *Link) Close() {
	l.lock()
	l.closed = true
	l.unlock()
}

func (l *Link) lock() {
	if l.em != nil {
		l.em.mu.Lock()
	}
}

func (l *Link) unlock() {
	if l.em != nil {
		l.em.mu.Unlock()
	}
}

// Due is a datagram whose arrival time has come.
type Due struct {
	Link *Link
	Buf  []byte
}

// Scheduler holds every link's datagrams in flight in one timer heap. It is
// not safe for concurrent use: an Emulator serialises access to it, and tests
// drive it directly with synthetic times.
type Scheduler struct {
	seed  uint64
	links uint64
	order uint64 // breaks ties so equal arrival times keep send order
	heap  []item
	free  [][]byte
}

type item struct {
	at    time.Time
	order uint64
	link  *Link
	buf   []byte
}

// NewScheduler returns a scheduler whose links draw their randomness from
// seed, so a run can be repeated exactly.
func NewScheduler(seed uint64) *Scheduler { return &Scheduler{seed: seed} }

// NewLink adds a link whose datagrams go to out when they arrive.
func (s *Scheduler) NewLink(p Params, out func([]byte)) (*Link, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	s.links++
	return &Link{
		sched:  s,
		out:    out,
		shaper: newShaper(p, newRand(s.seed, s.links)),
	}, nil
}

// Send copies b into the link's queue as sent at now.
func (s *Scheduler) Send(now time.Time, l *Link, b []byte) Verdict {
	if l.closed {
		l.sent.Add(1)
		return Closed
	}
	at, v := l.shaper.admit(now, len(b))
	l.count(v)
	if v != Queued {
		return v
	}
	s.push(item{at: at, order: s.order, link: l, buf: append(s.buffer(len(b)), b...)})
	s.order++
	return Queued
}

// Next returns the earliest arrival time queued, if any.
func (s *Scheduler) Next() (time.Time, bool) {
	if len(s.heap) == 0 {
		return time.Time{}, false
	}
	return s.heap[0].at, true
}

// Len returns the number of datagrams in flight.
func (s *Scheduler) Len() int { return len(s.heap) }

// PopDue appends to dst every datagram whose arrival time is not after now,
// in arrival order. Datagrams of closed links are discarded. The caller
// delivers them and then hands the buffers back with Release.
func (s *Scheduler) PopDue(now time.Time, dst []Due) []Due {
	for len(s.heap) > 0 && !s.heap[0].at.After(now) {
		it := s.pop()
		if it.link.closed {
			s.Release(it.buf)
			continue
		}
		dst = append(dst, Due{Link: it.link, Buf: it.buf})
	}
	return dst
}

// Deliver passes every due datagram to its link's output; for tests and
// single-goroutine use.
func (s *Scheduler) Deliver(now time.Time) int {
	var n int
	for len(s.heap) > 0 && !s.heap[0].at.After(now) {
		it := s.pop()
		if !it.link.closed {
			it.link.delivered.Add(1)
			it.link.out(it.buf)
			n++
		}
		s.Release(it.buf)
	}
	return n
}

// Release returns a delivered datagram's buffer for reuse.
func (s *Scheduler) Release(b []byte) {
	// Bounded so a burst does not pin memory forever.
	if len(s.free) < 4096 && cap(b) <= 1<<16 {
		s.free = append(s.free, b[:0])
	}
}

func (s *Scheduler) buffer(n int) []byte {
	if k := len(s.free); k > 0 {
		b := s.free[k-1]
		s.free = s.free[:k-1]
		if cap(b) >= n {
			return b
		}
	}
	return make([]byte, 0, max(n, 2048))
}

func (a *item) less(b *item) bool {
	if a.at.Equal(b.at) {
		return a.order < b.order
	}
	return a.at.Before(b.at)
}

// A hand-written heap: container/heap would box every item in an interface.
func (s *Scheduler) push(it item) {
	s.heap = append(s.heap, it)
	i := len(s.heap) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !s.heap[i].less(&s.heap[parent]) {
			break
		}
		s.heap[i], s.heap[parent] = s.heap[parent], s.heap[i]
		i = parent
	}
}

func (s *Scheduler) pop() item {
	h := s.heap
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = item{}
	h = h[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h[l].less(&h[m]) {
			m = l
		}
		if r < len(h) && h[r].less(&h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	s.heap = h
	return top
}
