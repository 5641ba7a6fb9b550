package rtxguard

import (
	"testing"
	"time"
)

const ms = int64(time.Millisecond)

func TestTrack(t *testing.T) {
	// Each step forwards seqs [from, to) 1 ms apart, or checks one seq and,
	// when allowed and resend is set, records it as resent.
	type step struct {
		forward  [2]int // [from, to), as ints so that wrap is written plainly
		at       int64  // ms, for forwards the time of the first
		check    int    // -1: none
		rtt      time.Duration
		resend   bool
		want     Reason
		describe string
	}
	fwd := func(from, to int, at int64) step { return step{forward: [2]int{from, to}, at: at, check: -1} }
	chk := func(seq int, at int64, rtt time.Duration, resend bool, want Reason, why string) step {
		return step{check: seq, at: at, rtt: rtt, resend: resend, want: want, describe: why}
	}
	tests := []struct {
		name  string
		cfg   TrackConfig
		steps []step
	}{
		{"nothing forwarded", TrackConfig{}, []step{
			chk(5, 0, 0, false, Unknown, "no packet sent yet"),
		}},
		{"recent loss answered once per rtt", TrackConfig{}, []step{
			fwd(100, 200, 0),
			chk(190, 100, 0, true, Allowed, "first NACK"),
			chk(190, 100, 0, false, Duplicate, "same seq twice in one NACK"),
			chk(190, 199, 0, false, Duplicate, "99 ms later, default rtt 100 ms"),
			chk(190, 200, 0, true, Allowed, "one default rtt later"),
			chk(190, 229, 30*time.Millisecond, false, Duplicate, "a 30 ms rtt: resent 29 ms ago"),
			chk(190, 230, 30*time.Millisecond, false, Allowed, "a 30 ms rtt: resent 30 ms ago"),
		}},
		{"rtt clamps", TrackConfig{}, []step{
			fwd(0, 10, 0),
			chk(5, 10, time.Millisecond, true, Allowed, "first"),
			chk(5, 29, time.Millisecond, false, Duplicate, "1 ms rtt clamped to 20 ms"),
			chk(5, 30, time.Millisecond, false, Allowed, "20 ms later"),
			chk(6, 10, time.Hour, true, Allowed, "first"),
			chk(6, 509, time.Hour, false, Duplicate, "1 h rtt clamped to 500 ms"),
			chk(6, 510, time.Hour, false, Allowed, "500 ms later"),
		}},
		{"ahead of newest and gaps", TrackConfig{}, []step{
			fwd(100, 110, 0),
			fwd(112, 120, 12),
			chk(120, 20, 0, false, Unknown, "never forwarded yet"),
			chk(111, 20, 0, false, Unknown, "a gap: the publisher lost it, not us"),
			chk(112, 20, 0, false, Allowed, "after the gap"),
		}},
		{"too far back in packets", TrackConfig{}, []step{
			fwd(0, 1000, 0),
			chk(999-255, 999, 0, false, Allowed, "255 behind"),
			chk(999-256, 999, 0, false, TooOld, "256 behind"),
			chk(999-511, 999, 0, false, TooOld, "a storm's last 512"),
		}},
		{"MaxBack smaller", TrackConfig{MaxBack: 64}, []step{
			fwd(0, 200, 0),
			chk(199-63, 199, 0, false, Allowed, "63 behind"),
			chk(199-64, 199, 0, false, TooOld, "64 behind"),
		}},
		{"MaxBack above the ring is the ring", TrackConfig{MaxBack: 5000}, []step{
			fwd(0, 1000, 0),
			chk(999-256, 999, 0, false, TooOld, "256 behind"),
		}},
		{"too old in time", TrackConfig{}, []step{
			fwd(0, 2, 0),
			chk(0, 1000, 0, false, Allowed, "1 s old"),
			chk(0, 1001, 0, false, TooOld, "1.001 s old"),
		}},
		{"MaxAge", TrackConfig{MaxAge: 300 * time.Millisecond}, []step{
			fwd(0, 2, 0),
			chk(1, 301, 0, false, Allowed, "300 ms old"),
			chk(1, 302, 0, false, TooOld, "301 ms old"),
		}},
		{"wrap", TrackConfig{}, []step{
			fwd(65530, 65546, 0), // up to 9 after the wrap
			chk(65535, 20, 0, false, Allowed, "before the wrap"),
			chk(3, 20, 0, true, Allowed, "after the wrap"),
			chk(3, 21, 0, false, Duplicate, "after the wrap, again"),
			chk(10, 20, 0, false, Unknown, "ahead"),
		}},
		{"a reordered packet keeps the newest", TrackConfig{}, []step{
			fwd(10, 20, 0),
			fwd(5, 6, 30), // late, forwarded behind the newest
			chk(5, 40, 0, false, Allowed, "late packet"),
			chk(20, 40, 0, false, Unknown, "newest is still 19"),
		}},
		{"a very late packet does not take a newer one's slot", TrackConfig{}, []step{
			fwd(300, 600, 0),
			fwd(300, 301, 400), // 299 behind: slot 300%256 belongs to 556
			chk(556, 400, 0, false, Allowed, "556 still remembered"),
			chk(300, 400, 0, false, TooOld, "300 beyond MaxBack"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTrack(tt.cfg)
			for i, s := range tt.steps {
				if s.check < 0 {
					for q := s.forward[0]; q < s.forward[1]; q++ {
						tr.Forwarded(uint16(q), (s.at+int64(q-s.forward[0]))*ms)
					}
					continue
				}
				seq := uint16(s.check)
				if got := tr.Check(seq, s.at*ms, s.rtt); got != s.want {
					t.Fatalf("step %d (%s): Check(%d) = %v, want %v", i, s.describe, seq, got, s.want)
				}
				if s.resend {
					tr.Resent(seq, s.at*ms)
				}
			}
		})
	}
}

func TestReasonString(t *testing.T) {
	seen := map[string]bool{}
	for r := Reason(0); r < NumReasons; r++ {
		s := r.String()
		if s == "invalid" || seen[s] {
			t.Errorf("Reason(%d).String() = %q", r, s)
		}
		seen[s] = true
	}
	if NumReasons.String() != "invalid" {
		t.Errorf("NumReasons has a name")
	}
}

func BenchmarkTrackForwarded(b *testing.B) {
	tr := NewTrack(TrackConfig{})
	b.ReportAllocs()
	var seq uint16
	var now int64
	for b.Loop() {
		seq++
		now += 4 * ms
		tr.Forwarded(seq, now)
	}
}

// BenchmarkTrackCheckStorm checks the last 512 sequence numbers as a NACK
// storm asks for them: most are refused as too old or duplicates.
func BenchmarkTrackCheckStorm(b *testing.B) {
	tr := NewTrack(TrackConfig{})
	for q := range 1000 {
		tr.Forwarded(uint16(q), int64(q)*4*ms)
	}
	now := 4000 * ms
	for q := 999 - 255; q < 1000; q++ {
		tr.Resent(uint16(q), now)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if tr.Check(uint16(999-i%512), now, 0) == Allowed {
			b.Fatal("allowed a duplicate")
		}
		i++
	}
}
