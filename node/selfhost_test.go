package node_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/node"
	"github.com/switchyard/switchyard/node/nodetest"
	"github.com/switchyard/switchyard/node/signal"
)

const authSecret = "switchyard-test-auth-secret-of-32-bytes-or-more"

func requireAuth(c *node.Config) {
	on := true
	c.Auth.Required = &on
	c.Auth.Secret = authSecret
}

func token(t *testing.T, room, name string, g auth.Grants, ttl time.Duration) string {
	t.Helper()
	tok, err := auth.Issue([]byte(authSecret), auth.Claims{Room: room, Name: name, Identity: "id-" + name, Grants: g}, ttl, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

var (
	publisher = auth.Grants{Publish: true, Subscribe: true}
	watcher   = auth.Grants{Subscribe: true}
	moderator = auth.Grants{Publish: true, Subscribe: true, Moderator: true}
)

// joinErr joins and returns the node's refusal.
func joinErr(t *testing.T, n *node.Node, o client.Options) error {
	t.Helper()
	o.URL = wsURL(n)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Join(ctx, o)
	if err == nil {
		_ = c.Close()
		return nil
	}
	return err
}

func TestJoinTokens(t *testing.T) {
	n := nodetest.Start(t, requireAuth)
	expired, _ := auth.Issue([]byte(authSecret), auth.Claims{Room: "r", Name: "x", Grants: publisher}, time.Minute, time.Now().Add(-time.Hour))
	future, _ := auth.Issue([]byte(authSecret), auth.Claims{Room: "r", Name: "x", Grants: publisher}, time.Hour, time.Now().Add(time.Hour))
	forged, _ := auth.Issue([]byte(strings.Repeat("x", 40)), auth.Claims{Room: "r", Name: "x", Grants: publisher}, time.Hour, time.Now())
	cases := []struct {
		name, token, code string
	}{
		{"no token", "", signal.CodeUnauthorized},
		{"expired", expired, auth.CodeExpired},
		{"not yet valid", future, auth.CodeNotYetValid},
		{"forged", forged, auth.CodeInvalid},
		{"alg none", "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJyb29tIjoiciIsImV4cCI6OTk5OTk5OTk5OX0.", auth.CodeInvalid},
		{"other room", token(t, "elsewhere", "x", publisher, time.Hour), auth.CodeWrongRoom},
		{"garbage", "not.a.token", auth.CodeInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := dialWS(t, n)
			w.sendJSON(signal.Message{Type: signal.TypeJoin, Room: "r", Name: "x", Token: tc.token})
			w.wantError(tc.code, true)
		})
	}
	t.Run("valid token names the participant", func(t *testing.T) {
		w := dialWS(t, n)
		w.sendJSON(signal.Message{Type: signal.TypeJoin, Room: "r", Token: token(t, "r", "Ada", moderator, time.Hour)})
		m, err := w.next(signal.TypeJoined)
		if err != nil {
			t.Fatal(err)
		}
		if m.Grants == nil || !m.Grants.Moderator || !m.Grants.Publish {
			t.Fatalf("joined grants %+v, want the token's", m.Grants)
		}
		snap := n.Snapshot()
		conf, _ := snap.Find("r")
		if p, ok := conf.Find(m.ID); !ok || p.Name != "Ada" {
			t.Fatalf("participant %+v: want the token's name", p)
		}
	})
	t.Run("a pattern room", func(t *testing.T) {
		w := dialWS(t, n)
		w.sendJSON(signal.Message{Type: signal.TypeJoin, Room: "team-7", Name: "x", Token: token(t, "team-*", "x", publisher, time.Hour)})
		if _, err := w.next(signal.TypeJoined); err != nil {
			t.Fatal(err)
		}
	})
	// The Go client carries the token.
	if err := joinErr(t, n, client.Options{Room: "r", Name: "bo"}); err == nil || !strings.Contains(err.Error(), signal.CodeUnauthorized) {
		t.Fatalf("client without token: %v, want %s", err, signal.CodeUnauthorized)
	}
	if err := joinErr(t, n, client.Options{Room: "r", Name: "bo", Token: token(t, "r", "bo", publisher, time.Hour)}); err != nil {
		t.Fatalf("client with token: %v", err)
	}
}

// A subscribe-only participant's media is refused; it still receives.
func TestSubscribeOnlyCannotPublish(t *testing.T) {
	n := nodetest.Start(t, requireAuth)
	pub := join(t, n, "talk", "speaker", func(o *client.Options) {
		publishing(o)
		o.Token = token(t, "talk", "speaker", publisher, time.Hour)
	})
	viewer := join(t, n, "talk", "viewer", func(o *client.Options) {
		publishing(o) // tries to publish anyway
		o.Token = token(t, "talk", "viewer", watcher, time.Hour)
	})
	receivesAt(t, 20*time.Second, viewer, pub, 0)
	time.Sleep(2 * time.Second)
	if s, ok := pub.Received()[viewer.ID()]; ok && (s.AudioPackets > 0 || s.VideoPackets > 0) {
		t.Fatalf("the subscribe-only participant's media reached others: %s", streamString(s))
	}
	p, _ := findParticipant(n, "talk", viewer.ID())
	if p == nil || p.Audio || len(p.Layers) != 0 {
		t.Fatalf("node lists the subscribe-only participant as publishing: %+v", p)
	}
	if g := viewer.Grants(); g.Publish || !g.Subscribe {
		t.Fatalf("viewer's grants %+v", g)
	}
}

// A moderator kicks and mutes from signaling; others may not.
func TestModeratorActions(t *testing.T) {
	n := nodetest.Start(t, requireAuth)
	target := join(t, n, "mod", "target", func(o *client.Options) {
		publishing(o)
		o.Token = token(t, "mod", "target", publisher, time.Hour)
	})
	plain := dialWS(t, n)
	plain.sendJSON(signal.Message{Type: signal.TypeJoin, Room: "mod", Token: token(t, "mod", "plain", publisher, time.Hour)})
	if _, err := plain.next(signal.TypeJoined); err != nil {
		t.Fatal(err)
	}
	plain.sendJSON(signal.Message{Type: signal.TypeKick, ID: target.ID()})
	plain.wantError(signal.CodeForbidden, false)

	mod := dialWS(t, n)
	mod.sendJSON(signal.Message{Type: signal.TypeJoin, Room: "mod", Token: token(t, "mod", "chair", moderator, time.Hour)})
	if _, err := mod.next(signal.TypeJoined); err != nil {
		t.Fatal(err)
	}
	mod.sendJSON(signal.Message{Type: signal.TypeMute, ID: target.ID(), Muted: true})
	waitFor(t, 5*time.Second, "the target to be muted", func() (bool, string) {
		p, _ := findParticipant(n, "mod", target.ID())
		return p != nil && p.AudioMuted, fmt.Sprintf("%+v", p != nil && p.AudioMuted)
	})
	mod.sendJSON(signal.Message{Type: signal.TypeKick, ID: target.ID()})
	select {
	case <-target.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the kicked participant is still connected")
	}
	if m, ok := target.LastError(); !ok || m.Code != signal.CodeRemoved {
		t.Fatalf("kicked participant's last error %+v, want %s", m, signal.CodeRemoved)
	}
}

// Off loopback the API and metrics need the key; the admin address is the
// other way. (0.0.0.0 in the test's own namespace is still only loopback.)
func TestAPIProtectedOffLoopback(t *testing.T) {
	get := func(url, key string) int {
		req, _ := http.NewRequest("GET", url, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	public := func(c *node.Config) { c.HTTPAddr = "0.0.0.0:0"; c.Auth.Secret = authSecret }
	local := func(n *node.Node) string {
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(n.URL(), "http://"))
		return "http://127.0.0.1:" + port
	}
	t.Run("no key: refused", func(t *testing.T) {
		n := nodetest.Start(t, public)
		for _, path := range []string{"/api/v1/node", "/api/v1/snapshot", "/metrics"} {
			if code := get(local(n)+path, ""); code != http.StatusUnauthorized {
				t.Errorf("%s without a key: %d, want 401", path, code)
			}
		}
		if code := get(local(n)+"/", ""); code != http.StatusOK {
			t.Errorf("the web client: %d, want 200", code)
		}
	})
	t.Run("with the key", func(t *testing.T) {
		n := nodetest.Start(t, func(c *node.Config) { public(c); c.APIKey = "k-123456" })
		if code := get(local(n)+"/api/v1/node", "wrong"); code != http.StatusUnauthorized {
			t.Errorf("wrong key: %d", code)
		}
		if code := get(local(n)+"/api/v1/node", "k-123456"); code != http.StatusOK {
			t.Errorf("right key: %d", code)
		}
		if code := get(local(n)+"/metrics", "k-123456"); code != http.StatusOK {
			t.Errorf("metrics with the key: %d", code)
		}
	})
	t.Run("admin address", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		admin := ln.Addr().String()
		ln.Close()
		n := nodetest.Start(t, func(c *node.Config) { public(c); c.AdminAddr = admin })
		if code := get(local(n)+"/api/v1/node", ""); code != http.StatusNotFound {
			t.Errorf("API on the public listener: %d, want 404", code)
		}
		if code := get("http://"+admin+"/api/v1/node", ""); code != http.StatusOK {
			t.Errorf("API on the admin listener: %d, want 200", code)
		}
	})
	t.Run("loopback stays open", func(t *testing.T) {
		n := nodetest.Start(t, nil)
		if code := get(n.URL()+"/api/v1/node", ""); code != http.StatusOK {
			t.Errorf("loopback API: %d", code)
		}
	})
}

func TestPublicNodeNeedsAuth(t *testing.T) {
	cfg := node.DefaultConfig()
	cfg.HTTPAddr = "0.0.0.0:8443"
	if _, err := node.New(cfg, nil); err == nil || !strings.Contains(err.Error(), "auth.secret") {
		t.Fatalf("public node without a secret: %v", err)
	}
	off := false
	cfg.Auth.Required = &off
	if _, err := node.New(cfg, nil); err == nil || !strings.Contains(err.Error(), "allow_anonymous") {
		t.Fatalf("public node with auth off: %v", err)
	}
	cfg.Auth.AllowAnonymous = true
	if _, err := node.New(cfg, nil); err != nil {
		t.Fatalf("public open node, explicitly allowed: %v", err)
	}
	cfg = node.DefaultConfig()
	if cfg.Public() || cfg.AuthRequired() {
		t.Fatal("the default loopback node must need no token")
	}
	cfg.TURN.TCPAddr = "127.0.0.1:3478"
	if _, err := node.New(cfg, nil); err == nil || !strings.Contains(err.Error(), "turn.secret") {
		t.Fatalf("TURN addresses without a secret: %v", err)
	}
}

// selectedPair describes the client's nominated candidate pair.
func selectedPair(c *client.Client) (local, remote webrtc.ICECandidateStats, ok bool) {
	report := c.Stats()
	for _, s := range report {
		pair, isPair := s.(webrtc.ICECandidatePairStats)
		if !isPair || !pair.Nominated {
			continue
		}
		l, ok1 := report[pair.LocalCandidateID].(webrtc.ICECandidateStats)
		r, ok2 := report[pair.RemoteCandidateID].(webrtc.ICECandidateStats)
		return l, r, ok1 && ok2
	}
	return local, remote, false
}

// firstFrame joins with o and measures time to the first keyframe from pub,
// and the bitrate received over the next 3 s.
func firstFrame(t *testing.T, n *node.Node, room string, pub *client.Client, mut func(*client.Options)) (*client.Client, time.Duration, float64) {
	t.Helper()
	start := time.Now()
	sub := join(t, n, room, "sub", mut)
	var took time.Duration
	waitFor(t, 20*time.Second, "a first keyframe", func() (bool, string) {
		s := sub.Received()[pub.ID()]
		if s.Keyframes > 0 && took == 0 {
			took = time.Since(start)
		}
		return took > 0, streamString(s)
	})
	before := sub.Received()[pub.ID()]
	time.Sleep(3 * time.Second)
	after := sub.Received()[pub.ID()]
	kbps := float64(after.VideoBytes-before.VideoBytes+after.AudioBytes-before.AudioBytes) * 8 / 3 / 1000
	return sub, took, kbps
}

// A client whose UDP is blocked reaches the node over ICE-TCP.
func TestICEOverTCP(t *testing.T) {
	n := nodetest.Start(t, nil)
	pub := join(t, n, "tcp", "pub", publishing)
	sub, took, kbps := firstFrame(t, n, "tcp", pub, func(o *client.Options) { o.Transport = "tcp" })
	l, r, ok := selectedPair(sub)
	if !ok || l.Protocol != "tcp" || r.Protocol != "tcp" {
		t.Fatalf("selected pair %+v → %+v, want TCP", l, r)
	}
	t.Logf("ICE over TCP: first keyframe after %v, %.0f kbit/s received", took.Round(time.Millisecond), kbps)
}

// A client that may use only the node's TURN server, over TCP or over UDP.
func TestTURNRelay(t *testing.T) {
	turnAddr := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	udp := func() string {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().String()
	}
	n := nodetest.Start(t, func(c *node.Config) {
		c.TURN.Secret = "turn-test-secret-0123456789"
		c.TURN.TCPAddr = turnAddr()
		c.TURN.UDPAddr = udp()
	})
	pub := join(t, n, "relay", "pub", publishing)
	for _, transport := range []string{"tcp", "udp"} {
		t.Run(transport, func(t *testing.T) {
			sub, took, kbps := firstFrame(t, n, "relay", pub, func(o *client.Options) {
				o.Transport = "relay"
				o.TURNFilter = func(u string) bool {
					return strings.HasPrefix(u, "turn:") && strings.HasSuffix(u, "transport="+transport)
				}
			})
			l, _, ok := selectedPair(sub)
			if !ok || l.CandidateType != webrtc.ICECandidateTypeRelay {
				t.Fatalf("selected local candidate %+v, want a relayed one", l)
			}
			t.Logf("TURN over %s: first keyframe after %v, %.0f kbit/s received", transport, took.Round(time.Millisecond), kbps)
			_ = sub.Close()
		})
	}
}

// testCA makes a CA and a certificate for 127.0.0.1 and localhost signed by
// it, written to dir; it returns the pool that trusts the CA.
func testCA(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "switchyard test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(caCert)
	return certFile, keyFile, pool
}

// Over HTTPS: the page, wss signaling and media.
func TestHTTPS(t *testing.T) {
	certFile, keyFile, pool := testCA(t, t.TempDir())
	n := nodetest.Start(t, func(c *node.Config) { c.TLS.CertFile, c.TLS.KeyFile = certFile, keyFile })
	if !strings.HasPrefix(n.URL(), "https://") {
		t.Fatalf("node URL %s, want https", n.URL())
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get(n.URL() + "/r/secure?name=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.NegotiatedProtocol == "h2" {
		t.Fatalf("page over https: %d, tls %+v", resp.StatusCode, resp.TLS)
	}
	tlsCfg := &tls.Config{RootCAs: pool}
	a := join(t, n, "secure", "alice", func(o *client.Options) { publishing(o); o.TLS = tlsCfg })
	b := join(t, n, "secure", "bob", func(o *client.Options) { o.TLS = tlsCfg })
	if !strings.HasPrefix(a.URL(), "wss://") {
		t.Fatalf("signaling over %s, want wss", a.URL())
	}
	receivesAt(t, 20*time.Second, b, a, 0)
}
