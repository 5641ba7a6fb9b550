package node_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/node/internal/browsertest"
	"github.com/switchyard/switchyard/node/nodetest"
)

// joinSteps are the page's timeline steps, in the order they happen.
var joinSteps = []string{"joinSent", "joined", "offerSent", "answer", "nodeOffer", "connected"}

// TestBrowserJoinToFirstFrame: Chromium joins a room where a Go participant
// already publishes, three times, and reports when it sent `join`, each
// step of negotiation after it, and when it received the first packet and
// decoded the first frame of the publisher's video (getStats, polled every
// 10 ms). The test checks the steps come and in order; the times are
// logged for the closing note (time is measured, never asserted).
func TestBrowserJoinToFirstFrame(t *testing.T) {
	skipShort(t)
	n := nodetest.Start(t, nil)
	room := "TestBrowserJoinToFirstFrame"
	pub := join(t, n, room, "go", publishing)
	var firsts []float64
	for i := range 3 {
		t.Run(fmt.Sprint("join", i), func(t *testing.T) {
			rep := browsertest.NewReporter(t)
			tag := fmt.Sprint("page", i)
			q := url.Values{"name": {tag}, "report": {rep.URL(tag)}, "framepoll": {"10"}}
			b := browsertest.Chromium(t, n.URL()+"/r/"+room+"?"+q.Encode())
			rep.WaitFor(t, browserWait, "Chromium to decode the Go participant's video", func(m map[string]browsertest.Report) error {
				v := m[tag].Remotes[pub.ID()].Video
				if v == nil || v.FirstFrameMs == nil {
					return fmt.Errorf("%w: no frame decoded yet", browsertest.ErrPending)
				}
				return nil
			}, b)
			r := rep.Latest()[tag]
			v := r.Remotes[pub.ID()].Video
			sent, ok := r.Timeline["joinSent"]
			if !ok {
				t.Fatalf("the page reported no joinSent: timeline %v", r.Timeline)
			}
			var b2 strings.Builder
			last := sent
			for _, step := range joinSteps {
				at, ok := r.Timeline[step]
				if !ok {
					t.Errorf("the page reported no %s: timeline %v", step, r.Timeline)
					continue
				}
				fmt.Fprintf(&b2, " %s +%.0f", step, at-sent)
				if step != "nodeOffer" && step != "answer" && at < last {
					t.Errorf("%s at %.0f ms came before the step before it (%.0f ms)", step, at, last)
				}
				last = max(last, at)
			}
			if v.FirstPacketMs != nil {
				fmt.Fprintf(&b2, " firstPacket +%.0f", *v.FirstPacketMs-sent)
			}
			first := *v.FirstFrameMs - sent
			if first < r.Timeline["connected"]-sent {
				t.Errorf("first frame %.0f ms after join, before the connection (%.0f ms)", first, r.Timeline["connected"]-sent)
			}
			fmt.Fprintf(&b2, " firstFrame +%.0f", first)
			t.Logf("join to first frame %.0f ms (%dx%d); ms after join:%s", first, v.FrameWidth, v.FrameHeight, b2.String())
			firsts = append(firsts, first)
		})
	}
	slices.Sort(firsts)
	if len(firsts) > 0 {
		t.Logf("join to first frame in Chromium, ms, sorted: %.0f (median %.0f)", firsts, firsts[len(firsts)/2])
	}
}
