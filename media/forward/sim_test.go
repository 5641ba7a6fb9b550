package forward

import (
	"math/rand/v2"
	"testing"
)

// simPacket is a packet of a simulated three-layer VP8 publisher, with the
// frame it belongs to so the test can tell what the output should look like.
type simPacket struct {
	Packet
	frame int
}

// simPublisher produces 30 fps simulcast frames; layer L sends 2L+1 packets
// per frame, and each layer has its own random sequence, timestamp, picture
// id and TL0PICIDX origins, as real encoders do.
type simPublisher struct {
	rng   *rand.Rand
	seq   [3]uint16
	ts    [3]uint32
	pic   [3]uint16
	tl0   [3]uint8
	frame int
}

func newSimPublisher(rng *rand.Rand) *simPublisher {
	s := &simPublisher{rng: rng}
	for l := range 3 {
		s.seq[l] = uint16(rng.Uint32())
		s.ts[l] = rng.Uint32()
		s.pic[l] = uint16(rng.Uint32()) & 0x7fff
		s.tl0[l] = uint8(rng.Uint32())
	}
	return s
}

// next returns the packets of one frame interval, layers interleaved.
// keyframe[l] asks layer l to encode a keyframe.
func (s *simPublisher) next(keyframe [3]bool, buf []simPacket) []simPacket {
	buf = buf[:0]
	arrival := int64(s.frame) * 1e9 / 30
	for l := range 3 {
		key := keyframe[l] || s.frame%90 == l*7
		for i := range 2*l + 1 {
			buf = append(buf, simPacket{frame: s.frame, Packet: Packet{
				Layer: l, Seq: s.seq[l], Timestamp: s.ts[l], Keyframe: key && i == 0,
				Arrival:      arrival + int64(l*3+i)*1e5,
				HasPictureID: true, PictureID: s.pic[l], PictureIDBits: 15,
				HasTL0: true, TL0PICIDX: s.tl0[l],
			}})
			s.seq[l]++
		}
		s.ts[l] += 3000
		s.pic[l] = (s.pic[l] + 1) & 0x7fff
		s.tl0[l]++
	}
	s.frame++
	return buf
}

type sentPacket struct {
	in  Packet
	out Out
}

// TestForwarderSimulcastInvariants drives a forwarder with long random runs of
// a lossless publisher and random target changes, and checks that the
// receiver always sees one gapless, monotonic stream.
func TestForwarderSimulcastInvariants(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 0x5eed))
		pub := newSimPublisher(rng)
		f := New(90000)
		var (
			buf      []simPacket
			started  bool
			prev     simPacket
			prevOut  Out
			switches int
			recent   []sentPacket
		)
		for range 3000 {
			if rng.IntN(20) == 0 {
				f.SetTarget(rng.IntN(4) - 1)
			}
			var kf [3]bool
			// A PLI is answered a frame or two later.
			if f.WantsKeyframe() && rng.IntN(2) == 0 {
				kf[f.Target()] = true
			}
			buf = pub.next(kf, buf)
			for _, sp := range buf {
				out, d := f.Process(&sp.Packet)
				if d == DecisionDrop {
					continue
				}
				if f.Target() < 0 || f.Current() != sp.Layer {
					t.Fatalf("seed %d: forwarded layer %d with target %d, current %d", seed, sp.Layer, f.Target(), f.Current())
				}
				if layer, seq, _, ok := f.Locate(out.Seq); !ok || layer != sp.Layer || seq != sp.Seq {
					t.Fatalf("seed %d: Locate(%d) = %d, %d, %v, want %d, %d", seed, out.Seq, layer, seq, ok, sp.Layer, sp.Seq)
				}
				// A retransmission, rewritten later with the mapping Locate
				// returns, must be byte-for-byte the packet first sent.
				recent = append(recent, sentPacket{sp.Packet, out})
				if len(recent) > 200 {
					recent = recent[1:]
				}
				old := recent[rng.IntN(len(recent))]
				if layer, seq, m, ok := f.Locate(old.out.Seq); ok {
					if layer != old.in.Layer || seq != old.in.Seq || m.Apply(&old.in) != old.out {
						t.Fatalf("seed %d: Locate(%d) = layer %d seq %d, rewrite %+v; sent layer %d seq %d as %+v",
							seed, old.out.Seq, layer, seq, m.Apply(&old.in), old.in.Layer, old.in.Seq, old.out)
					}
				} else if old.out == out {
					t.Fatalf("seed %d: Locate(%d) fails for the packet just sent", seed, out.Seq)
				}
				if !started {
					started, prev, prevOut = true, sp, out
					continue
				}
				sameFrame := sp.Layer == prev.Layer && sp.frame == prev.frame
				if sp.Layer != prev.Layer {
					switches++
					if !sp.Keyframe {
						t.Fatalf("seed %d: switched to layer %d on a non-keyframe", seed, sp.Layer)
					}
				}
				if out.Seq != prevOut.Seq+1 {
					t.Fatalf("seed %d: output seq %d after %d", seed, out.Seq, prevOut.Seq)
				}
				dts := int32(out.Timestamp - prevOut.Timestamp)
				if sameFrame && dts != 0 || !sameFrame && dts <= 0 {
					t.Fatalf("seed %d: timestamp step %d (same frame %v)", seed, dts, sameFrame)
				}
				wantStep := uint16(1)
				if sameFrame {
					wantStep = 0
				}
				if step := (out.PictureID - prevOut.PictureID) & 0x7fff; step != wantStep {
					t.Fatalf("seed %d: picture id step %d, want %d", seed, step, wantStep)
				}
				if step := out.TL0PICIDX - prevOut.TL0PICIDX; uint16(step) != wantStep {
					t.Fatalf("seed %d: TL0PICIDX step %d, want %d", seed, step, wantStep)
				}
				prev, prevOut = sp, out
			}
		}
		if switches == 0 {
			t.Fatalf("seed %d: the run never switched layers", seed)
		}
	}
}

// TestForwarderReorderInvariants adds loss and reordering: an output sequence
// number must never be given to two different input packets, and Locate must
// agree with what was sent.
func TestForwarderReorderInvariants(t *testing.T) {
	type key struct {
		layer int
		seq   uint16
	}
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 0xdecaf))
		pub := newSimPublisher(rng)
		f := New(90000)
		sent := map[uint16]key{}
		var buf, held []simPacket
		for range 3000 {
			if rng.IntN(15) == 0 {
				f.SetTarget(rng.IntN(4) - 1)
			}
			var kf [3]bool
			if f.WantsKeyframe() && rng.IntN(2) == 0 {
				kf[f.Target()] = true
			}
			buf = pub.next(kf, buf)
			// Lose some packets, and hold others back to deliver them later.
			var in []simPacket
			for _, sp := range buf {
				switch r := rng.IntN(20); {
				case r == 0:
				case r < 3:
					held = append(held, sp)
				default:
					in = append(in, sp)
				}
			}
			if rng.IntN(3) == 0 {
				in = append(in, held...)
				held = held[:0]
			}
			for _, sp := range in {
				out, d := f.Process(&sp.Packet)
				if d == DecisionDrop {
					continue
				}
				k := key{sp.Layer, sp.Seq}
				if old, dup := sent[out.Seq]; dup && old != k {
					t.Fatalf("seed %d: output seq %d given to %+v and %+v", seed, out.Seq, old, k)
				}
				sent[out.Seq] = k
				if layer, seq, _, ok := f.Locate(out.Seq); !ok || (key{layer, seq}) != k {
					t.Fatalf("seed %d: Locate(%d) = %d, %d, %v, want %+v", seed, out.Seq, layer, seq, ok, k)
				}
			}
			// Forget outputs that are about to be reused after a wrap.
			if len(sent) > 20000 {
				clear(sent)
			}
		}
	}
}
