package soak

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/node/snapshot"
)

func TestParseMetrics(t *testing.T) {
	in := `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 42
go_memstats_heap_inuse_bytes 2.5165824e+07
switchyard_signaling_timeouts_total{stage="join"} 4
switchyard_signaling_timeouts_total{stage="offer"} 12 1700000000000
weird_label{path="a b}c",x="\"q\""} 7

not_a_number abc
lonely
{broken 3
`
	m, err := parseMetrics(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := metricSet{
		"go_goroutines":                                      42,
		"go_memstats_heap_inuse_bytes":                       2.5165824e+07,
		`switchyard_signaling_timeouts_total{stage="join"}`:  4,
		`switchyard_signaling_timeouts_total{stage="offer"}`: 12,
		`weird_label{path="a b}c",x="\"q\""}`:                7,
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("parseMetrics =\n%v\nwant\n%v", m, want)
	}
}

func TestResidual(t *testing.T) {
	s := snapshot.Snapshot{Conferences: []snapshot.Conference{
		{Name: "steady", Participants: []snapshot.Participant{
			{ID: "us-p3", Name: "bob"}, {ID: "eu-p1", Name: "ann", Remote: true, Node: "eu"}}},
		{Name: "flood-4"},
	}}
	got := residual(s)
	want := []string{"flood-4 (empty conference)", "steady/eu-p1 (ann, remote from eu)", "steady/us-p3 (bob)"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("residual = %q, want %q", got, want)
	}
	if ids := presentIDs(s); !ids["us-p3"] || !ids["eu-p1"] || len(ids) != 2 {
		t.Errorf("presentIDs = %v", ids)
	}
	if got := residual(snapshot.Snapshot{}); got != nil {
		t.Errorf("residual of nothing = %q", got)
	}
}

func TestCounterGrowth(t *testing.T) {
	got := counterGrowth(map[string]float64{"a": 3, "b": 5, "gone": 1}, map[string]float64{"a": 10, "b": 5, "new": 2})
	want := map[string]float64{"a": 7, "new": 2}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("counterGrowth = %v, want %v", got, want)
	}
}

func TestCountFDs(t *testing.T) {
	before, err := countFDs(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := countFDs(os.Getpid())
	_ = f.Close()
	if after != before+1 {
		t.Errorf("open files %d, then %d after opening one", before, after)
	}
	if _, err := countFDs(-1); err == nil {
		t.Error("no error for a process that does not exist")
	}
}

func TestBook(t *testing.T) {
	b := newBook(4 * time.Second)
	if got := b.bound(KindNetworkLost); got != 13*time.Second {
		t.Errorf("bound(network-lost) = %v", got)
	}
	if got := b.bound(KindLeave); got != 4*time.Second {
		t.Errorf("bound(leave) = %v", got)
	}
	b.made(KindLeave)
	b.made(KindLeave)
	b.made(KindLeave)
	b.removed(KindLeave, 300*time.Millisecond)
	b.removed(KindLeave, 4*time.Second) // at the bound: in time
	b.removed(KindLeave, 4100*time.Millisecond)
	b.made(KindPCClosed)
	b.reason(KindPCClosed, "media connection closed")
	b.reason(KindPCClosed, "signaling closed")
	b.reason(KindNetworkLost, "media connection failed")
	b.reason(KindICEFailed, "")
	b.notRemoved(KindVanish, "us-p1 still there")
	b.lostWithNode(KindVanish)
	b.unexpected(KindVanish, "")
	got := map[string]DepartureStats{}
	for _, d := range b.list() {
		got[d.Kind] = d
	}
	if l := got[KindLeave]; l.Count != 3 || l.Removed != 2 || l.Late != 1 || l.MaxRemovalSec != 4.1 {
		t.Errorf("leave %+v", l)
	}
	if p := got[KindPCClosed]; p.WrongReason != 1 || p.Reasons["media connection closed"] != 1 || p.Reasons["signaling closed"] != 1 {
		t.Errorf("pc-closed %+v", p)
	}
	if n := got[KindNetworkLost]; n.WrongReason != 0 {
		t.Errorf("network-lost %+v: failed is documented too", n)
	}
	if i := got[KindICEFailed]; i.WrongReason != 1 || i.Reasons["(none)"] != 1 {
		t.Errorf("ice-failed %+v", i)
	}
	if v := got[KindVanish]; v.NotRemoved != 1 || v.LostWithNode != 1 || v.Unexpected != 1 || len(v.Examples) != 1 {
		t.Errorf("vanish %+v", v)
	}
	if len(b.list()) != len(kindSpecs) || b.list()[0].Kind != KindLeave {
		t.Errorf("list order %v", b.list())
	}
}

func TestReasonOK(t *testing.T) {
	tests := []struct {
		kind, text string
		ok         bool
	}{
		{KindPCClosed, "media connection closed", true},
		{KindPCClosed, "media connection failed", false},
		{KindNetworkLost, "media connection lost", true},
		{KindNetworkLost, "media connection failed", true},
		{KindICEFailed, "media connection lost", false},
		{KindOfferTimeout, "no offer within 10s of joining", true},
		{KindJoinTimeout, "no join within 10s", true},
		{KindJoinTimeout, "(node kept signaling open)", false},
		{KindLeave, "signaling closed", false}, // not observable: no reason is documented
	}
	for _, tt := range tests {
		if got := specOf(tt.kind).reasonOK(tt.text); got != tt.ok {
			t.Errorf("reasonOK(%s, %q) = %v, want %v", tt.kind, tt.text, got, tt.ok)
		}
	}
}
