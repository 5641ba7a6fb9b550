package relay

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// fuzzSeeds are the datagrams the checked-in corpus was made from: valid
// ones for each type, and junk.
func fuzzSeeds(tb testing.TB) [][]byte {
	ka := mustKeys(tb, idA)
	var seeds [][]byte
	for i, typ := range []Type{TypeRTP, TypeRTCP, TypeMessage, TypeHello, TypePing, TypePong} {
		d, err := Seal(nil, ka, Header{Type: typ, Layer: Layer(i), Receiver: idB, Seq: uint64(100 + i)}, "room-1", "alice", []byte("payload of "+typ.String()))
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, d)
	}
	seeds = append(seeds,
		[]byte{},
		[]byte("GET / HTTP/1.1\r\n\r\n"),
		bytes.Repeat([]byte{0}, minDatagram),
		append([]byte{Version, byte(TypeRTP), 0, 0}, bytes.Repeat([]byte{0xff}, 60)...),
	)
	return seeds
}

// FuzzOpen feeds arbitrary datagrams to Open. Nothing may panic, and
// anything Open accepts must be exactly what sealing its contents again
// produces (the AEAD is deterministic), so no two datagrams open the same.
func FuzzOpen(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	ka, kb := mustKeys(f, idA), mustKeys(f, idB)
	plain := make([]byte, 0, MaxDatagram)
	f.Fuzz(func(t *testing.T, d []byte) {
		h, body, err := Open(plain[:0], kb, d)
		if err != nil {
			return
		}
		again, err := Seal(nil, ka, h, string(body.Conference), string(body.Endpoint), body.Payload)
		if err != nil {
			t.Fatalf("opened datagram does not seal again: %v", err)
		}
		if !bytes.Equal(again, d) {
			t.Fatalf("opened datagram differs from its reseal:\n%x\n%x", d, again)
		}
	})
}

// TestWriteFuzzCorpus regenerates testdata/fuzz/FuzzOpen when
// RELAY_WRITE_CORPUS is set (the seeds depend on the wire format).
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("RELAY_WRITE_CORPUS") == "" {
		t.Skip("set RELAY_WRITE_CORPUS=1 to rewrite testdata/fuzz/FuzzOpen")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzOpen")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range fuzzSeeds(t) {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
