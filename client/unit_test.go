package client

import (
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

func TestClipsLoad(t *testing.T) {
	cs, err := loadClips()
	if err != nil {
		t.Fatal(err)
	}
	wantHeights := [len(rids)]int{180, 360, 720}
	for i, v := range cs.video {
		if v.rid != rids[i] {
			t.Errorf("layer %d: rid %q, want %q", i, v.rid, rids[i])
		}
		if v.height != wantHeights[i] || v.width != wantHeights[i]*16/9 {
			t.Errorf("layer %s: %dx%d, want height %d at 16:9", v.rid, v.width, v.height, wantHeights[i])
		}
		if len(v.frames) < videoFPS || len(v.keyframes) < 2 {
			t.Errorf("layer %s: %d frames, keyframes at %v: want at least a second and two keyframes",
				v.rid, len(v.frames), v.keyframes)
		}
		if got := len(v.frames); got != len(cs.video[0].frames) {
			t.Errorf("layer %s has %d frames, layer q %d: layers must loop together", v.rid, got, len(cs.video[0].frames))
		}
	}
	if n := len(cs.audio.packets); n < 50 {
		t.Errorf("audio clip has %d packets, want at least a second", n)
	}
}

func TestNextKeyframe(t *testing.T) {
	v := &videoClip{frames: make([][]byte, 90), keyframes: []int{0, 30, 60}}
	for _, tc := range []struct{ from, want int }{
		{-1, 0}, {0, 30}, {29, 30}, {30, 60}, {59, 60}, {60, 0}, {89, 0},
	} {
		if got := v.nextKeyframe(tc.from); got != tc.want {
			t.Errorf("nextKeyframe(%d) = %d, want %d", tc.from, got, tc.want)
		}
	}
}

func TestSeqTracker(t *testing.T) {
	tests := []struct {
		name      string
		seqs      []uint16
		wantRecv  uint64
		wantLost  uint64
		wantDups  uint64
		wantFresh int // pushes that reported a new packet
	}{
		{"in order", []uint16{10, 11, 12, 13}, 4, 0, 0, 4},
		{"one gap", []uint16{10, 11, 13, 14}, 4, 1, 0, 4},
		{"gap repaired late", []uint16{10, 12, 13, 11}, 4, 0, 0, 4},
		{"duplicate", []uint16{10, 11, 11, 12}, 3, 0, 1, 3},
		{"wrap", []uint16{65534, 65535, 0, 1}, 4, 0, 0, 4},
		{"gap across wrap", []uint16{65534, 1}, 2, 2, 0, 2},
		{"reordered across wrap", []uint16{65535, 1, 0}, 3, 0, 0, 3},
		{"before the first packet is ignored", []uint16{100, 99, 101}, 2, 0, 0, 2},
		{"far too old is not counted", []uint16{0, 2000, 3}, 2, 1999, 0, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s seqTracker
			fresh := 0
			for _, sn := range tc.seqs {
				if s.push(sn) {
					fresh++
				}
			}
			if s.received != tc.wantRecv || s.lost() != tc.wantLost || s.dups != tc.wantDups || fresh != tc.wantFresh {
				t.Errorf("received %d lost %d dups %d fresh %d; want %d %d %d %d",
					s.received, s.lost(), s.dups, fresh, tc.wantRecv, tc.wantLost, tc.wantDups, tc.wantFresh)
			}
		})
	}
}

func TestSeqTrackerLongRun(t *testing.T) {
	var s seqTracker
	// 200000 packets, every 10th lost, wrapping three times.
	for i := range 200000 {
		if i%10 == 3 {
			continue
		}
		s.push(uint16(i + 1000))
	}
	if got := s.lost(); got != 20000 {
		t.Errorf("lost %d, want 20000", got)
	}
}

func FuzzSeqTracker(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 0, 3})
	f.Add([]byte{0xff, 0xff, 0, 0, 0x80, 0})
	f.Add([]byte{1, 2, 1, 2, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s seqTracker
		for i := 0; i+1 < len(data); i += 2 {
			s.push(uint16(data[i])<<8 | uint16(data[i+1]))
		}
		if !s.started {
			return
		}
		if expected := s.highest - s.first + 1; s.received > expected {
			t.Fatalf("received %d of %d expected", s.received, expected)
		}
	})
}

func TestTurnsNeverOverlap(t *testing.T) {
	const slots = 3
	turn := 2 * time.Second
	talkers := make([]TalkPattern, slots)
	for i := range talkers {
		talkers[i] = Turns(i, slots, turn)
	}
	voiced := make([]int, slots)
	for ms := 0; ms < 30_000; ms += 20 {
		at := time.Duration(ms) * time.Millisecond
		n := 0
		for i, talk := range talkers {
			level, voice := talk(at)
			if voice {
				n++
				voiced[i]++
				if level > levelQuiet {
					t.Fatalf("slot %d at %v: voice at level %d, quieter than %d", i, at, level, levelQuiet)
				}
			} else if level < levelRoom {
				t.Fatalf("slot %d at %v: silence at level %d, louder than the room", i, at, level)
			}
		}
		if n > 1 {
			t.Fatalf("at %v %d talkers overlap", at, n)
		}
	}
	for i, v := range voiced {
		if v == 0 {
			t.Errorf("slot %d never talked", i)
		}
	}
}

func TestAlwaysPausesToBreathe(t *testing.T) {
	talk := Always()
	var voice, pause int
	for ms := 0; ms < 10_000; ms += 20 {
		if _, v := talk(time.Duration(ms) * time.Millisecond); v {
			voice++
		} else {
			pause++
		}
	}
	if voice == 0 || pause == 0 || pause > voice {
		t.Errorf("voice %d, pause %d frames: want mostly voice with some pauses", voice, pause)
	}
	if _, v := Silent()(time.Second); v {
		t.Error("Silent talked")
	}
}

func TestLoopbackCandidate(t *testing.T) {
	for _, tc := range []struct {
		cand string
		ok   bool
	}{
		{"candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host", true},
		{"a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host", true},
		{"candidate:1 1 udp 2130706431 ::1 50000 typ host", true},
		{"candidate:1 1 udp 2130706431 192.168.1.4 50000 typ host", false},
		{"candidate:1 1 udp 2130706431 abc.local 50000 typ host", false},
		{"garbage", false},
	} {
		if got := loopbackCandidate(tc.cand); got != tc.ok {
			t.Errorf("loopbackCandidate(%q) = %v, want %v", tc.cand, got, tc.ok)
		}
	}
}

// rtpCapture records what an interceptor writes.
type rtpCapture struct{ headers []rtp.Header }

func (c *rtpCapture) Write(h *rtp.Header, _ []byte, _ interceptor.Attributes) (int, error) {
	c.headers = append(c.headers, h.Clone())
	return 0, nil
}

func TestRRIDInterceptorMovesRidOnRetransmissions(t *testing.T) {
	const media, rtx = 1111, 2222
	const ridID, rridID = 10, 11
	info := &interceptor.StreamInfo{
		SSRC: media, SSRCRetransmission: rtx,
		RTPHeaderExtensions: []interceptor.RTPHeaderExtension{
			{URI: sdp.SDESRTPStreamIDURI, ID: ridID}, {URI: sdp.SDESRepairRTPStreamIDURI, ID: rridID},
		},
	}
	capture := &rtpCapture{}
	w := (&rridInterceptor{}).BindLocalStream(info, capture)
	for _, ssrc := range []uint32{media, rtx} {
		h := &rtp.Header{Version: 2, SSRC: ssrc}
		if err := h.SetExtension(ridID, []byte("h")); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(h, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	orig, re := capture.headers[0], capture.headers[1]
	if string(orig.GetExtension(ridID)) != "h" || orig.GetExtension(rridID) != nil {
		t.Errorf("media packet: rid %q rrid %q, want rid h only", orig.GetExtension(ridID), orig.GetExtension(rridID))
	}
	if re.GetExtension(ridID) != nil || string(re.GetExtension(rridID)) != "h" {
		t.Errorf("RTX packet: rid %q rrid %q, want rrid h only", re.GetExtension(ridID), re.GetExtension(rridID))
	}
}

func FuzzLoopbackCandidate(f *testing.F) {
	f.Add("candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host")
	f.Add("candidate:1 1 udp 2130706431 10.0.0.1 50000 typ srflx raddr 0.0.0.0 rport 0")
	f.Add("a=candidate:")
	f.Fuzz(func(t *testing.T, s string) {
		// Whatever the node sends, the answer is a plain yes or no.
		_ = loopbackCandidate(s)
	})
}

// TestSeqRecover: a packet rebuilt from RED counts as received once, only
// if it was missing and not newer than what arrived.
func TestSeqRecover(t *testing.T) {
	var s seqTracker
	for _, sn := range []uint16{65534, 65535, 1} {
		s.push(sn)
	}
	if s.lost() != 1 {
		t.Fatalf("lost %d, want 1 (seq 0)", s.lost())
	}
	if !s.recover(0) || s.lost() != 0 {
		t.Fatalf("recovering seq 0: lost %d", s.lost())
	}
	for _, sn := range []uint16{0, 1, 2, 65533} {
		if s.recover(sn) {
			t.Errorf("recover(%d) counted: a duplicate, a future or a pre-start packet", sn)
		}
	}
	if s.push(0) {
		t.Error("the late original of a recovered packet counted again")
	}
}
