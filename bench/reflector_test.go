package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// testReflector serves cfg on loopback; sinks are opened for its members.
func testReflector(t testing.TB, rooms, pubs, subs int, videoToSubs bool) (*reflector, *net.UDPConn, []*net.UDPConn) {
	t.Helper()
	var sinkConns []*net.UDPConn
	var addrs []string
	for range rooms * (pubs + subs) {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		sinkConns = append(sinkConns, c)
		addrs = append(addrs, c.LocalAddr().String())
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	rf, err := newReflector(conn, reflectorConfig{Rooms: rooms, Publishers: pubs, Subscribers: subs,
		VideoToSubscribers: videoToSubs, Sinks: addrs})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rf.serve() }()
	t.Cleanup(func() {
		conn.Close()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return rf, conn, sinkConns
}

func sealed(t testing.TB, pub, kind int, seq uint16, payload []byte) []byte {
	t.Helper()
	ctx, err := newContext("pub", pub)
	if err != nil {
		t.Fatal(err)
	}
	h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: 1, SSRC: streamSSRC(pub, kind)}
	plain, err := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out, err := ctx.EncryptRTP(nil, plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReflectorForwards sends one audio and one video packet from
// publisher 0 of a room of 2 publishers and 2 subscribers whose subscribers
// take audio only, and checks who gets what, decrypted with each
// receiver's own key.
func TestReflectorForwards(t *testing.T) {
	rf, conn, sinks := testReflector(t, 1, 2, 2, false)
	sender, err := net.DialUDP("udp4", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	for _, pkt := range [][]byte{
		sealed(t, 0, kindAudio, 7, []byte("audio payload")),
		sealed(t, 0, kindVideo, 8, []byte("video payload")),
		sealed(t, 0, kindUnforwarded, 9, []byte("a layer nobody gets")),
		{1, 2, 3},                       // not RTP
		sealed(t, 9, kindVideo, 9, nil), // an unknown stream
	} {
		if _, err := sender.Write(pkt); err != nil {
			t.Fatal(err)
		}
	}
	// Member 0 is the sender; member 1 the other publisher; 2 and 3 subscribers.
	want := map[int][]string{1: {"audio payload", "video payload"}, 2: {"audio payload"}, 3: {"audio payload"}}
	for i, c := range sinks {
		dec, err := newContext("recv", i)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		buf := make([]byte, 1500)
		for {
			_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			n, err := c.Read(buf)
			if err != nil {
				break
			}
			plain, err := dec.DecryptRTP(nil, buf[:n], nil)
			if err != nil {
				t.Errorf("member %d: decrypt with its own key: %v", i, err)
				continue
			}
			var p rtp.Packet
			if err := p.Unmarshal(plain); err != nil {
				t.Fatal(err)
			}
			got = append(got, string(p.Payload))
		}
		if strings.Join(got, ",") != strings.Join(want[i], ",") {
			t.Errorf("member %d got %q, want %q", i, got, want[i])
		}
	}
	st := rf.stats()
	if st.Received != 5 || st.Forwarded != 4 || st.Dropped != 2 {
		t.Errorf("stats %+v; want 5 received, 4 forwarded, 2 dropped", st)
	}
}

func TestReflectorRefusesBadLayout(t *testing.T) {
	tests := []reflectorConfig{
		{Rooms: 0, Publishers: 1, Subscribers: 1},
		{Rooms: 1, Publishers: 0, Subscribers: 2, Sinks: []string{"127.0.0.1:1", "127.0.0.1:2"}},
		{Rooms: 1, Publishers: 1, Subscribers: 1, Sinks: []string{"127.0.0.1:1"}},
		{Rooms: 1, Publishers: 1, Subscribers: 1, Sinks: []string{"127.0.0.1:1", "nowhere"}},
	}
	for _, cfg := range tests {
		if _, err := newReflector(nil, cfg); err == nil {
			t.Errorf("newReflector(%+v) accepted", cfg)
		}
	}
}

// TestReflectorMainProtocol drives the child's stdin/stdout protocol in
// process, with the sender the bench uses.
func TestReflectorMainProtocol(t *testing.T) {
	sk, err := openSinks(3)
	if err != nil {
		t.Fatal(err)
	}
	defer sk.close()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- reflectorMain(inR, outW)
		outW.Close()
	}()
	cfg, _ := json.Marshal(reflectorConfig{Rooms: 1, Publishers: 2, Subscribers: 1, VideoToSubscribers: true, Sinks: sk.addrs()})
	if _, err := inW.Write(append(cfg, '\n')); err != nil {
		t.Fatal(err)
	}
	rc := &reflectorClient{w: inW, r: bufio.NewReader(outR)}
	ready, err := rc.r.ReadString('\n')
	if err != nil || !strings.HasPrefix(ready, "ready ") {
		t.Fatalf("first line %q, %v", ready, err)
	}
	var port uint16
	if _, err := fmt.Sscanf(ready, "ready %d", &port); err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	sent := make(chan error, 1)
	go func() {
		sent <- sendStreams(ctx, conn, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), 2,
			streamModel{AudioPPS: 200, VideoPPS: 300, AudioPayload: 40, VideoPayload: 1000,
				UnforwardedPPS: 100, UnforwardedPayload: 500})
	}()
	// Wait until both publishers' streams went through, however slow the machine.
	deadline := time.Now().Add(20 * time.Second)
	var st reflectorStats
	for time.Now().Before(deadline) {
		if st, err = rc.stats(); err != nil {
			t.Fatal(err)
		}
		if st.Forwarded >= 200 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-sent; err != nil {
		t.Errorf("sender: %v", err)
	}
	if st.Forwarded < 200 || st.Dropped != 0 {
		t.Errorf("stats %+v; want 200 forwarded at least, none dropped", st)
	}
	// Every packet goes to the 2 members other than its publisher.
	if st.Forwarded > 2*st.Received {
		t.Errorf("forwarded %d of %d received: more than 2 each", st.Forwarded, st.Received)
	}
	inW.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("reflectorMain: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reflectorMain did not return after stdin closed")
	}
}

func FuzzReflectorForward(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x80, 96, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 1, 2, 3})
	f.Add(sealed(f, 0, kindVideo, 1, []byte("x")))
	f.Add(sealed(f, 1, kindAudio, 2, bytes.Repeat([]byte{9}, 1200)))
	rf, _, _ := testReflector(f, 1, 2, 1, true)
	// forward belongs to one goroutine (the server's, idle here: nothing is
	// sent to its socket); parallel fuzz workers take turns.
	var turn sync.Mutex
	f.Fuzz(func(t *testing.T, pkt []byte) {
		plain, out := make([]byte, 1500), make([]byte, 1500)
		turn.Lock()
		defer turn.Unlock()
		rf.forward(pkt, plain, out)
	})
}

// BenchmarkReflectorForward is the bare reflector's per-packet path: one
// decrypt, then 20 encrypts and 20 sends of a 1000-byte video packet.
func BenchmarkReflectorForward(b *testing.B) {
	rf, _, _ := testReflector(b, 1, 1, 20, true)
	ctx, err := newContext("pub", 0)
	if err != nil {
		b.Fatal(err)
	}
	// Sealed ahead in batches: replay protection refuses a packet twice.
	pkts := make([][]byte, 256)
	next := len(pkts)
	seq := uint16(0)
	plain, out := make([]byte, 1500), make([]byte, 1500)
	b.ReportAllocs()
	for b.Loop() {
		if next == len(pkts) {
			b.StopTimer()
			for i := range pkts {
				p, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq,
					SSRC: streamSSRC(0, kindVideo)}, Payload: make([]byte, 1000)}).Marshal()
				seq++
				pkts[i], _ = ctx.EncryptRTP(pkts[i][:0], p, nil)
			}
			next = 0
			b.StartTimer()
		}
		rf.forward(pkts[next], plain, out)
		next++
	}
	if rf.dropped.Load() != 0 {
		b.Fatalf("%d packets dropped", rf.dropped.Load())
	}
}
