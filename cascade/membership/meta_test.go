package membership

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestMetaRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		m    Meta
	}{
		{"empty", Meta{}},
		{"typical", Meta{
			Region:    "eu",
			RelayAddr: netip.MustParseAddrPort("10.0.0.2:4096"),
			SignalURL: "https://eu-1.example.net/ws",
			Load:      Load{Participants: 41, Conferences: 3, BitrateBps: 57_000_000, CPU: 0.4213, Draining: true},
		}},
		{"ipv6", Meta{Region: "ap", RelayAddr: netip.MustParseAddrPort("[2001:db8::1]:4096")}},
		{"leaving", Meta{Region: "us", Leaving: true}},
		{"largest load", Meta{Region: "us", Load: Load{Participants: 1<<31 - 1, Conferences: 1<<31 - 1, BitrateBps: 1<<63 - 1, CPU: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := appendMeta(nil, &tt.m)
			if len(b) > MaxMetaSize {
				t.Fatalf("%d bytes", len(b))
			}
			got, err := parseMeta(b)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.m {
				t.Fatalf("got %+v, want %+v", got, tt.m)
			}
		})
	}
}

func TestMetaClampsLoad(t *testing.T) {
	got, err := parseMeta(appendMeta(nil, &Meta{Load: Load{Participants: -3, CPU: 7}}))
	if err != nil {
		t.Fatal(err)
	}
	if got.Load.Participants != 0 || got.Load.CPU != 1 {
		t.Fatalf("load = %+v", got.Load)
	}
}

func TestParseMetaRejects(t *testing.T) {
	good := appendMeta(nil, &Meta{Region: "eu", RelayAddr: netip.MustParseAddrPort("127.0.0.1:4096"), SignalURL: "ws://x"})
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"version", append([]byte{2}, good[1:]...)},
		{"truncated", good[:len(good)-1]},
		{"string past end", []byte{1, 0x7f, 'e', 'u'}},
		{"bad address", append([]byte{1, 2, 'e', 'u', 3, 'x', 'y', 'z'}, good[len(good)-12:]...)},
		{"cpu over one", append(appendMeta(nil, &Meta{})[:7], 0x91, 0x4e, 0)}, // 10001
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if m, err := parseMeta(tt.b); !errors.Is(err, errMeta) {
				t.Fatalf("parseMeta() = %+v, %v", m, err)
			}
		})
	}
}

func TestMetaSizeLimit(t *testing.T) {
	if err := checkMetaSize(&Meta{Region: "eu", SignalURL: "https://" + strings.Repeat("a", 400)}); err != nil {
		t.Fatalf("400-byte URL refused: %v", err)
	}
	if err := checkMetaSize(&Meta{Region: "eu", SignalURL: "https://" + strings.Repeat("a", 500)}); err == nil {
		t.Fatal("500-byte URL accepted")
	}
}

func FuzzParseMeta(f *testing.F) {
	f.Add(appendMeta(nil, &Meta{}))
	f.Add(appendMeta(nil, &Meta{Region: "eu", RelayAddr: netip.MustParseAddrPort("10.0.0.2:4096"), SignalURL: "wss://eu/ws", Load: Load{Participants: 3, BitrateBps: 1e6, CPU: 0.5, Draining: true}}))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMeta(b)
		if err != nil {
			return
		}
		again, err := parseMeta(appendMeta(nil, &m))
		if err != nil || again != m {
			t.Fatalf("re-encoding %+v gave %+v, %v", m, again, err)
		}
	})
}
