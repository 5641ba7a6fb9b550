package node

import (
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/switchyard/switchyard/cascade/control"
	"github.com/switchyard/switchyard/media"
	"github.com/switchyard/switchyard/media/speaker"
	"github.com/switchyard/switchyard/node/signal"
	"github.com/switchyard/switchyard/node/snapshot"
)

// member is one participant of a conference: a Participant on this node, or
// a participant of another node relayed here (remoteMember). Every member
// publishes UpTracks; only Participants receive.
type member interface {
	memberID() string
	info() signal.Participant
	upTracks() []*media.UpTrack
	// snapshot describes the member as seen from this node, with the
	// end-to-end paths to the other members.
	snapshot(members []member) snapshot.Participant
}

// Conference is one conference on this node: its members, their published
// tracks, and its dominant speaker. (Clients name it "room" when they join.)
type Conference struct {
	node    *Node
	name    string
	created time.Time
	speaker *speaker.Detector

	// refs counts admissions held (pending or present), counted the local
	// participants past their offer; both guarded by Node.mu. The node
	// drops the conference only when refs falls to 0, so a joiner between
	// admission and add never lands in a conference the node forgot.
	refs, counted int

	// recMu guards rec, the server recording under way, and recErr, why
	// the last one stopped on an error (record.go).
	recMu  sync.Mutex
	rec    *confRecording
	recErr string
	// recTold is whether the participants were last told the conference
	// is recorded (here or on another node).
	recTold bool

	mu       sync.Mutex        // guards members, order, dominant, recent
	recent   []string          // past dominant speakers, most recent first
	members  map[string]member // by id
	order    []member          // join order, for stable listings
	dominant string
}

func newConference(n *Node, name string) *Conference {
	return &Conference{
		node:    n,
		name:    name,
		created: time.Now(),
		speaker: speaker.New(),
		members: make(map[string]member),
	}
}

// all returns every member in join order.
func (c *Conference) all() []member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]member(nil), c.order...)
}

// locals returns the members on this node, in join order.
func (c *Conference) locals() []*Participant {
	c.mu.Lock()
	defer c.mu.Unlock()
	return localsOf(c.order)
}

func localsOf(ms []member) []*Participant {
	out := make([]*Participant, 0, len(ms))
	for _, m := range ms {
		if p, ok := m.(*Participant); ok {
			out = append(out, p)
		}
	}
	return out
}

func (c *Conference) get(id string) (member, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.members[id]
	return m, ok
}

// local returns the participant id if it is on this node.
func (c *Conference) local(id string) (*Participant, bool) {
	m, _ := c.get(id)
	p, ok := m.(*Participant)
	return p, ok
}

// hasLocals reports whether any member is on this node.
func (c *Conference) hasLocals() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.order {
		if _, ok := m.(*Participant); ok {
			return true
		}
	}
	return false
}

// add makes m a member and tells the others. welcome, if not nil, is called
// with the other members before anyone can message m, so that a local
// participant hears of the conference before any event in it. It reports
// false when the id is taken.
func (c *Conference) add(m member, welcome func(others []signal.Participant)) bool {
	c.mu.Lock()
	if _, taken := c.members[m.memberID()]; taken {
		c.mu.Unlock()
		return false
	}
	others := make([]signal.Participant, 0, len(c.order))
	for _, q := range c.order {
		others = append(others, q.info())
	}
	if welcome != nil {
		welcome(others)
	}
	c.members[m.memberID()] = m
	c.order = append(c.order, m)
	dominant := c.dominant
	c.mu.Unlock()
	c.broadcast(m, signal.Message{Type: signal.TypeParticipantJoined, Participant: ptr(m.info())})
	if p, ok := m.(*Participant); ok && dominant != "" {
		p.send(signal.Message{Type: signal.TypeDominantSpeaker, ID: dominant})
	}
	return true
}

// ready is called once p's first offer/answer is done: p now subscribes to
// everything already published.
func (c *Conference) ready(p *Participant) {
	c.mu.Lock()
	var ups []*media.UpTrack
	for _, q := range c.order {
		if q != member(p) {
			ups = append(ups, q.upTracks()...)
		}
	}
	p.markReady()
	c.mu.Unlock()
	for _, up := range ups {
		p.subscribe(up)
	}
}

// published fans a new track out to every ready participant but its publisher.
func (c *Conference) published(from member, up *media.UpTrack) {
	c.recordTrack(from, up)
	for _, q := range c.locals() {
		if member(q) != from && q.isReady() {
			q.subscribe(up)
		}
	}
}

// unpublished stops sending a track that ended to everyone.
func (c *Conference) unpublished(up *media.UpTrack) {
	c.unrecordTrack(up)
	for _, q := range c.locals() {
		q.unsubscribe([]*media.UpTrack{up})
	}
}

// remove takes m out of the conference; the others stop receiving its tracks.
func (c *Conference) remove(m member) {
	c.mu.Lock()
	if c.members[m.memberID()] != m {
		c.mu.Unlock()
		return
	}
	delete(c.members, m.memberID())
	for i, q := range c.order {
		if q == m {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
	others := localsOf(c.order)
	c.mu.Unlock()
	c.speaker.Remove(m.memberID())
	ups := m.upTracks()
	for _, up := range ups {
		c.unrecordTrack(up)
	}
	for _, q := range others {
		q.unsubscribe(ups)
		q.send(signal.Message{Type: signal.TypeParticipantLeft, ID: m.memberID()})
	}
}

// broadcast sends m to every local participant except skip.
func (c *Conference) broadcast(skip member, m signal.Message) {
	for _, q := range c.locals() {
		if member(q) != skip {
			q.send(m)
		}
	}
}

// message delivers an endpoint message from one member to another (to) or
// to all (""): local receivers get it here, and a local sender's message
// also goes to the other nodes of the cascade that need it.
func (c *Conference) message(from member, to string, payload json.RawMessage) error {
	m := signal.Message{Type: signal.TypeMessage, From: from.memberID(), Payload: payload}
	sender, fromHere := from.(*Participant)
	peers := c.node.peers
	if to == "" {
		c.broadcast(from, m)
		if fromHere && peers != nil {
			peers.SendMessage(c.name, sender.id, "", payload)
		}
		return nil
	}
	target, ok := c.get(to)
	if !ok {
		return &errJoin{signal.CodeUnknownPeer, "no participant " + to + " in this room"}
	}
	if fromHere {
		sender.notePingID(to, payload)
	}
	switch q := target.(type) {
	case *Participant:
		q.send(m)
	case *remoteMember:
		if fromHere && peers != nil {
			peers.SendMessage(c.name, sender.id, to, payload)
		}
	}
	return nil
}

func (c *Conference) decideSpeaker(now time.Time) {
	id, changed := c.speaker.Decide(now)
	if !changed {
		return
	}
	c.mu.Lock()
	c.dominant = id
	// Most recent first, each once: the order of last-N.
	c.recent = slices.DeleteFunc(c.recent, func(s string) bool { return s == id })
	c.recent = slices.Insert(c.recent, 0, id)
	if len(c.recent) > maxRecentSpeakers {
		c.recent = c.recent[:maxRecentSpeakers]
	}
	c.mu.Unlock()
	c.node.log.Debug("dominant speaker", "conference", c.name, "participant", id)
	c.broadcast(nil, signal.Message{Type: signal.TypeDominantSpeaker, ID: id})
}

// maxRecentSpeakers is how many past dominant speakers the conference
// remembers for last-N; the others rank after them, equal.
const maxRecentSpeakers = 64

// speakerRecency ranks the publishers by how recently each was the
// dominant speaker: 0 the current one, 1 the one before; those never
// dominant (or too long ago) rank after all of them.
func (c *Conference) speakerRecency() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	ranks := make(map[string]int, len(c.recent))
	for i, id := range c.recent {
		ranks[id] = i
	}
	return ranks
}

func (c *Conference) dominantSpeaker() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dominant
}

func ptr[T any](v T) *T { return &v }

// wants is which layers of each relayed track this node's participants are
// being sent or about to be. It changes nothing.
func (c *Conference) wants() []control.Want {
	need := map[*media.UpTrack]media.LayerSet{}
	for _, p := range c.locals() {
		p.mu.Lock()
		for up, s := range p.downs {
			if !up.Remote() {
				continue
			}
			cur, target, _ := s.down.Layers()
			need[up] = need[up].With(cur).With(target)
		}
		p.mu.Unlock()
	}
	c.recordingWants(need)
	var out []control.Want
	for up, set := range need {
		if set != 0 {
			out = append(out, control.Want{Publisher: up.Publisher(), Kind: up.Kind(), Source: up.Source(), Layers: set})
		}
	}
	return out
}
