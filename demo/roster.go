package demo

import (
	"fmt"
	"time"

	"github.com/switchyard/switchyard/client"
)

// seat is one synthetic participant's place in the demo: who, where, and when
// it is in the room. A guest seat comes and goes, giving several sessions.
type seat struct {
	conference string
	slot       int // talk slot within the conference
	name       string
	region     int // index of the node of its region
	via        int // index of the node it dials (redirected by the cascade when not its own)
	lossy      bool
	joinAt     time.Duration
	// stay and away make a guest: in the room for stay, out for away, again.
	stay, away time.Duration
}

// Timings of the roster. Joins are staggered so that ICE and DTLS handshakes
// do not all land on the 2 cores at once.
const (
	joinStagger = 300 * time.Millisecond
	guestFirst  = 3 * time.Second
	guestStay   = 12 * time.Second
	guestAway   = 6 * time.Second
	talkTurn    = 2500 * time.Millisecond
	// maxHeight is every tile's viewport: the h layer of the clips (360p),
	// so that a participant with bandwidth gets h and the lossy one drops to q.
	maxHeight = 360
)

var conferenceNames = []string{"demo", "design", "ops", "sales", "support", "infra", "research", "lobby"}

var firstNames = []string{
	"Ana", "Bruno", "Chen", "Dara", "Emeka", "Farah", "Goran", "Hana", "Ivo", "Jun",
	"Kofi", "Lena", "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq",
	"Uma", "Vik", "Wen", "Xavi", "Yara", "Zane",
}

// plan lays out every seat: participants spread round-robin over the regions
// (shifted per conference so every conference spans several nodes), every
// third one dialling a node outside its region to show redirects, the first
// seat of the first conference on the lossy link and, with churn, the last
// seat of each conference a guest.
func plan(o options) []seat {
	var seats []seat
	k := 0
	for c := range o.conferences {
		conf := conferenceNames[c]
		for i := range o.participants {
			name := firstNames[k%len(firstNames)]
			if k >= len(firstNames) {
				name = fmt.Sprintf("%s%d", name, k/len(firstNames)+1)
			}
			s := seat{
				conference: conf,
				slot:       i,
				name:       name,
				region:     (i + c) % o.nodes,
				joinAt:     time.Duration(k) * joinStagger,
			}
			s.via = s.region
			if i%3 == 2 && o.nodes > 1 {
				s.via = (s.region + 1) % o.nodes
			}
			if c == 0 && i == 0 {
				s.lossy = true
			}
			if o.churn && i == o.participants-1 && o.participants > 2 {
				s.joinAt = guestFirst + time.Duration(c)*1500*time.Millisecond
				s.stay, s.away = guestStay, guestAway
			}
			seats = append(seats, s)
			k++
		}
	}
	return seats
}

// talk is the seat's microphone: conference members take turns.
func (s seat) talk(participants int) client.TalkPattern {
	return client.Turns(s.slot, participants, talkTurn)
}
