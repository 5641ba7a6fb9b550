package forward

import (
	"fmt"
	"testing"
)

const ms = int64(1e6) // arrival times in the tables are in milliseconds

// Packet constructors: v is a plain packet, k the first packet of a keyframe.
func v(layer int, seq uint16, ts uint32, arrivalMS int64) Packet {
	return Packet{Layer: layer, Seq: seq, Timestamp: ts, Arrival: arrivalMS * ms}
}

func k(layer int, seq uint16, ts uint32, arrivalMS int64) Packet {
	p := v(layer, seq, ts, arrivalMS)
	p.Keyframe = true
	return p
}

// vp8 adds a picture id of the given width and a TL0PICIDX.
func vp8(p Packet, pic uint16, bits int, tl0 uint8) Packet {
	p.HasPictureID, p.PictureID, p.PictureIDBits = true, pic, bits
	p.HasTL0, p.TL0PICIDX = true, tl0
	return p
}

type opKind int

const (
	opPacket opKind = iota
	opTarget
	opState
	opLocate
	opResync
)

type step struct {
	op opKind

	// opPacket
	p    Packet
	want Decision
	out  Out // Seq and Timestamp always; PictureID/TL0PICIDX when p has them

	// opTarget
	target int

	// opState
	current int
	wantsKF bool

	// opLocate
	locateOut   uint16
	locateOK    bool
	locateLayer int
	locateSeq   uint16

	// opResync
	shift int64
}

func fw(p Packet, seq uint16, ts uint32) step {
	return step{op: opPacket, p: p, want: DecisionForward, out: Out{Seq: seq, Timestamp: ts}}
}

func fwPic(p Packet, seq uint16, ts uint32, pic uint16, tl0 uint8) step {
	return step{op: opPacket, p: p, want: DecisionForward, out: Out{Seq: seq, Timestamp: ts, PictureID: pic, TL0PICIDX: tl0}}
}

func dr(p Packet) step { return step{op: opPacket, p: p, want: DecisionDrop} }

func tgt(layer int) step { return step{op: opTarget, target: layer} }

func state(current int, wantsKF bool) step {
	return step{op: opState, current: current, wantsKF: wantsKF}
}

func locate(out uint16, layer int, seq uint16) step {
	return step{op: opLocate, locateOut: out, locateOK: true, locateLayer: layer, locateSeq: seq}
}

// resync says the next packets come from another source whose arrival
// clock is shiftMS ahead of the old one's.
func resync(shiftMS int64) step { return step{op: opResync, shift: shiftMS * ms} }

func noLocate(out uint16) step { return step{op: opLocate, locateOut: out} }

type forwardCase struct {
	name      string
	clockRate uint32 // 90000 if zero
	steps     []step
	stats     *Stats // checked at the end when set
}

var forwardCases = []forwardCase{
	{
		name: "start waits for a keyframe of the target layer",
		steps: []step{
			state(-1, true),
			dr(v(0, 100, 9000, 0)),
			dr(k(1, 500, 1000, 1)),
			fw(k(0, 101, 9000, 2), 101, 9000),
			fw(v(0, 102, 9000, 3), 102, 9000),
			fw(v(0, 103, 12000, 35), 103, 12000),
			dr(v(1, 501, 4000, 36)),
			state(0, false),
		},
		stats: &Stats{Forwarded: 3, Dropped: 3, Switches: 1},
	},
	{
		name: "upswitch continues sequence numbers and timestamps",
		steps: []step{
			fw(k(0, 100, 1000, 0), 100, 1000),
			fw(v(0, 101, 4000, 33), 101, 4000),
			tgt(2),
			state(0, true),
			dr(v(2, 7000, 50000, 40)),
			fw(v(0, 102, 7000, 66), 102, 7000),
			// 4 ms after the last forwarded packet: 360 ticks at 90 kHz.
			fw(k(2, 7001, 53000, 70), 103, 7360),
			state(2, false),
			dr(v(0, 103, 10000, 99)),
			fw(v(2, 7002, 53000, 71), 104, 7360),
			fw(v(2, 7003, 56000, 103), 105, 10360),
		},
		stats: &Stats{Forwarded: 6, Dropped: 2, Switches: 2},
	},
	{
		name: "downswitch continues sequence numbers and timestamps",
		steps: []step{
			tgt(2),
			fw(k(2, 40000, 900000, 0), 40000, 900000),
			fw(v(2, 40001, 903000, 33), 40001, 903000),
			tgt(0),
			fw(v(2, 40002, 903000, 34), 40002, 903000),
			dr(v(0, 10, 100, 35)),
			fw(k(0, 11, 3100, 66), 40003, 905880),
			fw(v(0, 12, 6100, 100), 40004, 908880),
			// Keyframes of layers other than the target never switch.
			dr(k(2, 40003, 906000, 100)),
			dr(k(1, 9, 906000, 100)),
			state(0, false),
		},
	},
	{
		name: "target that never sends a keyframe keeps the current layer",
		steps: []step{
			fw(k(0, 1, 0, 0), 1, 0),
			tgt(2),
			dr(v(2, 50, 0, 1)),
			fw(v(0, 2, 3000, 33), 2, 3000),
			dr(v(2, 51, 3000, 34)),
			fw(v(0, 3, 6000, 66), 3, 6000),
			dr(v(2, 52, 6000, 67)),
			state(0, true),
		},
	},
	{
		name: "target flipped back before the keyframe: no switch",
		steps: []step{
			fw(k(0, 1, 0, 0), 1, 0),
			tgt(1),
			dr(v(1, 80, 0, 1)),
			tgt(0),
			state(0, false),
			dr(k(1, 81, 3000, 33)),
			fw(v(0, 2, 3000, 34), 2, 3000),
		},
		stats: &Stats{Forwarded: 2, Dropped: 2, Switches: 1},
	},
	{
		name: "pause drops everything and resume waits for a keyframe",
		steps: []step{
			fw(k(0, 100, 1000, 0), 100, 1000),
			fw(v(0, 101, 4000, 33), 101, 4000),
			tgt(-1),
			state(-1, false),
			dr(v(0, 102, 7000, 66)),
			dr(k(0, 103, 10000, 99)),
			dr(k(1, 9, 10000, 99)),
			tgt(0),
			state(-1, true),
			dr(v(0, 150, 150000, 5033)),
			// 5033 ms after the last forwarded packet: 452970 ticks.
			fw(k(0, 151, 153000, 5066), 102, 456970),
			fw(v(0, 152, 156000, 5100), 103, 459970),
			state(0, false),
		},
		stats: &Stats{Forwarded: 4, Dropped: 4, Switches: 2},
	},
	{
		name: "resume on another layer",
		steps: []step{
			fw(k(0, 100, 1000, 0), 100, 1000),
			tgt(-1),
			dr(k(1, 700, 1000, 10)),
			tgt(1),
			dr(v(0, 101, 4000, 33)),
			fw(k(1, 701, 4000, 1000), 101, 91000),
			fw(v(1, 702, 7000, 1033), 102, 94000),
		},
	},
	{
		name: "gaps inside a layer are preserved for NACKs",
		steps: []step{
			fw(k(0, 10, 0, 0), 10, 0),
			fw(v(0, 11, 0, 1), 11, 0),
			fw(v(0, 14, 3000, 40), 14, 3000),
			// 12 arrives late after the gap and keeps its slot.
			fw(v(0, 12, 0, 41), 12, 0),
			tgt(1),
			// The base is the highest packet (14 at 40 ms), not the latest.
			fw(k(1, 900, 77000, 50), 15, 3900),
			locate(13, 0, 13),
			locate(15, 1, 900),
		},
	},
	{
		name: "late packets around a switch point",
		steps: []step{
			fw(k(0, 100, 0, 0), 100, 0),
			fw(v(0, 101, 3000, 33), 101, 3000),
			tgt(1),
			fw(k(1, 500, 90000, 40), 102, 3630),
			// 499 precedes the switch point: it would land on output 101,
			// which layer 0 already used.
			dr(v(1, 499, 87000, 41)),
			fw(v(1, 502, 93000, 70), 104, 6630),
			// 501 follows the switch point and maps through the offset.
			fw(v(1, 501, 90000, 71), 103, 3630),
			// The old layer is gone even for its own late packets.
			dr(v(0, 102, 6000, 72)),
			fw(v(1, 503, 93000, 72), 105, 6630),
		},
		stats: &Stats{Forwarded: 6, Dropped: 2, Late: 1, Switches: 2},
	},
	{
		name: "switching back to a layer drops its packets from before",
		steps: []step{
			fw(k(0, 100, 0, 0), 100, 0),
			fw(v(0, 101, 3000, 33), 101, 3000),
			tgt(1),
			fw(k(1, 500, 1000, 40), 102, 3630),
			fw(v(1, 501, 4000, 73), 103, 6630),
			tgt(0),
			fw(k(0, 110, 30000, 80), 104, 7260),
			dr(v(0, 105, 15000, 81)),
			dr(v(0, 101, 3000, 81)),
			fw(v(0, 111, 33000, 113), 105, 10260),
			locate(101, 0, 101),
			locate(102, 1, 500),
			locate(103, 1, 501),
			locate(104, 0, 110),
			locate(105, 0, 111),
			noLocate(106),
		},
		stats: &Stats{Forwarded: 6, Dropped: 2, Late: 2, Switches: 3},
	},
	{
		name: "out-of-order packets do not move the switch base",
		steps: []step{
			fw(k(0, 5, 0, 0), 5, 0),
			fw(v(0, 7, 6000, 66), 7, 6000),
			fw(v(0, 6, 3000, 70), 6, 3000),
			tgt(1),
			fw(k(1, 40, 0, 75), 8, 6810),
		},
	},
	{
		name: "input sequence wraparound",
		steps: []step{
			fw(k(0, 65534, 0, 0), 65534, 0),
			fw(v(0, 65535, 0, 1), 65535, 0),
			fw(v(0, 0, 3000, 33), 0, 3000),
			fw(v(0, 1, 3000, 34), 1, 3000),
			dr(v(0, 65533, 0, 35)),
			fw(v(0, 3, 6000, 66), 3, 6000),
			fw(v(0, 2, 3000, 67), 2, 3000),
			locate(65535, 0, 65535),
			locate(2, 0, 2),
			noLocate(4),
		},
	},
	{
		name: "output sequence wraps at a switch",
		steps: []step{
			fw(k(0, 65535, 0, 0), 65535, 0),
			tgt(1),
			fw(k(1, 20, 100, 10), 0, 900),
			fw(v(1, 21, 100, 11), 1, 900),
			fw(v(1, 23, 3100, 40), 3, 3900),
			locate(65535, 0, 65535),
			locate(0, 1, 20),
			locate(2, 1, 22),
			noLocate(4),
		},
	},
	{
		name: "timestamp wraparound inside a layer and across a switch",
		steps: []step{
			fw(k(0, 1, 4294967000, 0), 1, 4294967000),
			fw(v(0, 2, 2704, 33), 2, 2704),
			tgt(1),
			fw(k(1, 50, 4294960000, 66), 3, 5674),
			fw(v(1, 51, 4294963000, 99), 4, 8674),
			fw(v(1, 52, 4294966000, 133), 5, 11674),
			fw(v(1, 53, 1704, 166), 6, 14674),
		},
	},
	{
		name: "switch base close to the timestamp limit",
		steps: []step{
			fw(k(0, 1, 4294967000, 0), 1, 4294967000),
			tgt(1),
			fw(k(1, 9, 5, 10), 2, 604),
		},
	},
	{
		name: "no elapsed time still advances the timestamp by one tick",
		steps: []step{
			fw(k(0, 1, 1000, 100), 1, 1000),
			tgt(1),
			fw(k(1, 7, 50, 100), 2, 1001),
			tgt(0),
			// Arrival going backwards is treated like no elapsed time.
			fw(k(0, 3, 4000, 90), 3, 1002),
			fw(v(0, 4, 7000, 120), 4, 4002),
		},
	},
	{
		name:      "audio: every packet is a switch point",
		clockRate: 48000,
		steps: []step{
			state(-1, true),
			fw(k(0, 1000, 48000, 0), 1000, 48000),
			fw(k(0, 1001, 48960, 20), 1001, 48960),
			fw(k(0, 1003, 50880, 60), 1003, 50880),
			fw(k(0, 1002, 49920, 61), 1002, 49920),
			tgt(-1),
			dr(k(0, 1004, 51840, 80)),
			dr(k(0, 1005, 52800, 100)),
			tgt(0),
			// 1200 ms muted: 57600 ticks at 48 kHz.
			fw(k(0, 1060, 105600, 1260), 1004, 108480),
			fw(k(0, 1061, 106560, 1280), 1005, 109440),
			// Late audio from before the resume point is dropped.
			dr(k(0, 1059, 104640, 1281)),
			state(0, false),
		},
		stats: &Stats{Forwarded: 6, Dropped: 3, Late: 1, Switches: 2},
	},
	{
		name:      "audio: sequence and timestamp wraparound across a mute",
		clockRate: 48000,
		steps: []step{
			fw(k(0, 65535, 4294966336, 0), 65535, 4294966336),
			tgt(-1),
			tgt(0),
			fw(k(0, 30000, 7, 20), 0, 0),
			fw(k(0, 30001, 967, 40), 1, 960),
		},
	},
	{
		name: "VP8 15-bit picture ids and TL0PICIDX continue across a switch",
		steps: []step{
			fwPic(vp8(k(0, 100, 0, 0), 0x7ffe, 15, 5), 100, 0, 0x7ffe, 5),
			fwPic(vp8(v(0, 101, 3000, 33), 0x7fff, 15, 5), 101, 3000, 0x7fff, 5),
			tgt(1),
			fwPic(vp8(k(1, 300, 90000, 40), 1234, 15, 200), 102, 3630, 0, 6),
			fwPic(vp8(v(1, 301, 90000, 41), 1234, 15, 200), 103, 3630, 0, 6),
			fwPic(vp8(v(1, 302, 93000, 73), 1235, 15, 200), 104, 6630, 1, 6),
			fwPic(vp8(v(1, 303, 96000, 106), 1236, 15, 201), 105, 9630, 2, 7),
			tgt(0),
			fwPic(vp8(k(0, 110, 30000, 110), 0x0010, 15, 9), 106, 9990, 3, 8),
		},
	},
	{
		name: "VP8 7-bit picture ids and TL0PICIDX wrap",
		steps: []step{
			fwPic(vp8(k(0, 10, 0, 0), 126, 7, 254), 10, 0, 126, 254),
			fwPic(vp8(v(0, 11, 3000, 33), 127, 7, 255), 11, 3000, 127, 255),
			fwPic(vp8(v(0, 12, 6000, 66), 0, 7, 0), 12, 6000, 0, 0),
			tgt(2),
			fwPic(vp8(k(2, 70, 500, 70), 50, 7, 9), 13, 6360, 1, 1),
			fwPic(vp8(v(2, 71, 3500, 103), 51, 7, 10), 14, 9360, 2, 2),
			// A late packet of the new layer maps through the same offsets.
			fwPic(vp8(v(2, 70, 500, 104), 50, 7, 9), 13, 6360, 1, 1),
		},
	},
	{
		name: "VP8 picture id continues after a pause",
		steps: []step{
			fwPic(vp8(k(0, 10, 0, 0), 500, 15, 20), 10, 0, 500, 20),
			tgt(-1),
			tgt(0),
			fwPic(vp8(k(0, 90, 90000, 1000), 580, 15, 60), 11, 90000, 501, 21),
		},
	},
	{
		name: "resync: another source continues the output from its keyframe",
		steps: []step{
			fw(k(0, 100, 1000, 0), 100, 1000),
			fw(v(0, 101, 4000, 33), 101, 4000),
			// The new source's clock reads 1000 ms more for the same instant.
			resync(1000),
			state(-1, true),
			dr(v(0, 5000, 777000, 1040)),
			// 33 ms after the last packet forwarded: 2970 ticks at 90 kHz.
			fw(k(0, 5001, 780000, 1066), 102, 6970),
			fw(v(0, 5002, 783000, 1100), 103, 9970),
			state(0, false),
			// What was sent before the resync is not the new source's to resend.
			noLocate(101),
			locate(102, 0, 5001),
			locate(103, 0, 5002),
			// An old packet of the new source is late, like one from before a switch.
			dr(v(0, 4999, 774000, 1101)),
		},
		stats: &Stats{Forwarded: 4, Dropped: 2, Late: 1, Switches: 2},
	},
	{
		name: "resync: the new source on another layer and with picture ids",
		steps: []step{
			tgt(2),
			fwPic(vp8(k(2, 40000, 900000, 0), 7000, 15, 3), 40000, 900000, 7000, 3),
			fwPic(vp8(v(2, 40001, 903000, 33), 7001, 15, 3), 40001, 903000, 7001, 3),
			// The new source's clock is behind: the same instant reads 500 ms less.
			resync(-500),
			// Layer 1 is not the target; the target's keyframe switches.
			dr(k(1, 10, 50, -460)),
			fwPic(vp8(k(2, 20, 60, -434), 99, 15, 40), 40002, 905970, 7002, 4),
			fwPic(vp8(v(2, 21, 3060, -400), 100, 15, 40), 40003, 908970, 7003, 4),
		},
	},
	{
		name: "resync while paused stays paused until the target is set again",
		steps: []step{
			fw(k(0, 10, 0, 0), 10, 0),
			tgt(-1),
			resync(0),
			dr(k(0, 900, 5000, 100)),
			state(-1, false),
			tgt(0),
			fw(k(0, 901, 8000, 200), 11, 18000),
		},
	},
	{
		name: "resync before anything was forwarded starts from the input",
		steps: []step{
			resync(12345),
			dr(v(0, 7, 70, 0)),
			fw(k(0, 8, 80, 1), 8, 80),
			locate(8, 0, 8),
		},
	},
	{
		name:      "resync of audio: sequence numbers and timestamps run on",
		clockRate: 48000,
		steps: []step{
			fw(k(0, 1000, 48000, 0), 1000, 48000),
			fw(k(0, 1001, 48960, 20), 1001, 48960),
			resync(0),
			// 20 ms later: 960 ticks at 48 kHz.
			fw(k(0, 31000, 7000, 40), 1002, 49920),
			fw(k(0, 31001, 7960, 60), 1003, 50880),
			noLocate(1001),
		},
	},
}

func TestForwarder(t *testing.T) {
	for _, tc := range forwardCases {
		t.Run(tc.name, func(t *testing.T) {
			rate := tc.clockRate
			if rate == 0 {
				rate = 90000
			}
			f := New(rate)
			for i, s := range tc.steps {
				where := fmt.Sprintf("step %d", i)
				switch s.op {
				case opTarget:
					f.SetTarget(s.target)
					if f.Target() != s.target {
						t.Fatalf("%s: Target() = %d after SetTarget(%d)", where, f.Target(), s.target)
					}
				case opState:
					if f.Current() != s.current || f.WantsKeyframe() != s.wantsKF {
						t.Fatalf("%s: Current() = %d, WantsKeyframe() = %v, want %d, %v",
							where, f.Current(), f.WantsKeyframe(), s.current, s.wantsKF)
					}
				case opResync:
					f.Resync(s.shift)
				case opLocate:
					layer, seq, _, ok := f.Locate(s.locateOut)
					if ok != s.locateOK || ok && (layer != s.locateLayer || seq != s.locateSeq) {
						t.Fatalf("%s: Locate(%d) = %d, %d, %v, want %d, %d, %v", where, s.locateOut,
							layer, seq, ok, s.locateLayer, s.locateSeq, s.locateOK)
					}
				case opPacket:
					p := s.p
					out, d := f.Process(&p)
					if d != s.want {
						t.Fatalf("%s: Process(%+v) = %v, want %v", where, s.p, d, s.want)
					}
					if d != DecisionForward {
						continue
					}
					got := Out{Seq: out.Seq, Timestamp: out.Timestamp}
					if p.HasPictureID {
						got.PictureID = out.PictureID
					}
					if p.HasTL0 {
						got.TL0PICIDX = out.TL0PICIDX
					}
					if got != s.out {
						t.Fatalf("%s: Process(%+v) = %+v, want %+v", where, s.p, got, s.out)
					}
					if f.Current() != p.Layer {
						t.Fatalf("%s: forwarded layer %d while Current() = %d", where, p.Layer, f.Current())
					}
				}
			}
			if tc.stats != nil && f.Stats() != *tc.stats {
				t.Errorf("Stats() = %+v, want %+v", f.Stats(), *tc.stats)
			}
		})
	}
}

func TestLocateHistoryLimit(t *testing.T) {
	f := New(90000)
	// Alternate layers so that every keyframe is a switch.
	for i := range historySize + 2 {
		layer := i % 2
		f.SetTarget(layer)
		p := k(layer, uint16(1000*layer+i), 0, int64(i))
		if _, d := f.Process(&p); d != DecisionForward {
			t.Fatalf("switch %d dropped", i)
		}
	}
	// Outputs 0 and 1 came from switch points that have been forgotten.
	for out := uint16(0); out < historySize+2; out++ {
		_, _, _, ok := f.Locate(out)
		if want := out >= 2; ok != want {
			t.Errorf("Locate(%d) ok = %v, want %v", out, ok, want)
		}
	}
}
