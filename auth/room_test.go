package auth

import (
	"strings"
	"testing"
)

func TestAllowsRoom(t *testing.T) {
	tests := []struct {
		pattern, room string
		want          bool
	}{
		{"demo", "demo", true},
		{"demo", "Demo", false},
		{"demo", "demo2", false},
		{"demo", "dem", false},
		{"*", "anything.at_all-1", true},
		{"*", "", false},
		{"team-*", "team-", true},
		{"team-*", "team-red", true},
		{"team-*", "team", false},
		{"team-*", "xteam-red", false},
		{"*-eu", "sales-eu", true},
		{"*-eu", "sales-us", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"a*b*c", "acb", false},
		{"a*a*a", "aaaa", true},
		{"**", "x", true},
		{"a.b", "a.b", true},
		{"a.b", "axb", false}, // '.' is literal, not a regexp dot
		{"*", "a*b", false},   // not a valid room name
		{"*", "a b", false},
		{"*", "é", false},
		{"*", strings.Repeat("a", MaxRoomLen), true},
		{"*", strings.Repeat("a", MaxRoomLen+1), false},
		{"", "demo", false},
		{strings.Repeat("*a", 30), strings.Repeat("a", 64), true},
		{strings.Repeat("*a", 30) + "b", strings.Repeat("a", 64), false},
	}
	for _, tt := range tests {
		c := &Claims{Room: tt.pattern}
		if got := c.AllowsRoom(tt.room); got != tt.want {
			t.Errorf("%q.AllowsRoom(%q) = %v, want %v", tt.pattern, tt.room, got, tt.want)
		}
	}
	var nilClaims *Claims
	if nilClaims.AllowsRoom("demo") {
		t.Error("nil claims allow a room")
	}
}
