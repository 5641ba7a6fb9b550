package relay

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/linkemu"
)

type received struct {
	from NodeID
	pkt  Packet
}

type node struct {
	t  *Transport
	id NodeID
	ch chan received
}

func quietLogger() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}

func startNode(t *testing.T, name string, secret []byte) *node {
	t.Helper()
	n := &node{id: NodeIDFromName(name), ch: make(chan received, 1024)}
	k := mustKeys(t, n.id, Secret{Epoch: 1, Key: secret})
	tr, err := Listen("127.0.0.1:0", Config{
		Keys: k,
		Name: name,
		Handler: func(from NodeID, p *Packet) {
			c := *p
			c.Payload = bytes.Clone(p.Payload)
			n.ch <- received{from, c}
		},
		Logger:       quietLogger(),
		PingInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	n.t = tr
	return n
}

func (n *node) addr() netip.AddrPort {
	return n.t.LocalAddr().(*net.UDPAddr).AddrPort()
}

func connect(t *testing.T, a, b *node, ab, ba linkemu.Params) {
	t.Helper()
	if err := a.t.AddPeer(b.id, b.addr(), ab); err != nil {
		t.Fatal(err)
	}
	if err := b.t.AddPeer(a.id, a.addr(), ba); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond; the deadline only stops a broken test from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (n *node) expect(t *testing.T, from NodeID, want Packet) {
	t.Helper()
	select {
	case r := <-n.ch:
		if r.from != from || r.pkt.Type != want.Type || r.pkt.Layer != want.Layer ||
			r.pkt.Conference != want.Conference || r.pkt.Endpoint != want.Endpoint || !bytes.Equal(r.pkt.Payload, want.Payload) {
			t.Fatalf("received %d %+v, want %d %+v", r.from, r.pkt, from, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("packet %q never arrived", want.Payload)
	}
}

func linkUp(n *node, peer NodeID) func() bool {
	return func() bool {
		l, ok := n.t.Link(peer)
		return ok && l.Up && l.RTT > 0
	}
}

func TestTransportExchange(t *testing.T) {
	a, b := startNode(t, "us-1", secretA), startNode(t, "eu-1", secretA)
	connect(t, a, b, linkemu.Params{}, linkemu.Params{})

	var sentBytes [NumLayers]uint64
	for i := range 200 {
		p := Packet{
			Type:       []Type{TypeRTP, TypeRTCP, TypeMessage}[i%3],
			Layer:      Layer(1 + i%3),
			Conference: fmt.Sprintf("room-%d", i%2),
			Endpoint:   "alice",
			Payload:    fmt.Appendf(nil, "packet %d", i),
		}
		if err := a.t.Send(b.id, &p); err != nil {
			t.Fatal(err)
		}
		sentBytes[p.Layer] += uint64(Overhead(p.Conference, p.Endpoint) + len(p.Payload))
		b.expect(t, a.id, p)
	}
	reply := Packet{Type: TypeRTCP, Conference: "room-0", Endpoint: "bob", Payload: []byte("pli")}
	if err := b.t.Send(a.id, &reply); err != nil {
		t.Fatal(err)
	}
	a.expect(t, b.id, reply)

	waitFor(t, "RTT on both sides", func() bool { return linkUp(a, b.id)() && linkUp(b, a.id)() })
	la, _ := a.t.Link(b.id)
	lb, _ := b.t.Link(a.id)
	t.Logf("loopback RTT: a->b %v (min %v), b->a %v", la.SmoothedRTT, la.MinRTT, lb.SmoothedRTT)
	if la.Name != "eu-1" || lb.Name != "us-1" {
		t.Errorf("peer names from hello: %q, %q", la.Name, lb.Name)
	}
	for l := Layer(1); l <= 3; l++ {
		if la.OutLayerBytes[l] != sentBytes[l] || lb.InLayerBytes[l] != sentBytes[l] {
			t.Errorf("layer %d bytes: sent %d, a counted out %d, b counted in %d", l, sentBytes[l], la.OutLayerBytes[l], lb.InLayerBytes[l])
		}
	}
	if la.Out[0].Packets != 67 || lb.In[0].Packets != 67 || la.Out[2].Packets != 66 {
		t.Errorf("per-type packets: out %+v in %+v", la.Out, lb.In)
	}
	if s := b.t.Stats(); s.Drops != [NumDropReasons]uint64{} && s.Drops[ErrUnknownPeer] == 0 {
		t.Errorf("drops on a clean link: %v", s.Drops)
	}
}

func TestTransportSendErrors(t *testing.T) {
	a := startNode(t, "us-1", secretA)
	if err := a.t.Send(idC, &Packet{Type: TypeRTP}); err != ErrUnknownPeer {
		t.Errorf("send to unknown peer: %v", err)
	}
	if err := a.t.AddPeer(a.id, netip.MustParseAddrPort("127.0.0.1:1"), linkemu.Params{}); err == nil {
		t.Error("added itself as a peer")
	}
	if err := a.t.AddPeer(idC, netip.AddrPort{}, linkemu.Params{}); err == nil {
		t.Error("added a peer without an address")
	}
	if err := a.t.AddPeer(idC, netip.MustParseAddrPort("127.0.0.1:9"), linkemu.Params{Loss: 2}); err == nil {
		t.Error("accepted loss 2")
	}
	a.t.Close()
	if err := a.t.Send(idC, &Packet{Type: TypeRTP}); err != ErrClosed {
		t.Errorf("send after close: %v", err)
	}
}

func TestTransportEmulatedDelay(t *testing.T) {
	a, b := startNode(t, "us-1", secretA), startNode(t, "ap-1", secretA)
	const oneWay = 25 * time.Millisecond
	connect(t, a, b, linkemu.Params{Delay: oneWay}, linkemu.Params{Delay: oneWay})
	waitFor(t, "RTT", linkUp(a, b.id))
	l, _ := a.t.Link(b.id)
	t.Logf("emulated RTT %v (2 x %v one way)", l.RTT, oneWay)
	// A lower bound only: the emulator must never deliver early.
	if l.MinRTT < 2*oneWay {
		t.Errorf("RTT %v below the emulated %v", l.MinRTT, 2*oneWay)
	}
	if l.Impairment.Delay != oneWay || l.Emulated.Delivered == 0 {
		t.Errorf("link stats = %+v", l)
	}
}

func TestTransportMeasuresLoss(t *testing.T) {
	a, b := startNode(t, "us-1", secretA), startNode(t, "eu-1", secretA)
	connect(t, a, b, linkemu.Params{Loss: 1}, linkemu.Params{})
	// Everything a sends is lost, so a never hears a pong.
	waitFor(t, "ping loss", func() bool {
		l, _ := a.t.Link(b.id)
		return l.PingLoss == 1
	})
	// Now let half through and watch b see the gaps in a's sequence.
	if err := a.t.AddPeer(b.id, b.addr(), linkemu.Params{Loss: 0.5}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "receive loss", func() bool {
		l, _ := b.t.Link(a.id)
		return l.RxLoss > 0 && l.RxLoss < 1
	})
}

func TestTransportDropsBadDatagrams(t *testing.T) {
	a, b := startNode(t, "us-1", secretA), startNode(t, "eu-1", secretA)
	connect(t, a, b, linkemu.Params{}, linkemu.Params{})
	waitFor(t, "link up", func() bool { return linkUp(a, b.id)() && linkUp(b, a.id)() })

	attacker, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()

	// The attacker's well-formed datagrams come from c, a peer of b that the
	// test holds the keys of; a's own link must keep working throughout.
	kc := mustKeys(t, idC)
	if err := b.t.AddPeer(idC, netip.MustParseAddrPort("127.0.0.1:9"), linkemu.Params{}); err != nil {
		t.Fatal(err)
	}
	var seq atomic.Uint64
	genuine := func() []byte { return seal(t, kc, b.id, seq.Add(1), "room", "alice", []byte("x")) }
	replayed := genuine()

	tests := []struct {
		name   string
		reason DropReason
		n      int
		make   func(i int) []byte
	}{
		{"garbage", ErrTruncated, 20, func(i int) []byte { return []byte(fmt.Sprintf("junk %d", i)) }},
		{"oversized", ErrOversized, 4, func(int) []byte { return make([]byte, MaxDatagram+100) }},
		{"version", ErrVersion, 20, func(int) []byte { d := genuine(); d[0] = 9; return d }},
		{"misdirected", ErrMisdirected, 20, func(int) []byte { return seal(t, kc, a.id, seq.Add(1), "r", "e", nil) }},
		{"stranger", ErrUnknownPeer, 20, func(int) []byte {
			return seal(t, mustKeys(t, NodeIDFromName("stranger")), b.id, seq.Add(1), "r", "e", nil)
		}},
		{"forged", ErrAuth, 20, func(int) []byte { d := genuine(); d[len(d)-3] ^= 4; return d }},
		{"wrong secret", ErrAuth, 20, func(int) []byte {
			return seal(t, mustKeys(t, idC, Secret{Epoch: 1, Key: secretB}), b.id, seq.Add(1), "r", "e", nil)
		}},
		{"unknown epoch", ErrEpoch, 20, func(int) []byte {
			return seal(t, mustKeys(t, idC, Secret{Epoch: 7, Key: secretA}), b.id, seq.Add(1), "r", "e", nil)
		}},
		{"replay", ErrReplay, 20, func(int) []byte { return replayed }},
	}
	if _, err := attacker.WriteToUDPAddrPort(replayed, b.addr()); err != nil {
		t.Fatal(err)
	}
	b.expect(t, idC, Packet{Type: TypeRTP, Layer: 2, Conference: "room", Endpoint: "alice", Payload: []byte("x")})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := b.t.Stats().Drops
			// Few enough per burst to fit the socket's receive buffer.
			n := uint64(tt.n)
			for i := range tt.n {
				if _, err := attacker.WriteToUDPAddrPort(tt.make(i), b.addr()); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, tt.reason.String()+" drops", func() bool {
				return b.t.Stats().Drops[tt.reason] >= before[tt.reason]+n
			})
			after := b.t.Stats().Drops
			for r := range after {
				if want := before[r] + map[bool]uint64{true: n}[DropReason(r) == tt.reason]; after[r] != want {
					t.Errorf("%v drops: %d, want %d", DropReason(r), after[r], want)
				}
			}
			// Good traffic still flows.
			p := Packet{Type: TypeRTP, Conference: "room", Endpoint: "alice", Payload: []byte(tt.name)}
			if err := a.t.Send(b.id, &p); err != nil {
				t.Fatal(err)
			}
			b.expect(t, a.id, p)
		})
	}
}

func TestTransportPathDoesNotAllocate(t *testing.T) {
	// b's peer a exists only as keys: nothing sends to b's socket, so the
	// test can drive b.handle directly without racing its receive loop.
	b := startNode(t, "eu-1", secretA)
	b.t.h = func(NodeID, *Packet) {} // the test handler copies; the transport must not
	ka := mustKeys(t, idA)
	if err := b.t.AddPeer(idA, netip.MustParseAddrPort("127.0.0.1:9"), linkemu.Params{}); err != nil {
		t.Fatal(err)
	}
	datagrams := make([][]byte, 200)
	for i := range datagrams {
		datagrams[i] = seal(t, ka, b.id, uint64(i+1), "room", "alice", make([]byte, 1200))
	}
	plain := make([]byte, 0, MaxDatagram)
	from := netip.MustParseAddrPort("127.0.0.1:9")
	if _, ok := b.t.handle(datagrams[0], plain, from); !ok {
		t.Fatal("first datagram dropped")
	}
	i := 1
	if n := testing.AllocsPerRun(100, func() {
		if r, ok := b.t.handle(datagrams[i], plain, from); !ok {
			t.Fatalf("datagram %d dropped: %v", i, r)
		}
		i++
	}); n != 0 {
		t.Errorf("receive path: %v allocs per datagram", n)
	}
	p := &Packet{Type: TypeRTP, Layer: 1, Conference: "room", Endpoint: "bob", Payload: make([]byte, 1200)}
	if n := testing.AllocsPerRun(100, func() {
		if err := b.t.Send(idA, p); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("send path: %v allocs per datagram", n)
	}
}

type countingHandler struct {
	mu      sync.Mutex
	reasons []string
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "reason" {
			h.reasons = append(h.reasons, a.Value.String())
		}
		return true
	})
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

func TestDropLogIsRateLimited(t *testing.T) {
	h := &countingHandler{}
	now := time.Unix(1000, 0)
	d := dropLog{log: slog.New(h), now: func() time.Time { return now }, interval: 10 * time.Second}
	from := netip.MustParseAddrPort("127.0.0.1:5")
	for range 1000 {
		d.drop(ErrAuth, from)
	}
	d.drop(ErrReplay, from)
	now = now.Add(9 * time.Second)
	d.drop(ErrAuth, from)
	now = now.Add(2 * time.Second)
	d.drop(ErrAuth, from)
	want := []string{"authentication", "replay", "authentication"}
	if fmt.Sprint(h.reasons) != fmt.Sprint(want) {
		t.Errorf("logged %v, want %v", h.reasons, want)
	}
	if d.counts[ErrAuth].Load() != 1002 || d.counts[ErrReplay].Load() != 1 {
		t.Errorf("counts: auth %d replay %d", d.counts[ErrAuth].Load(), d.counts[ErrReplay].Load())
	}
}

func BenchmarkTransportSend(b *testing.B) {
	tr, err := Listen("127.0.0.1:0", Config{Keys: mustKeys(b, idA), Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	sink, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	if err := tr.AddPeer(idB, sink.LocalAddr().(*net.UDPAddr).AddrPort(), linkemu.Params{}); err != nil {
		b.Fatal(err)
	}
	p := &Packet{Type: TypeRTP, Layer: 1, Conference: "conference-0001", Endpoint: "endpoint-0001", Payload: make([]byte, 1200)}
	b.SetBytes(1200)
	b.ReportAllocs()
	for b.Loop() {
		if err := tr.Send(idB, p); err != nil {
			b.Fatal(err)
		}
	}
}

func TestTransportGoodTrafficFlowsDuringFlood(t *testing.T) {
	a, b := startNode(t, "us-1", secretA), startNode(t, "eu-1", secretA)
	connect(t, a, b, linkemu.Params{}, linkemu.Params{})
	waitFor(t, "link up", func() bool { return linkUp(a, b.id)() && linkUp(b, a.id)() })

	attacker, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	// Junk in every shape: random bytes, valid-looking headers from a (no
	// valid tag), and short ones.
	forged := seal(t, mustKeys(t, a.id, Secret{Epoch: 1, Key: secretB}), b.id, 1<<62, "room", "alice", make([]byte, 200))
	stop := make(chan struct{})
	var flooded atomic.Uint64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		junk := make([]byte, 300)
		x := uint64(88172645463325252)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			var d []byte
			switch i % 3 {
			case 0:
				for j := range junk {
					x ^= x << 13
					x ^= x >> 7
					x ^= x << 17
					junk[j] = byte(x)
				}
				d = junk[:x%uint64(len(junk))]
			case 1:
				forged[HeaderLen+i%100]++
				d = forged
			case 2:
				d = junk[:10]
			}
			if _, err := attacker.WriteToUDPAddrPort(d, b.addr()); err == nil {
				flooded.Add(1)
			}
		}
	}()

	got := map[string]bool{}
	for i := 0; len(got) < 50; i++ {
		p := Packet{Type: TypeRTP, Conference: "room", Endpoint: "alice", Payload: fmt.Appendf(nil, "good %d", len(got))}
		if err := a.t.Send(b.id, &p); err != nil {
			t.Fatal(err)
		}
		// Under a flood the kernel may drop good datagrams too; resend
		// until each one gets through, as RTP repair would.
		select {
		case r := <-b.ch:
			if !bytes.HasPrefix(r.pkt.Payload, []byte("good ")) || r.from != a.id {
				t.Fatalf("handler got %q from %d", r.pkt.Payload, r.from)
			}
			got[string(r.pkt.Payload)] = true
		case <-time.After(50 * time.Millisecond):
		}
		if i > 100000 {
			t.Fatal("good traffic starved")
		}
	}
	close(stop)
	wg.Wait()
	s := b.t.Stats()
	var dropped uint64
	for _, n := range s.Drops {
		dropped += n
	}
	t.Logf("flood: %d junk datagrams sent, %d dropped by b (%v); 50 good packets through", flooded.Load(), dropped, s.Drops)
	if s.Drops[ErrAuth] == 0 || s.Drops[ErrTruncated] == 0 {
		t.Errorf("flood not counted: %v", s.Drops)
	}
	if dropped > flooded.Load()+1 { // +1: a's first hello may arrive before b knows a
		t.Errorf("%d drops for %d junk datagrams", dropped, flooded.Load())
	}
}

func TestTransportPeerRestart(t *testing.T) {
	a, b := startNode(t, "us-1", secretA), startNode(t, "eu-1", secretA)
	connect(t, a, b, linkemu.Params{}, linkemu.Params{})
	waitFor(t, "names", func() bool {
		la, _ := a.t.Link(b.id)
		lb, _ := b.t.Link(a.id)
		return la.Name == "eu-1" && lb.Name == "us-1"
	})
	p := Packet{Type: TypeRTP, Conference: "room", Endpoint: "alice", Payload: []byte("before")}
	if err := a.t.Send(b.id, &p); err != nil {
		t.Fatal(err)
	}
	b.expect(t, a.id, p)

	// a restarts on a new port with fresh state. b only learns the new
	// address; a's new sequence starts above the old one, so b's replay
	// window takes it at once, and a learns b's name again from the answer
	// to its announcement even though b's pings also reach it.
	a.t.Close()
	a2 := startNode(t, "us-1", secretA)
	if err := b.t.AddPeer(a2.id, a2.addr(), linkemu.Params{}); err != nil {
		t.Fatal(err)
	}
	if err := a2.t.AddPeer(b.id, b.addr(), linkemu.Params{}); err != nil {
		t.Fatal(err)
	}
	p.Payload = []byte("after")
	if err := a2.t.Send(b.id, &p); err != nil {
		t.Fatal(err)
	}
	b.expect(t, a2.id, p)
	waitFor(t, "name after restart", func() bool {
		l, _ := a2.t.Link(b.id)
		return l.Name == "eu-1"
	})
	if d := b.t.Stats().Drops[ErrReplay]; d != 0 {
		t.Errorf("%d of the restarted peer's datagrams dropped as replays", d)
	}
}

// TestStatsWhilePeersJoin: a peer appears in Stats (and to senders) only
// with its route; reading stats while peers are added must not find one
// without (it used to crash a node's snapshot at cluster start).
func TestStatsWhilePeersJoin(t *testing.T) {
	a := startNode(t, "a", []byte("0123456789abcdef0123456789abcdef"))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 300 {
			addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(20000+i))
			if err := a.t.AddPeer(NodeID(1000+i), addr, linkemu.Params{}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for {
		for _, l := range a.t.Stats().Links {
			if !l.Addr.IsValid() {
				t.Fatalf("peer %d listed without its address", l.Peer)
			}
		}
		select {
		case <-done:
			if n := len(a.t.Stats().Links); n != 300 {
				t.Fatalf("%d links, want 300", n)
			}
			return
		default:
		}
	}
}

// TestSilentPeer: a peer that stops answering is reported silent within
// SilentAfter at the default ping interval, well before the membership
// would declare it dead, and a live peer never is.
func TestSilentPeer(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	start := func(name string) *node {
		n := &node{id: NodeIDFromName(name)}
		tr, err := Listen("127.0.0.1:0", Config{Keys: mustKeys(t, n.id, Secret{Epoch: 1, Key: secret}), Name: name, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		n.t = tr
		return n
	}
	a, dead, live := start("a"), start("dead"), start("live")
	if got := a.t.SilentAfter(); got >= 1500*time.Millisecond {
		t.Fatalf("SilentAfter %v at the default ping interval, want well under 1.5 s", got)
	}
	if !a.t.Silent(dead.id, time.Now()) {
		t.Error("a peer never added is not silent")
	}
	connect(t, a, dead, linkemu.Params{}, linkemu.Params{})
	connect(t, a, live, linkemu.Params{}, linkemu.Params{})
	waitFor(t, "both peers heard", func() bool {
		now := time.Now()
		return !a.t.Silent(dead.id, now) && !a.t.Silent(live.id, now)
	})
	// Let a few pings pass so the live link is in its steady state.
	time.Sleep(3 * DefaultPingInterval)

	closed := time.Now()
	dead.t.Close()
	var took time.Duration
	for deadline := closed.Add(5 * time.Second); ; {
		now := time.Now()
		if a.t.Silent(live.id, now) {
			t.Fatalf("live peer reported silent %v after the other closed", now.Sub(closed))
		}
		if took == 0 && a.t.Silent(dead.id, now) {
			took = now.Sub(closed)
			// Keep watching the live peer for as long again.
			deadline = now.Add(took)
		}
		if now.After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if took == 0 {
		t.Fatal("closed peer never reported silent")
	}
	t.Logf("closed peer silent after %v (SilentAfter %v)", took.Round(time.Millisecond), a.t.SilentAfter())
	if took > a.t.SilentAfter()+250*time.Millisecond {
		t.Errorf("closed peer silent after %v, want within %v", took, a.t.SilentAfter())
	}
	if heard, ok := a.t.LastHeard(dead.id); !ok || heard.After(closed) {
		t.Errorf("last heard from the closed peer at %v (%v), closed at %v", heard, ok, closed)
	}
	if l, _ := a.t.Link(dead.id); l.Up {
		t.Error("Stats still show the closed peer up")
	}
}
