package linkemu

import (
	"sync"
	"time"
)

// Emulator runs one Scheduler in real time with one goroutine and one timer.
type Emulator struct {
	mu    sync.Mutex
	sched *Scheduler // guarded by mu

	wake chan struct{}
	done chan struct{}
	exit chan struct{}
	once sync.Once
}

// NewEmulator starts an emulator whose links draw randomness from seed.
func NewEmulator(seed uint64) *Emulator {
	e := &Emulator{
		sched: NewScheduler(seed),
		wake:  make(chan struct{}, 1),
		done:  make(chan struct{}),
		exit:  make(chan struct{}),
	}
	go e.run()
	return e
}

// NewLink adds a link whose datagrams are passed to out, on the emulator's
// goroutine, when they arrive. out must not keep the slice.
func (e *Emulator) NewLink(p Params, out func([]byte)) (*Link, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l, err := e.sched.NewLink(p, out)
	if err != nil {
		return nil, err
	}
	l.em = e
	return l, nil
}

// Send copies b onto the link; it never blocks on the link's delay. Links
// made by Scheduler.NewLink are driven with Scheduler.Send instead and
// report Closed here.
func (l *Link) Send(b []byte) Verdict {
	e := l.em
	if e == nil {
		return Closed
	}
	e.mu.Lock()
	prev, had := e.sched.Next()
	v := e.sched.Send(time.Now(), l, b)
	next, _ := e.sched.Next()
	e.mu.Unlock()
	if v == Queued && (!had || next.Before(prev)) {
		select {
		case e.wake <- struct{}{}:
		default:
		}
	}
	return v
}

// Close stops the emulator; datagrams still in flight are discarded.
func (e *Emulator) Close() {
	e.once.Do(func() { close(e.done) })
	<-e.exit
}

func (e *Emulator) run() {
	defer close(e.exit)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var due []Due
	for {
		e.mu.Lock()
		now := time.Now()
		due = e.sched.PopDue(now, due[:0])
		next, ok := e.sched.Next()
		e.mu.Unlock()

		// Delivery happens outside the lock so a slow socket write does not
		// hold up senders.
		for _, d := range due {
			d.Link.delivered.Add(1)
			d.Link.out(d.Buf)
		}
		if len(due) > 0 {
			e.mu.Lock()
			for i := range due {
				e.sched.Release(due[i].Buf)
				due[i] = Due{}
			}
			e.mu.Unlock()
		}

		var tc <-chan time.Time
		if ok {
			timer.Reset(next.Sub(now))
			tc = timer.C
		}
		select {
		case <-e.done:
			return
		case <-e.wake:
		case <-tc:
		}
	}
}
