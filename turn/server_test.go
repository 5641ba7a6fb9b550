package turn

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"
	"github.com/switchyard/switchyard/internal/pionlog"
)

// Every socket here is on 127.0.0.1. The echo socket plays the node's
// media port, the one peer AllowPeer accepts.

var loopback = netip.MustParseAddr("127.0.0.1")

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// udpSocket is a loopback UDP socket that counts what it receives and,
// as an echo, sends it back.
type udpSocket struct {
	conn     *net.UDPConn
	received atomic.Int64
}

func listenUDP(t *testing.T, echo bool) *udpSocket {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: loopback.AsSlice()})
	if err != nil {
		t.Fatal(err)
	}
	s := &udpSocket{conn: c}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			s.received.Add(1)
			if echo {
				c.WriteToUDPAddrPort(buf[:n], from)
			}
		}
	}()
	return s
}

func (s *udpSocket) addr() *net.UDPAddr { return s.conn.LocalAddr().(*net.UDPAddr) }

type fixture struct {
	srv   *Server
	clock *clock
	echo  *udpSocket
	cert  *x509.Certificate
}

func newFixture(t *testing.T, edit func(*Config)) *fixture {
	t.Helper()
	f := &fixture{clock: &clock{now: time.Unix(1_700_000_000, 0)}, echo: listenUDP(t, true)}
	tlsCert, cert := selfSigned(t)
	f.cert = cert
	media := f.echo.addr().AddrPort()
	cfg := Config{
		Secret:    []byte("0123456789abcdef-test-secret"),
		RelayIP:   loopback,
		UDPAddr:   "127.0.0.1:0",
		TCPAddr:   "127.0.0.1:0",
		TLSAddr:   "127.0.0.1:0",
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{tlsCert}},
		AllowPeer: func(ap netip.AddrPort) bool { return ap == media },
		Logger:    testLogger(),
		Now:       f.clock.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	srv, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	f.srv = srv
	return f
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "turn.test"},
		DNSNames:     []string{"turn.test"},
		IPAddresses:  []net.IP{loopback.AsSlice()},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, cert
}

// serverAddr is the listener for transport, from URLs.
func (f *fixture) serverAddr(t *testing.T, transport string) string {
	t.Helper()
	prefix := map[string]string{"udp": "turn:", "tcp": "turn:", "tls": "turns:"}[transport]
	suffix := map[string]string{"udp": "?transport=udp", "tcp": "?transport=tcp", "tls": "?transport=tcp"}[transport]
	for _, u := range f.srv.URLs("127.0.0.1") {
		if strings.HasPrefix(u, prefix) && strings.HasSuffix(u, suffix) {
			return strings.TrimSuffix(strings.TrimPrefix(u, prefix), suffix)
		}
	}
	t.Fatalf("no %s URL in %v", transport, f.srv.URLs("127.0.0.1"))
	return ""
}

// client connects a pion TURN client over transport.
func (f *fixture) client(t *testing.T, transport, username, password string) *pionturn.Client {
	t.Helper()
	addr := f.serverAddr(t, transport)
	var conn net.PacketConn
	switch transport {
	case "udp":
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conn = c
	case "tcp":
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn = pionturn.NewSTUNConn(c)
	case "tls":
		roots := x509.NewCertPool()
		roots.AddCert(f.cert)
		d := &net.Dialer{Timeout: 5 * time.Second} // the handshake too
		c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{RootCAs: roots, ServerName: "turn.test"})
		if err != nil {
			t.Fatal(err)
		}
		conn = pionturn.NewSTUNConn(c)
	}
	c, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: addr,
		TURNServerAddr: addr,
		Conn:           conn,
		Username:       username,
		Password:       password,
		RTO:            100 * time.Millisecond,
		LoggerFactory:  pionlog.Factory{Logger: testLogger()},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); conn.Close() })
	return c
}

// allocate allocates for user with fresh credentials.
func (f *fixture) allocate(t *testing.T, transport, user string) (*pionturn.Client, net.PacketConn) {
	t.Helper()
	u, p := f.srv.Credentials(user, time.Hour)
	c := f.client(t, transport, u, p)
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("allocate over %s: %v", transport, err)
	}
	t.Cleanup(func() { relay.Close() })
	return c, relay
}

// echo sends msg to the echo socket through relay and waits for it back.
// msg is longer than 4 bytes: over TCP, pion's STUNConn (the client's
// here) holds a ChannelData frame of 8 bytes or less until the next
// frame arrives.
func (f *fixture) echoThrough(t *testing.T, relay net.PacketConn, msg string) {
	t.Helper()
	if len(msg) <= 4 {
		t.Fatalf("message %q too short", msg)
	}
	if _, err := relay.WriteTo([]byte(msg), f.echo.addr()); err != nil {
		t.Fatalf("send through relay: %v", err)
	}
	buf := make([]byte, 1500)
	relay.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := relay.ReadFrom(buf)
	if err != nil {
		t.Fatalf("read echo of %q: %v", msg, err)
	}
	if got := string(buf[:n]); got != msg || from.String() != f.echo.addr().String() {
		t.Fatalf("got %q from %v, want %q from %v", got, from, msg, f.echo.addr())
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRelayEcho(t *testing.T) {
	f := newFixture(t, nil)
	for _, transport := range []string{"udp", "tcp", "tls"} {
		t.Run(transport, func(t *testing.T) {
			c, relay := f.allocate(t, transport, "alice-"+transport)
			if ip := relay.LocalAddr().(*net.UDPAddr).IP; !ip.Equal(loopback.AsSlice()) {
				t.Errorf("relayed address %v, want IP %v", relay.LocalAddr(), loopback)
			}
			if err := c.CreatePermission(f.echo.addr()); err != nil {
				t.Fatalf("permission for the media address: %v", err)
			}
			f.echoThrough(t, relay, "hello over "+transport)
			f.echoThrough(t, relay, "again over "+transport) // by then over a channel, usually
			if st := f.srv.Stats(); st.Allocations < 1 || st.PermissionsRefused+st.SendsRefused+st.InboundRefused != 0 {
				t.Errorf("stats %+v, want an allocation and nothing refused", st)
			}
		})
	}
}

func TestURLs(t *testing.T) {
	f := newFixture(t, nil)
	port := func(transport string) string {
		_, p, _ := net.SplitHostPort(f.serverAddr(t, transport))
		return p
	}
	want := []string{
		"turn:[::1]:" + port("udp") + "?transport=udp",
		"turn:[::1]:" + port("tcp") + "?transport=tcp",
		"turns:[::1]:" + port("tls") + "?transport=tcp",
	}
	if got := f.srv.URLs("::1"); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("URLs = %v, want %v", got, want)
	}
	g := newFixture(t, func(c *Config) { c.UDPAddr, c.TLSAddr = "", "" })
	if got := g.srv.URLs("turn.example"); len(got) != 1 || !strings.HasPrefix(got[0], "turn:turn.example:") {
		t.Errorf("URLs with only TCP = %v", got)
	}
}

func TestRelayAnnouncedIP(t *testing.T) {
	announced := netip.MustParseAddr("127.0.0.2") // never sent to
	f := newFixture(t, func(c *Config) { c.RelayIP, c.RelayBindIP = announced, loopback })
	_, relay := f.allocate(t, "udp", "alice")
	if ip := relay.LocalAddr().(*net.UDPAddr).IP; !ip.Equal(announced.AsSlice()) {
		t.Fatalf("relayed address %v, want IP %v", relay.LocalAddr(), announced)
	}
	f.echoThrough(t, relay, "hello")
}

func TestCredentialsRefused(t *testing.T) {
	f := newFixture(t, nil)
	good, _ := f.srv.Credentials("alice", time.Minute)
	signed := func(username string) [2]string { return [2]string{username, restPassword(f.srv.secret, username)} }
	expiring, _ := f.srv.Credentials("bob", time.Minute)
	expiringPass := restPassword(f.srv.secret, expiring)
	for _, tc := range []struct {
		name  string
		creds [2]string
		clock time.Duration // advanced before allocating
	}{
		{"wrong password", [2]string{good, "d3Jvbmc="}, 0},
		{"other secret", [2]string{good, restPassword([]byte("another secret of 16+"), good)}, 0},
		{"no expiry", signed("alice"), 0},
		{"signed expiry", signed("+99999999999:alice"), 0},
		{"negative expiry", signed("-1:alice"), 0},
		{"no user", signed("99999999999:"), 0},
		{"expired", [2]string{expiring, expiringPass}, 2 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.clock.Add(tc.clock)
			before := f.srv.Stats().CredentialsRefused
			c := f.client(t, "udp", tc.creds[0], tc.creds[1])
			if relay, err := c.Allocate(); err == nil {
				relay.Close()
				t.Fatal("allocation granted")
			}
			if got := f.srv.Stats().CredentialsRefused - before; got != 1 {
				t.Errorf("CredentialsRefused went up by %d, want 1", got)
			}
		})
	}
	f.allocate(t, "udp", "carol") // fresh credentials still work
	if st := f.srv.Stats(); st.Allocations != 1 {
		t.Errorf("%d allocations, want 1", st.Allocations)
	}
}

func TestQuota(t *testing.T) {
	const max = 2
	f := newFixture(t, func(c *Config) { c.MaxAllocationsPerUser = max })
	var relays []net.PacketConn
	for i := 0; i < max; i++ {
		_, r := f.allocate(t, "udp", "alice")
		relays = append(relays, r)
	}
	u, p := f.srv.Credentials("alice", time.Hour)
	if r, err := f.client(t, "tcp", u, p).Allocate(); err == nil {
		r.Close()
		t.Fatalf("allocation %d of one user granted", max+1)
	}
	if st := f.srv.Stats(); st.QuotaRefused != 1 || st.Allocations != max {
		t.Fatalf("stats %+v, want QuotaRefused 1 and %d allocations", st, max)
	}
	f.allocate(t, "udp", "bob") // another user is not held back

	// Ending an allocation frees its place.
	relays[0].Close()
	waitFor(t, "the allocation to end", func() bool { return f.srv.Stats().Allocations == max })
	f.allocate(t, "udp", "alice")
}

func TestForbiddenPeers(t *testing.T) {
	f := newFixture(t, nil)
	other := listenUDP(t, false) // a local service that is not the media port
	c, relay := f.allocate(t, "udp", "mallory")

	refused := func() uint64 { return f.srv.Stats().PermissionsRefused }
	// Only permissions are asked for the non-loopback ones: nothing is
	// ever sent to them, even if the protection were gone.
	for i, peer := range []*net.UDPAddr{
		{IP: net.IPv4(127, 0, 0, 1), Port: 22},
		other.addr(),
		{IP: net.IPv4(127, 0, 0, 2), Port: f.echo.addr().Port},
		{IP: net.IPv4(10, 0, 0, 1), Port: 5000},
		{IP: net.IPv4(169, 254, 169, 254), Port: 80},
		{IP: net.IPv4(192, 168, 1, 1), Port: 53},
		{IP: net.IPv4(0, 0, 0, 0), Port: f.echo.addr().Port},
	} {
		if err := c.CreatePermission(peer); err == nil {
			t.Errorf("permission for %v granted", peer)
		}
		if got := refused(); got != uint64(i+1) {
			t.Errorf("after %v: PermissionsRefused %d, want %d", peer, got, i+1)
		}
	}
	// One forbidden address among allowed ones spoils the request.
	if err := c.CreatePermission(f.echo.addr(), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22}); err == nil {
		t.Error("permission for the media address and port 22 granted")
	}

	// A permission for the media address covers its IP, so the client
	// may send to other ports of it: each datagram is checked. (pion's
	// client keys permissions by IP too, so after this it sends to
	// another port of the IP without asking.)
	f.echoThrough(t, relay, "permission for the media IP")
	for i := 0; i < 3; i++ {
		if _, err := relay.WriteTo([]byte("forged"), other.addr()); err != nil {
			t.Fatal(err)
		}
	}
	f.echoThrough(t, relay, "after forged") // the forged ones were handled before it
	time.Sleep(50 * time.Millisecond)
	if n := other.received.Load(); n != 0 {
		t.Fatalf("the other socket received %d datagrams", n)
	}
	if n := f.srv.Stats().SendsRefused; n != 3 {
		t.Errorf("SendsRefused %d, want 3", n)
	}

	// Nor may other local sockets reach the client through the relay.
	relayAddr := &net.UDPAddr{IP: loopback.AsSlice(), Port: relay.LocalAddr().(*net.UDPAddr).Port}
	if _, err := other.conn.WriteTo([]byte("intruder"), relayAddr); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "inbound refused", func() bool { return f.srv.Stats().InboundRefused == 1 })
	f.echoThrough(t, relay, "after intruder")

	time.Sleep(100 * time.Millisecond)
	if n := other.received.Load(); n != 0 {
		t.Fatalf("the other socket received %d datagrams", n)
	}
}

func TestJunkConnections(t *testing.T) {
	short := 300 * time.Millisecond
	defer func(old time.Duration) { helloTimeout = old }(helloTimeout)
	helloTimeout = short

	f := newFixture(t, nil)
	_, relay := f.allocate(t, "tls", "alice")
	f.echoThrough(t, relay, "before")

	junk := []struct {
		name, transport string
		send            []byte
	}{
		{"http on tls", "tls", []byte("GET / HTTP/1.1\r\nHost: turn.test\r\n\r\n")},
		{"garbage on tls", "tls", bytes.Repeat([]byte{0xff, 0x00, 0x17}, 2000)},
		{"half a tls record", "tls", []byte{0x16, 0x03, 0x01}},
		{"silent on tls", "tls", nil},
		{"http on tcp", "tcp", []byte("GET / HTTP/1.1\r\nHost: turn.test\r\n\r\n")},
		{"half a stun header on tcp", "tcp", []byte{0x00, 0x01, 0x00}},
	}
	conns := make([]net.Conn, len(junk))
	for i, j := range junk {
		c, err := net.Dial("tcp", f.serverAddr(t, j.transport))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(j.send); err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}

	// While they are open, an allocation made before and one made now
	// both work.
	f.echoThrough(t, relay, "during")
	_, relay2 := f.allocate(t, "tls", "bob")
	f.echoThrough(t, relay2, "new allocation")

	// The server hangs up on each.
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(short + 3*time.Second))
		_, err := io.Copy(io.Discard, c) // nil at EOF; a reset is closed too
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("%s: the server left the connection open", junk[i].name)
		}
	}
	f.echoThrough(t, relay, "after")
	f.echoThrough(t, relay2, "after")
}

// testLogger writes everything, pion's trace lines too, to nowhere: the
// logging paths run, and nothing logs into a finished test.
func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug - 4}))
}

func TestStartRefusesBadConfig(t *testing.T) {
	good := func() Config {
		return Config{Secret: make([]byte, 16), RelayIP: loopback, UDPAddr: "127.0.0.1:0"}
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"short secret", func(c *Config) { c.Secret = make([]byte, 15) }},
		{"no relay IP", func(c *Config) { c.RelayIP = netip.Addr{} }},
		{"unspecified relay IP", func(c *Config) { c.RelayIP = netip.IPv4Unspecified() }},
		{"bind IP of another family", func(c *Config) { c.RelayBindIP = netip.IPv6Loopback() }},
		{"no listener", func(c *Config) { c.UDPAddr = "" }},
		{"TLS without certificate", func(c *Config) { c.TLSAddr, c.TLSConfig = "127.0.0.1:0", &tls.Config{} }},
		{"bad address", func(c *Config) { c.TCPAddr = "127.0.0.1:99999" }},
	} {
		cfg := good()
		tc.edit(&cfg)
		if s, err := Start(cfg); err == nil {
			s.Close()
			t.Errorf("%s: started", tc.name)
		}
	}
	s, err := Start(good())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
