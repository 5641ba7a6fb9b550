package relay

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/switchyard/switchyard/linkemu"
)

func pingBytes(num uint64, sent time.Duration) []byte {
	b := binary.BigEndian.AppendUint64(nil, num)
	return binary.BigEndian.AppendUint64(b, uint64(sent))
}

func TestParsePong(t *testing.T) {
	r := Report{Top: 1 << 40, Count: 12345, Bytes: 9_876_543, At: 3 * time.Second}
	withReport := appendPong(nil, pingBytes(7, time.Second), r)
	for _, tc := range []struct {
		name    string
		b       []byte
		want    pong
		wantErr bool
	}{
		{"from a node that does not report", pingBytes(7, time.Second), pong{num: 7, sent: time.Second}, false},
		{"with a report", withReport, pong{num: 7, sent: time.Second, report: r, hasReport: true}, false},
		{"empty", nil, pong{}, true},
		{"short", withReport[:pingLen-1], pong{}, true},
		{"between the two sizes", withReport[:pingLen+8], pong{}, true},
		{"long", append(bytes.Clone(withReport), 0), pong{}, true},
		{"negative send time", pingBytes(7, -1), pong{}, true},
		{"negative report time", appendPong(nil, pingBytes(7, 1), Report{At: -time.Second}), pong{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parsePong(tc.b)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parsePong = %+v, %v; want %+v (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// FuzzParsePong: no input panics, and whatever parses builds the same bytes
// again.
func FuzzParsePong(f *testing.F) {
	f.Add(pingBytes(1, 2))
	f.Add(appendPong(nil, pingBytes(7, time.Second), Report{Top: 100, Count: 98, Bytes: 120_000, At: time.Minute}))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, pongLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parsePong(b)
		if err != nil {
			return
		}
		again := pingBytes(p.num, p.sent)
		if p.hasReport {
			again = appendPong(nil, again, p.report)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("pong %x parsed as %+v, which builds %x", b, p, again)
		}
	})
}

// TestTransportReportsTxLoss: a node learns from its peer's pongs what
// became of its own datagrams: the loss on its direction of the link, the
// bytes that arrived, and a one-way delay figure that rises with queueing.
func TestTransportReportsTxLoss(t *testing.T) {
	a, b := startNode(t, "us-1", secretA), startNode(t, "eu-1", secretA)
	connect(t, a, b, linkemu.Params{Loss: 0.3}, linkemu.Params{})
	done := make(chan struct{})
	defer close(done)
	go func() { // b's handler must not block its receive loop
		for {
			select {
			case <-b.ch:
			case <-done:
				return
			}
		}
	}()
	payload := make([]byte, 1000)
	var sent uint64
	waitFor(t, "a's view of its loss towards b", func() bool {
		for range 20 {
			if err := a.t.Send(b.id, &Packet{Type: TypeRTP, Layer: 1, Conference: "c", Endpoint: "e", Payload: payload}); err == nil {
				sent++
			}
		}
		l, _ := a.t.Link(b.id)
		return sent > 2000 && !l.FarAt.IsZero() && l.Far.Count > 1000
	})
	la, _ := a.t.Link(b.id)
	lb, _ := b.t.Link(a.id)
	t.Logf("a→b: a sent %d datagrams; b's last report: %d received, %d bytes; tx loss %.2f (b's rx loss %.2f)",
		la.Out[0].Packets, la.Far.Count, la.Far.Bytes, la.TxLoss, lb.RxLoss)
	if la.TxLoss < 0.1 || la.TxLoss > 0.55 {
		t.Errorf("tx loss %.2f over a link losing 30%%", la.TxLoss)
	}
	if lb.TxLoss != 0 {
		t.Errorf("b reports tx loss %.2f on a clean direction", lb.TxLoss)
	}
	if la.Far.Bytes == 0 || la.Far.Bytes > lb.In[0].Bytes+lb.In[3].Bytes+lb.In[1].Bytes+lb.In[2].Bytes {
		t.Errorf("reported bytes %d; b counted %+v", la.Far.Bytes, lb.In)
	}

	// A queue on the way raises the one-way figure over its minimum.
	base := la.OneWay
	if err := a.t.AddPeer(b.id, b.addr(), linkemu.Params{Delay: 80 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the one-way figure to rise by the added delay", func() bool {
		l, _ := a.t.Link(b.id)
		return l.OneWay-base > 60*time.Millisecond
	})
}
