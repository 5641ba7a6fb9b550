package soak

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/switchyard/switchyard/cascade/relay"
)

func testJunk() junkFunc {
	rng := rand.New(rand.NewPCG(1, 2))
	return func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
}

func TestDatagramShapes(t *testing.T) {
	junk := testJunk()
	for i := range 40 {
		d := dtlsLike(junk, i)
		if d[0] < 20 || d[0] > 23 || d[1] != 0xfe || d[2] != 0xfd || int(binary.BigEndian.Uint16(d[11:])) != len(d)-13 {
			t.Fatalf("dtlsLike(%d) header % x, length %d", i, d[:13], len(d))
		}
		if e := binary.BigEndian.Uint16(d[3:]); e > 1 {
			t.Fatalf("dtlsLike(%d) epoch %d", i, e)
		}
		s := stunLike(junk, i)
		if binary.BigEndian.Uint16(s) != 1 || binary.BigEndian.Uint32(s[4:]) != 0x2112A442 ||
			int(binary.BigEndian.Uint16(s[2:])) != len(s)-20 || len(s)%4 != 0 {
			t.Fatalf("stunLike(%d) = % x", i, s[:20])
		}
		r := rtpLike(junk, i)
		if r[0] != 0x80 || len(r) < 12 {
			t.Fatalf("rtpLike(%d) = % x", i, r[:2])
		}
		if n := len(randomDatagram(junk, i*97)); n < 1 || n > 1400 {
			t.Fatalf("randomDatagram length %d", n)
		}
		h := relayHeaderJunk(junk, i)
		if h[0] != relay.Version || len(h) < relay.HeaderLen+2+relay.TagLen {
			t.Fatalf("relayHeaderJunk(%d) = % x", i, h[:4])
		}
	}
}

// TestForgedRelay: the forged datagrams parse as relay datagrams from the
// named peer to the target, and the target's keys refuse them as forged.
func TestForgedRelay(t *testing.T) {
	junk := testJunk()
	target, err := relay.NewKeys(relay.NodeIDFromName("us"), relay.Secret{Epoch: 1, Key: []byte("the-real-cluster-secret-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		d, err := forgedRelay(junk, i, "eu", "us")
		if err != nil {
			t.Fatal(err)
		}
		h, err := relay.ParseHeader(d)
		if err != nil {
			t.Fatalf("forged datagram %d does not parse: %v", i, err)
		}
		if h.Sender != relay.NodeIDFromName("eu") || h.Receiver != relay.NodeIDFromName("us") || h.Epoch != 1 {
			t.Fatalf("forged header %+v", h)
		}
		if _, _, err := relay.Open(nil, target, d); !errors.Is(err, relay.ErrAuth) {
			t.Fatalf("Open(forged %d) = %v, want %v", i, err, relay.ErrAuth)
		}
	}
}

func TestSendAllRefusesOffLoopback(t *testing.T) {
	if _, err := sendAll("192.0.2.1:9", [][]byte{{1}}); err == nil {
		t.Fatal("garbage sent off loopback")
	}
}
