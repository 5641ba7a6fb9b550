package console

import (
	"fmt"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/node/snapshot"
)

func TestPairs(t *testing.T) {
	type part struct {
		id     string
		remote bool
		e2e    []snapshot.E2E
	}
	e := func(peer string, measured, client, relay, far float64, path string) snapshot.E2E {
		return snapshot.E2E{Peer: peer, MeasuredMs: measured, ComputedMs: client + relay + far, ClientMs: client, RelayMs: relay, PeerMs: far, Path: path}
	}
	cases := []struct {
		name  string
		parts []part
		want  []string // "from to path hops measured"
	}{
		{name: "nobody", want: nil},
		{name: "one report", parts: []part{{id: "a", e2e: []snapshot.E2E{e("b", 0, 10, 0, 20, "n1")}}}, want: []string{"a b n1 10+0+20 0"}},
		{
			name: "reported from the far end is turned round",
			parts: []part{
				{id: "b", e2e: []snapshot.E2E{e("a", 55, 20, 30, 10, "n2→n1")}},
			},
			want: []string{"a b n1→n2 10+30+20 55"},
		},
		{
			name: "local report wins over remote",
			parts: []part{
				{id: "c", remote: true, e2e: []snapshot.E2E{e("a", 99, 1, 1, 1, "n2→n1")}},
				{id: "a", e2e: []snapshot.E2E{e("c", 0, 10, 80, 12, "n1→n2")}},
			},
			want: []string{"a c ⇄ n1→n2 10+80+12 0"},
		},
		{
			name: "measured report wins between locals",
			parts: []part{
				{id: "a", e2e: []snapshot.E2E{e("b", 0, 10, 0, 20, "n1")}},
				{id: "b", e2e: []snapshot.E2E{e("a", 33, 20, 0, 10, "n1")}},
			},
			want: []string{"a b n1 10+0+20 33"},
		},
		{
			name: "self and empty peers ignored, sorted by name",
			parts: []part{
				{id: "c", e2e: []snapshot.E2E{e("c", 1, 1, 1, 1, "n1"), e("", 1, 1, 1, 1, "n1"), e("a", 5, 1, 0, 2, "n1")}},
				{id: "b", e2e: []snapshot.E2E{e("a", 5, 3, 0, 4, "n1")}},
			},
			want: []string{"a b n1 4+0+3 5", "a c n1 2+0+1 5"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c snapshot.Conference
			for _, p := range tc.parts {
				c.Participants = append(c.Participants, snapshot.Participant{ID: p.id, Name: p.id, Remote: p.remote, E2E: p.e2e})
			}
			var got []string
			for _, p := range pairs(&c) {
				got = append(got, fmt.Sprintf("%s %s %s %s %.0f", p.from, p.to, p.e.Path, fmtHops(p.e), p.e.MeasuredMs))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("pairs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// The saving is what skipping layers kept off the link, as a share of what
// forwarding every layer would have sent.
func TestPeerSaving(t *testing.T) {
	cases := []struct {
		out     map[string]uint64
		skipped uint64
		want    string
	}{
		{nil, 0, "-"},
		{map[string]uint64{"q": 100, "audio": 1000}, 0, "0%"},
		{map[string]uint64{"q": 100, "h": 100, "audio": 5000}, 200, "50%"},
		{map[string]uint64{"q": 1, "h": 0, "f": 0}, 3, "75%"},
		{nil, 10, "100%"},
	}
	v := newCascadeView(&state{st: newStyles(plainRenderer())})
	for i, tc := range cases {
		cells := v.peerCells(snapshot.Peer{ID: "n2", BytesOut: tc.out, SkippedBytes: tc.skipped})
		if got := cells[10].text; got != tc.want {
			t.Errorf("case %d: saved %q, want %q", i, got, tc.want)
		}
	}
}

// A cascade whose peers have not answered yet says so, rather than showing
// an empty table.
func TestCascadeWithoutPeers(t *testing.T) {
	s := fixtureAt(0)
	s.Node.Cascade = &snapshot.Cascade{RelayAddr: "127.0.0.1:4096", GossipAddr: "127.0.0.1:7946"}
	hs := newHarness(t, 100, 30, s)
	hs.press("4")
	v := hs.view()
	for _, want := range []string{"0 peers, 0 up", "No other node has joined yet", "127.0.0.1:7946", "Relay drops  none", "End-to-end RTT in lobby"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
}
