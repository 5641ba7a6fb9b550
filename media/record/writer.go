package record

import (
	"errors"
	"os"
	"time"
)

// run is the track's writer goroutine: every disk write happens here (and in
// ebml-go's goroutine, which it feeds).
func (t *Track) run() {
	defer close(t.finished)
	for {
		select {
		case s := <-t.queue:
			t.handle(s)
		case <-t.done:
			for {
				select {
				case s := <-t.queue:
					t.handle(s)
					continue
				default:
				}
				break
			}
			t.finish()
			return
		}
		if t.failed() {
			t.finish()
			return
		}
	}
}

// handle puts one queued packet through the jitter buffer, which emits it
// and the packets it was holding back when their turn comes.
func (t *Track) handle(s *slot) {
	if t.failed() {
		t.release(s)
		return
	}
	if !t.jb.push(s.seq, s.arrival, s, t.emit) {
		t.stats.late.Add(1)
		t.release(s)
	}
	t.lost.Store(t.jb.Lost())
}

func (t *Track) release(s *slot) {
	t.mu.Lock()
	t.pool.put(s)
	t.mu.Unlock()
}

// emitVideo reassembles VP8 frames from packets in sequence order.
func (t *Track) emitVideo(s *slot, gap bool) {
	defer t.release(s)
	if t.failed() {
		return
	}
	r := t.asm.push(s.buf, s.ts, s.marker, gap)
	if r.Malformed {
		t.stats.malformed.Add(1)
	}
	t.stats.framesDropped.Add(uint64(r.Dropped))
	if r.WantKey {
		t.requestKeyframe(s.layer, s.arrival)
	}
	if r.Frame != nil {
		t.holdFrame(r, s.arrival)
	}
}

// sameInstant is how close (in RTP time) a keyframe must follow the frame
// before it to be taken for the same picture: the new layer's keyframe right
// after a simulcast switch, whose capture time is the old layer's last frame's.
const sameInstant = 10 * time.Millisecond

// holdFrame writes the video frame held back, unless r is a keyframe of the
// same instant, which replaces it; then it holds r. Holding one frame back
// keeps two pictures of one instant out of the file.
func (t *Track) holdFrame(r asmResult, arrival int64) {
	h := &t.held
	if h.ok {
		same := r.Keyframe && int64(r.TS-h.ts)*int64(time.Second) < int64(sameInstant)*int64(t.clockRate)
		if same {
			t.stats.framesDropped.Add(1)
		} else {
			t.writeFrame(h.key, h.ts, h.arrival, h.buf, h.width, h.height)
		}
	}
	*h = heldFrame{ok: true, buf: append([]byte(nil), r.Frame...), key: r.Keyframe, ts: r.TS,
		arrival: arrival, width: r.Width, height: r.Height}
}

// heldFrame is a complete video frame not yet written.
type heldFrame struct {
	ok            bool
	buf           []byte
	key           bool
	ts            uint32
	arrival       int64
	width, height int
}

// emitAudio writes one Opus frame per packet, after any frames before it that
// were lost and that its RED redundancy carries.
func (t *Track) emitAudio(s *slot, _ bool) {
	defer t.release(s)
	if t.failed() {
		return
	}
	if t.audioOn {
		if int32(s.ts-t.audioTS) <= 0 {
			t.stats.late.Add(1) // a repeated timestamp: the file's time cannot go back
			return
		}
		for i := range s.nRed {
			b, ts := s.redundant(i)
			if int32(ts-t.audioTS) > 0 && int32(s.ts-ts) > 0 {
				t.writeFrame(true, ts, s.arrival, append([]byte(nil), b...), 0, 0)
				t.audioTS = ts
				t.stats.recovered.Add(1)
			}
		}
	}
	t.writeFrame(true, s.ts, s.arrival, append([]byte(nil), s.primary()...), 0, 0)
	t.audioTS, t.audioOn = s.ts, true
}

// writeFrame starts the file with its first frame, then adds each frame.
// The muxer keeps frame until it has written it.
func (t *Track) writeFrame(key bool, ts uint32, arrival int64, frame []byte, width, height int) {
	if t.failed() {
		return
	}
	if t.mux == nil {
		wall := t.baseWall.Add(time.Duration(arrival - t.baseArrival))
		entry := opusEntry(t.channels)
		if t.video {
			entry = vp8Entry(width, height)
		}
		m, err := openMuxer(t.sf, entry, wall)
		if err != nil {
			t.fail(err)
			return
		}
		t.mux = m
		st := Start{Wall: wall, RTPTimestamp: ts, ClockRate: t.clockRate}
		t.startMu.Lock()
		t.start = &st
		t.startMu.Unlock()
		if t.cfg.onStart != nil {
			t.cfg.onStart(st)
		}
	}
	ms, _ := t.tl.at(ts, arrival)
	if err := t.mux.write(key, ms, frame); err != nil {
		t.fail(err)
		return
	}
	t.lastMS.Store(ms)
	t.stats.frames.Add(1)
}

// finish writes what the jitter buffer still holds, finalises the file and
// reports the end.
func (t *Track) finish() {
	if !t.failed() {
		t.jb.flush(t.emit)
		t.lost.Store(t.jb.Lost())
		if t.video && t.asm.flush() {
			t.stats.framesDropped.Add(1) // its marker never came
		}
		if h := &t.held; h.ok {
			t.writeFrame(h.key, h.ts, h.arrival, h.buf, h.width, h.height)
			h.ok = false
		}
	}
	if t.mux != nil {
		if err := t.mux.close(); err != nil {
			t.fail(err)
		}
	} else {
		// Nothing was written: no frame, no file.
		if err := t.sf.Close(); err != nil {
			t.fail(err)
		}
		if err := os.Remove(t.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.log.Warn("record: removing an empty file", "path", t.path, "err", err)
		}
	}
	if t.cfg.onEnd != nil {
		t.cfg.onEnd(t.Stats(), t.Err())
	}
}

// fail stops the recording on its first error and reports it once.
func (t *Track) fail(err error) {
	t.errMu.Lock()
	first := t.err == nil
	if first {
		t.err = err
	}
	t.errMu.Unlock()
	t.stopped.Store(true)
	t.closing.Store(true)
	if !first {
		return
	}
	t.log.Warn("record: recording stopped", "path", t.path, "err", err)
	if t.cfg.OnError != nil {
		t.cfg.OnError(err)
	}
}

func (t *Track) failed() bool { return t.stopped.Load() }
