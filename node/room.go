package node

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/cascade/control"
	"github.com/switchyard/switchyard/media"
	"github.com/switchyard/switchyard/media/speaker"
	"github.com/switchyard/switchyard/node/signal"
)

// Room is one conference on this node: its participants, their published
// tracks, and its dominant speaker.
type Room struct {
	node    *Node
	name    string
	created time.Time
	speaker *speaker.Detector

	// refs counts admissions held (pending or present), counted the
	// participants past their offer; both guarded by Node.mu. The node
	// drops the room only when refs falls to 0, so a joiner between
	// admission and add never lands in a room the node forgot.
	refs, counted int

	mu           sync.Mutex // guards participants, order, dominant
	participants map[string]*Participant
	order        []*Participant // join order, for stable listings
	dominant     string
	remotes      map[string]*remoteParticipant // participants of other nodes, by id
	lastWants    string                        // the wants last announced, to notice changes
}

func newRoom(n *Node, name string) *Room {
	return &Room{
		node:         n,
		name:         name,
		created:      time.Now(),
		speaker:      speaker.New(),
		participants: make(map[string]*Participant),
		remotes:      make(map[string]*remoteParticipant),
	}
}

func (r *Room) size() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.participants)
}

func (r *Room) members() []*Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Participant(nil), r.order...)
}

func (r *Room) get(id string) (*Participant, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.participants[id]
	return p, ok
}

// add puts p in the room and tells the others. welcome is called with the
// room's other members before anyone can message p, so that p hears of the
// room before any event in it.
func (r *Room) add(p *Participant, welcome func(others []signal.Participant)) {
	r.mu.Lock()
	others := make([]signal.Participant, 0, len(r.order))
	for _, q := range r.order {
		others = append(others, q.info())
	}
	for _, rp := range r.remotes {
		others = append(others, rp.info())
	}
	welcome(others)
	r.participants[p.id] = p
	r.order = append(r.order, p)
	dominant := r.dominant
	r.mu.Unlock()
	r.broadcast(p, signal.Message{Type: signal.TypeParticipantJoined, Participant: ptr(p.info())})
	if dominant != "" {
		p.send(signal.Message{Type: signal.TypeDominantSpeaker, ID: dominant})
	}
}

// ready is called once p's first offer/answer is done: p now subscribes to
// everything already published.
func (r *Room) ready(p *Participant) {
	r.mu.Lock()
	var ups []*media.UpTrack
	for _, q := range r.order {
		if q != p {
			ups = append(ups, q.upTracks()...)
		}
	}
	for _, rp := range r.remotes {
		ups = append(ups, rp.upTracks()...)
	}
	p.markReady()
	r.mu.Unlock()
	for _, up := range ups {
		p.subscribe(up)
	}
}

// published fans a new track out to every ready participant but its publisher.
func (r *Room) published(from *Participant, up *media.UpTrack) {
	r.mu.Lock()
	var subs []*Participant
	for _, q := range r.order {
		if q != from && q.isReady() {
			subs = append(subs, q)
		}
	}
	r.mu.Unlock()
	for _, q := range subs {
		q.subscribe(up)
	}
}

// remove takes p out of the room; the others stop receiving its tracks.
func (r *Room) remove(p *Participant) {
	r.mu.Lock()
	if _, ok := r.participants[p.id]; !ok {
		r.mu.Unlock()
		return
	}
	delete(r.participants, p.id)
	for i, q := range r.order {
		if q == p {
			r.order = append(r.order[:i], r.order[i+1:]...)
			break
		}
	}
	others := append([]*Participant(nil), r.order...)
	r.mu.Unlock()
	r.speaker.Remove(p.id)
	ups := p.upTracks()
	for _, q := range others {
		q.unsubscribe(ups)
		q.send(signal.Message{Type: signal.TypeParticipantLeft, ID: p.id})
	}
}

// broadcast sends m to every participant except skip.
func (r *Room) broadcast(skip *Participant, m signal.Message) {
	for _, q := range r.members() {
		if q != skip {
			q.send(m)
		}
	}
}

// relay delivers an endpoint message from one participant to one or all others.
func (r *Room) relay(from *Participant, to string, payload json.RawMessage) error {
	m := signal.Message{Type: signal.TypeMessage, From: from.id, Payload: payload}
	if to == "" {
		r.broadcast(from, m)
		r.relayMessage(from, "", payload)
		return nil
	}
	q, ok := r.get(to)
	if !ok {
		if r.relayMessage(from, to, payload) {
			return nil
		}
		return &errJoin{signal.CodeUnknownPeer, "no participant " + to + " in this room"}
	}
	from.notePingID(q.id, payload)
	q.send(m)
	return nil
}

func (r *Room) decideSpeaker(now time.Time) {
	id, changed := r.speaker.Decide(now)
	if !changed {
		return
	}
	r.mu.Lock()
	r.dominant = id
	r.mu.Unlock()
	r.node.log.Debug("dominant speaker", "room", r.name, "participant", id)
	r.broadcast(nil, signal.Message{Type: signal.TypeDominantSpeaker, ID: id})
}

func (r *Room) dominantSpeaker() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dominant
}

func ptr[T any](v T) *T { return &v }

// wantsChanged reports whether the layers this node needs of remote tracks
// changed since the last call, so that the peers hear of it at once.
func (r *Room) wantsChanged() bool {
	ws := r.wants()
	slices.SortFunc(ws, func(a, b control.Want) int {
		return cmp.Or(cmp.Compare(a.Publisher, b.Publisher), cmp.Compare(a.Kind, b.Kind))
	})
	var sb strings.Builder
	for _, w := range ws {
		fmt.Fprintf(&sb, "%s/%s/%d;", w.Publisher, w.Kind, w.Layers)
	}
	key := sb.String()
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := key != r.lastWants
	r.lastWants = key
	return changed
}

// mutedPublishers lists the local publishers an operator muted.
func (r *Room) mutedPublishers() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	var m map[string]bool
	for id, q := range r.participants {
		if q.audioMuted.Load() {
			if m == nil {
				m = map[string]bool{}
			}
			m[id] = true
		}
	}
	return m
}
