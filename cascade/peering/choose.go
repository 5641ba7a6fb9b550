package peering

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/switchyard/switchyard/cascade/selection"
)

// Self is this node as bridge selection weighs it.
type Self struct {
	Stress   float64
	Draining bool
	Hosts    bool // this node has participants of the conference
}

// Choose runs bridge selection for a participant from region joining conf.
// It returns the chosen node's signaling base URL, or "" for this node;
// ok is false when no node takes participants.
func (p *Peering) Choose(region, conf string, self Self) (base string, why selection.Reason, ok bool) {
	nodes := []selection.Node{{Name: p.cfg.Self, Region: p.cfg.Region, Stress: self.Stress, Self: true,
		Draining: self.Draining, Hosts: self.Hosts}}
	urls := map[string]string{}
	now := time.Now()
	p.mu.RLock()
	for _, pr := range p.peers {
		if pr.signalURL == "" {
			continue
		}
		// A node memberlist suspects, or whose relay went quiet, may be
		// dead: sending a participant there costs a failed join. The relay
		// notices within a second, memberlist's verdict takes about four.
		unreachable := !p.ml.Alive(pr.name) || p.tr.Silent(pr.id, now)
		nodes = append(nodes, selection.Node{Name: pr.name, Region: pr.region, Hosts: pr.confs[conf] != nil,
			Draining: pr.load.Draining, Unreachable: unreachable, Stress: Stress(pr.load, p.cfg.MaxParticipants)})
		urls[pr.name] = pr.signalURL
	}
	p.mu.RUnlock()
	chosen, why, ok := selection.Choose(nodes, region, p.cfg.Overload)
	if !ok || chosen.Self {
		return "", why, ok
	}
	return urls[chosen.Name], why, true
}

// Fallback lists the other live nodes' WebSocket URLs for a client to
// rejoin through if this node goes away.
func (p *Peering) Fallback() []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []string
	now := time.Now()
	for _, pr := range p.peers {
		if pr.signalURL != "" && !pr.load.Draining && p.ml.Alive(pr.name) && !p.tr.Silent(pr.id, now) {
			out = append(out, WebSocketURL(pr.signalURL))
		}
	}
	slices.Sort(out)
	return out
}

// WebSocketURL turns a node's base URL into its signaling URL.
func WebSocketURL(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	case "http":
		u.Scheme = "ws"
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/ws"
	return u.String()
}
