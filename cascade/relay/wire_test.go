package relay

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

var (
	secretA = []byte("correct horse battery staple 001")
	secretB = []byte("a different cluster secret 00002")
	idA     = NodeIDFromName("us-1")
	idB     = NodeIDFromName("eu-1")
	idC     = NodeIDFromName("ap-1")
)

func mustKeys(tb testing.TB, self NodeID, secrets ...Secret) *Keys {
	tb.Helper()
	if len(secrets) == 0 {
		secrets = []Secret{{Epoch: 1, Key: secretA}}
	}
	k, err := NewKeys(self, secrets...)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func seal(tb testing.TB, k *Keys, to NodeID, seq uint64, conf, ep string, payload []byte) []byte {
	tb.Helper()
	b, err := Seal(nil, k, Header{Type: TypeRTP, Layer: 2, Receiver: to, Seq: seq}, conf, ep, payload)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestSealOpenRoundTrip(t *testing.T) {
	ka, kb := mustKeys(t, idA), mustKeys(t, idB)
	tests := []struct {
		name      string
		typ       Type
		conf, ep  string
		payloadSz int
	}{
		{"rtp", TypeRTP, "room-1", "alice", 1200},
		{"rtcp", TypeRTCP, "room-1", "alice", 80},
		{"message", TypeMessage, "room-1", "bob", 3000},
		{"empty ids and payload", TypePing, "", "", 0},
		{"longest ids", TypeRTP, strings.Repeat("c", MaxIDLen), strings.Repeat("e", MaxIDLen), 100},
		{"largest datagram", TypeMessage, "r", "e", MaxDatagram - Overhead("r", "e")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := bytes.Repeat([]byte{0xab}, tt.payloadSz)
			h := Header{Type: tt.typ, Layer: 3, Receiver: idB, Seq: 77}
			d, err := Seal([]byte("prefix"), ka, h, tt.conf, tt.ep, payload)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(d, []byte("prefix")) {
				t.Fatal("Seal did not append to dst")
			}
			d = d[len("prefix"):]
			if len(d) != Overhead(tt.conf, tt.ep)+len(payload) {
				t.Fatalf("datagram is %d bytes, want %d", len(d), Overhead(tt.conf, tt.ep)+len(payload))
			}
			if bytes.Contains(d, payload[:min(len(payload), 32)]) && len(payload) >= 32 {
				t.Fatal("payload visible in the datagram")
			}
			got, body, err := Open(nil, kb, d)
			if err != nil {
				t.Fatal(err)
			}
			want := Header{Type: tt.typ, Layer: 3, Sender: idA, Receiver: idB, Epoch: 1, Seq: 77}
			if got != want {
				t.Errorf("header = %+v, want %+v", got, want)
			}
			if string(body.Conference) != tt.conf || string(body.Endpoint) != tt.ep || !bytes.Equal(body.Payload, payload) {
				t.Errorf("body = %q %q %d bytes", body.Conference, body.Endpoint, len(body.Payload))
			}
		})
	}
}

func TestSealRejectsBadArguments(t *testing.T) {
	k := mustKeys(t, idA)
	long := strings.Repeat("x", MaxIDLen+1)
	tests := []struct {
		name     string
		h        Header
		conf, ep string
		payload  int
		want     error
	}{
		{"type 0", Header{Type: 0, Receiver: idB}, "c", "e", 10, ErrBadType},
		{"unknown type", Header{Type: 9, Receiver: idB}, "c", "e", 10, ErrBadType},
		{"conference too long", Header{Type: TypeRTP, Receiver: idB}, long, "e", 10, ErrIDTooLong},
		{"endpoint too long", Header{Type: TypeRTP, Receiver: idB}, "c", long, 10, ErrIDTooLong},
		{"too large", Header{Type: TypeRTP, Receiver: idB}, "c", "e", MaxDatagram, ErrTooLarge},
		{"no receiver", Header{Type: TypeRTP}, "c", "e", 10, ErrBadReceiver},
		{"to itself", Header{Type: TypeRTP, Receiver: idA}, "c", "e", 10, ErrBadReceiver},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Seal(nil, k, tt.h, tt.conf, tt.ep, make([]byte, tt.payload))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Seal() error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestOpenRejectsEveryTamperedByte(t *testing.T) {
	ka, kb := mustKeys(t, idA), mustKeys(t, idB)
	d := seal(t, ka, idB, 5, "room", "alice", []byte("some rtp bytes"))
	for i := range d {
		for _, flip := range []byte{0x01, 0x80} {
			bad := bytes.Clone(d)
			bad[i] ^= flip
			if _, _, err := Open(nil, kb, bad); err == nil {
				t.Fatalf("byte %d ^ %#x accepted", i, flip)
			}
		}
	}
}

func TestOpenRejects(t *testing.T) {
	ka := mustKeys(t, idA)
	good := seal(t, ka, idB, 5, "room", "alice", []byte("payload"))
	wrongSecret := seal(t, mustKeys(t, idA, Secret{Epoch: 1, Key: secretB}), idB, 5, "room", "alice", []byte("payload"))
	otherEpoch := seal(t, mustKeys(t, idA, Secret{Epoch: 2, Key: secretA}), idB, 5, "room", "alice", []byte("payload"))
	toC := seal(t, ka, idC, 5, "room", "alice", []byte("payload"))
	version := bytes.Clone(good)
	version[0] = 2
	flags := bytes.Clone(good)
	flags[3] = 1
	typ := bytes.Clone(good)
	typ[1] = 99
	noSender := bytes.Clone(good)
	clear(noSender[4:8])
	// A sender id swapped in the header: the key and the AAD both change.
	spoofed := bytes.Clone(good)
	copy(spoofed[4:8], toC[4:8])
	spoofed[4] ^= 0xff

	tests := []struct {
		name string
		d    []byte
		want DropReason
	}{
		{"empty", nil, ErrTruncated},
		{"header only", good[:HeaderLen], ErrTruncated},
		{"missing tag byte", good[:len(good)-1], ErrAuth},
		{"oversized", make([]byte, MaxDatagram+1), ErrOversized},
		{"version", version, ErrVersion},
		{"flags", flags, ErrMalformed},
		{"type", typ, ErrMalformed},
		{"sender zero", noSender, ErrMalformed},
		{"wrong secret", wrongSecret, ErrAuth},
		{"unknown epoch", otherEpoch, ErrEpoch},
		{"addressed to another node", toC, ErrMisdirected},
		{"spoofed sender", spoofed, ErrAuth},
	}
	kb := mustKeys(t, idB)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Open(nil, kb, tt.d)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open() error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestOpenEveryTruncation(t *testing.T) {
	ka, kb := mustKeys(t, idA), mustKeys(t, idB)
	d := seal(t, ka, idB, 5, "room", "alice", []byte("payload"))
	for n := range len(d) {
		if _, _, err := Open(nil, kb, d[:n]); err == nil {
			t.Fatalf("prefix of %d bytes accepted", n)
		}
	}
}

func TestKeysSeparateDirectionsAndRotate(t *testing.T) {
	ab, _ := DeriveKey(secretA, idA, idB, 1)
	ba, _ := DeriveKey(secretA, idB, idA, 1)
	ab2, _ := DeriveKey(secretA, idA, idB, 2)
	if bytes.Equal(ab, ba) || bytes.Equal(ab, ab2) {
		t.Fatal("keys of different directions or epochs are equal")
	}

	// Rotation: the new secret is installed everywhere for opening first,
	// then made the sealing one.
	old, next := Secret{Epoch: 1, Key: secretA}, Secret{Epoch: 2, Key: secretB}
	sender := mustKeys(t, idA, next, old)
	d := seal(t, sender, idB, 9, "c", "e", nil)
	if _, _, err := Open(nil, mustKeys(t, idB, old), d); !errors.Is(err, ErrEpoch) {
		t.Fatalf("receiver without the new secret: %v", err)
	}
	h, _, err := Open(nil, mustKeys(t, idB, old, next), d)
	if err != nil || h.Epoch != 2 {
		t.Fatalf("receiver with both secrets: epoch %d, %v", h.Epoch, err)
	}
}

func TestNewKeysValidates(t *testing.T) {
	tests := []struct {
		name    string
		self    NodeID
		secrets []Secret
	}{
		{"node zero", 0, []Secret{{1, secretA}}},
		{"no secret", idA, nil},
		{"short secret", idA, []Secret{{1, []byte("short")}}},
		{"duplicate epoch", idA, []Secret{{1, secretA}, {1, secretB}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewKeys(tt.self, tt.secrets...); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestNodeIDFromName(t *testing.T) {
	if NodeIDFromName("us-1") != NodeIDFromName("us-1") {
		t.Fatal("not deterministic")
	}
	seen := map[NodeID]string{}
	for _, n := range []string{"us-1", "us-2", "eu-1", "ap-1", "", "a"} {
		id := NodeIDFromName(n)
		if id == 0 {
			t.Fatalf("%q has id 0", n)
		}
		if o, dup := seen[id]; dup {
			t.Fatalf("%q and %q share id %d", n, o, id)
		}
		seen[id] = n
	}
}

func TestSealOpenDoNotAllocate(t *testing.T) {
	ka, kb := mustKeys(t, idA), mustKeys(t, idB)
	payload := make([]byte, 1200)
	buf := make([]byte, 0, MaxDatagram)
	plain := make([]byte, 0, MaxDatagram)
	d := seal(t, ka, idB, 1, "room", "alice", payload) // warms the key caches
	if _, _, err := Open(plain, kb, d); err != nil {
		t.Fatal(err)
	}
	h := Header{Type: TypeRTP, Receiver: idB, Seq: 2}
	if n := testing.AllocsPerRun(100, func() {
		_, _ = Seal(buf[:0], ka, h, "room", "alice", payload)
	}); n != 0 {
		t.Errorf("Seal: %v allocs", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		_, _, _ = Open(plain[:0], kb, d)
	}); n != 0 {
		t.Errorf("Open: %v allocs", n)
	}
	bad := bytes.Clone(d)
	bad[len(bad)-1] ^= 1
	if n := testing.AllocsPerRun(100, func() {
		_, _, _ = Open(plain[:0], kb, bad)
	}); n != 0 {
		t.Errorf("Open of a forged datagram: %v allocs", n)
	}
}

func BenchmarkSeal(b *testing.B) {
	k := mustKeys(b, idA)
	payload := make([]byte, 1200)
	buf := make([]byte, 0, MaxDatagram)
	h := Header{Type: TypeRTP, Layer: 1, Receiver: idB}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		h.Seq++
		if _, err := Seal(buf[:0], k, h, "conference-0001", "endpoint-0001", payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	ka, kb := mustKeys(b, idA), mustKeys(b, idB)
	d := seal(b, ka, idB, 1, "conference-0001", "endpoint-0001", make([]byte, 1200))
	plain := make([]byte, 0, MaxDatagram)
	b.SetBytes(1200)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Open(plain[:0], kb, d); err != nil {
			b.Fatal(err)
		}
	}
}
