package node_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/node/internal/browsertest"
	"github.com/switchyard/switchyard/node/nodetest"
)

// lossyVideo is a page's proxy filter: it drops a share of the video
// packets the node sends on the media SSRC while on, and counts what the
// node sends on the media and RTX SSRCs (RTP headers are in the clear
// under SRTP).
type lossyVideo struct {
	v *whepView

	mu         sync.Mutex
	rng        *rand.Rand
	loss       float64
	dropRTX    bool            // drop the RTX stream too (a receiver that ignores it)
	seen       map[uint16]bool // media sequence numbers sent, to spot a resend on the media SSRC
	media      uint64          // media packets sent by the node
	dropped    uint64          // of which dropped
	rtx        uint64          // retransmissions on the RTX SSRC
	padding    uint64          // padding-only packets on the RTX SSRC (probes)
	rtxPT      uint8
	mediaAgain uint64 // media packets sent again on the media SSRC
}

func (l *lossyVideo) filter(toBrowser bool, b []byte) bool {
	if !toBrowser {
		return true
	}
	ssrc, pt, ok := rtpSSRC(b)
	if !ok {
		return true
	}
	media, rtx := l.v.ssrcs()
	l.mu.Lock()
	defer l.mu.Unlock()
	switch ssrc {
	case media:
		l.media++
		seq := uint16(b[2])<<8 | uint16(b[3])
		if l.seen[seq] {
			l.mediaAgain++
		}
		l.seen[seq] = true
		if l.loss > 0 && l.rng.Float64() < l.loss {
			l.dropped++
			return false
		}
	case rtx:
		if b[0]&0x20 != 0 { // the padding bit: a probe, not a retransmission
			l.padding++
		} else {
			l.rtx++
		}
		l.rtxPT = pt
		if l.dropRTX {
			return false
		}
	}
	return true
}

type lossCounts struct{ media, dropped, rtx, padding, mediaAgain uint64 }

func (l *lossyVideo) counts() lossCounts {
	l.mu.Lock()
	defer l.mu.Unlock()
	return lossCounts{l.media, l.dropped, l.rtx, l.padding, l.mediaAgain}
}

func (l *lossyVideo) setLoss(p float64) {
	l.mu.Lock()
	l.loss = p
	l.mu.Unlock()
}

// TestBrowserRTX: a Go participant's video reaches Chromium and Firefox
// (one after the other, as WHEP viewers) through a proxy that drops 5% of
// the node's video packets on the media SSRC for 1000 packets. The node
// answers the browser's NACKs on the RTX stream the browser negotiated (RFC
// 4588): the proxy sees about one RTX packet per packet dropped and no
// media packet sent twice. The browser uses them: it NACKs each lost packet
// about once (a browser that could not use the RTX packets NACKs each one
// again and again: five times as many NACKs, found by dropping the RTX
// stream at the proxy, SWITCHYARD_RTX_TEST_DROP_RTX=1, which also froze the
// video over ten times), and Chromium counts them in
// retransmittedPacketsReceived (with the RTX stream's padding, the node's
// bandwidth probes, which the proxy tells apart by the padding bit) on the
// stream whose rtxSsrc is the node's RTX SSRC. Firefox has neither figure.
// packetsLost is no measure of repair: both browsers count a packet
// repaired from the RTX stream as lost on the media SSRC.
func TestBrowserRTX(t *testing.T) {
	skipShort(t)
	n := nodetest.Start(t, nil)
	const room = "rtx"
	join(t, n, room, "pub", publishing)
	rig := newWHEPRig(t, n, room)
	const loss = 0.05
	for _, b := range []struct {
		name   string
		launch launcher
	}{{"chromium", browsertest.Chromium}, {"firefox", browsertest.Firefox}} {
		t.Run(b.name, func(t *testing.T) {
			l := &lossyVideo{rng: rand.New(rand.NewPCG(4588, 1)), seen: make(map[uint16]bool),
				dropRTX: os.Getenv("SWITCHYARD_RTX_TEST_DROP_RTX") == "1"}
			l.v = rig.page(t, b.name, l.filter)
			br := b.launch(t, rig.url(b.name))
			before := l.v.waitFor(t, br, "video decoded", func(r pageReport) error {
				if r.Video == nil || r.Video.FramesDecoded < 30 {
					return fmt.Errorf("connection %q, video %+v", r.Connection, r.Video)
				}
				return nil
			})
			media, rtxSSRC := l.v.ssrcs()
			if rtxSSRC == 0 {
				t.Fatalf("the node's answer to %s has no RTX stream (ssrc-group FID)", b.name)
			}
			c0 := l.counts()
			l.setLoss(loss)
			deadline := time.Now().Add(browserWait)
			for l.counts().media-c0.media < 1000 {
				if time.Now().After(deadline) {
					t.Fatalf("the node sent %d media packets in %v", l.counts().media-c0.media, browserWait)
				}
				time.Sleep(100 * time.Millisecond)
			}
			l.setLoss(0)
			c1 := l.counts()
			// A second for the last repairs, then a report made after it.
			time.Sleep(time.Second)
			settled := float64(time.Now().UnixMilli())
			after := l.v.waitFor(t, br, "a report after the lossy stretch", func(r pageReport) error {
				if r.Video == nil || r.Video.Timestamp < settled {
					return errors.New("none yet")
				}
				return nil
			})
			c2 := l.counts()
			dropped, rtx, again := c1.dropped-c0.dropped, c2.rtx-c0.rtx, c2.mediaAgain-c0.mediaAgain
			padding := c2.padding - c0.padding
			v0, v1 := before.Video, after.Video
			nacks := v1.NackCount - v0.NackCount
			t.Logf("%s: the proxy dropped %d of %d media packets (SSRC %d); the node sent %d retransmissions and %d padding packets on RTX (SSRC %d, PT %d) and %d media packets twice",
				b.name, dropped, c1.media-c0.media, media, rtx, padding, rtxSSRC, l.rtxPT, again)
			t.Logf("%s over the stretch: nackCount +%d, retransmittedPacketsReceived %s, packetsLost +%d, pliCount +%d, framesDecoded +%d, keyFramesDecoded %s, freezeCount %s (%s s)",
				b.name, nacks, deltaPtr(v0.RetransmittedPacketsReceived, v1.RetransmittedPacketsReceived), v1.PacketsLost-v0.PacketsLost,
				v1.PliCount-v0.PliCount, v1.FramesDecoded-v0.FramesDecoded, deltaPtr(v0.KeyFramesDecoded, v1.KeyFramesDecoded),
				deltaPtr(v0.FreezeCount, v1.FreezeCount), deltaFloat(v0.TotalFreezesDuration, v1.TotalFreezesDuration))
			if dropped < 20 {
				t.Fatalf("the proxy dropped only %d packets: nothing to repair", dropped)
			}
			if again != 0 {
				t.Errorf("the node sent %d media packets twice on the media SSRC: retransmissions belong on RTX", again)
			}
			if rtx < dropped/2 || rtx > 2*dropped+5 {
				t.Errorf("the node sent %d packets on RTX for %d dropped: want about one each", rtx, dropped)
			}
			if nacks > 2*int64(dropped)+5 {
				t.Errorf("%s sent %d NACKs for %d dropped packets: it does not take the RTX packets as repairs", b.name, nacks, dropped)
			}
			if v1.FramesDecoded <= v0.FramesDecoded {
				t.Errorf("%s decoded no frame over the stretch", b.name)
			}
			if b.name == "chromium" {
				got := int64(0)
				if p := v1.RetransmittedPacketsReceived; p != nil {
					got = *p
				}
				if p := v0.RetransmittedPacketsReceived; p != nil {
					got -= *p
				}
				// Chromium counts the RTX stream's padding (the node's
				// bandwidth probes) as retransmitted too.
				if got-int64(padding) < int64(dropped)/2 {
					t.Errorf("Chromium counts %d retransmitted packets received, %d of them padding, for %d dropped", got, padding, dropped)
				}
				if v1.RTXSSRC == nil || *v1.RTXSSRC != rtxSSRC {
					t.Errorf("Chromium's inbound-rtp rtxSsrc is %v, want the node's RTX SSRC %d", v1.RTXSSRC, rtxSSRC)
				}
			}
		})
	}
}

func deltaPtr(a, b *int64) string {
	switch {
	case b == nil:
		return "n/a"
	case a == nil: // not reported before the first
		return fmt.Sprintf("+%d", *b)
	}
	return fmt.Sprintf("+%d", *b-*a)
}

func deltaFloat(a, b *float64) string {
	if a == nil || b == nil {
		return "n/a"
	}
	return fmt.Sprintf("+%.2f", *b-*a)
}
