package forward

import "testing"

func BenchmarkForwardSameLayer(b *testing.B) {
	f := New(90000)
	p := vp8(k(0, 0, 0, 0), 0, 15, 0)
	f.Process(&p)
	p.Keyframe = false
	b.ReportAllocs()
	for b.Loop() {
		p.Seq++
		p.Timestamp += 300
		p.Arrival += 3e6
		if _, d := f.Process(&p); d != DecisionForward {
			b.Fatal("dropped")
		}
	}
}

// BenchmarkForwardWithSwitch feeds three interleaved layers and moves the
// target every 64 packets, so the drop and switch paths run too.
func BenchmarkForwardWithSwitch(b *testing.B) {
	f := New(90000)
	var ps [3]Packet
	for l := range ps {
		ps[l] = vp8(v(l, uint16(l*20000), uint32(l)*1e6, 0), uint16(l*1000), 15, uint8(l*50))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%64 == 0 {
			f.SetTarget((i / 64) % 3)
		}
		p := &ps[i%3]
		p.Seq++
		p.Timestamp += 300
		p.Arrival += 1e6
		p.PictureID = (p.PictureID + 1) & 0x7fff
		p.TL0PICIDX++
		// Every layer offers a switch point every 16 of its packets.
		p.Keyframe = (i/3)%16 == 0
		f.Process(p)
		i++
	}
	if f.Stats().Switches == 0 {
		b.Fatal("no switches")
	}
}
