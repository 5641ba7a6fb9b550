package membership

import (
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// memberlist decides a member is dead only after its suspicion timeout
// (SuspicionMult probe intervals after a failed probe, about 3.5 s with the
// defaults), and does not say when it merely suspects one: its
// Node.State is never set (hashicorp/memberlist#266), and no delegate is
// called on suspicion. So this node pings every member itself, with
// memberlist's own ping over the gossip socket, once per ProbeInterval, and
// calls a member suspect when two pings in a row get no ack within
// ProbeTimeout: one lost datagram is not a failure. A dead member is
// suspected within ProbeInterval + 2*ProbeTimeout (2 s with the defaults),
// and cleared as soon as it answers again.

// Alive reports whether name is a member that answers pings: it is false
// for a suspect and for a node that is not (or no longer) a member. A node
// is always alive to itself.
func (m *Membership) Alive(name string) bool {
	if name == m.cfg.Name {
		return true
	}
	m.vmu.RLock()
	defer m.vmu.RUnlock()
	_, ok := m.view[name]
	return ok && !m.suspect[name]
}

func (m *Membership) probe() {
	defer m.wg.Done()
	t := time.NewTicker(m.cfg.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-m.done:
			return
		case <-t.C:
		}
		m.probeRound()
	}
}

// probeRound pings every other member at once and waits for the answers,
// so one dead member does not delay the verdict on the others.
func (m *Membership) probeRound() {
	var wg sync.WaitGroup
	for _, mb := range m.Members() {
		if mb.Name == m.cfg.Name {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			answered := m.ping(mb) || m.ping(mb)
			m.setSuspect(mb.Name, !answered)
		}()
	}
	wg.Wait()
}

func (m *Membership) ping(mb Member) bool {
	select {
	case <-m.done:
		return true // stopping: no verdict
	default:
	}
	_, err := m.list.Ping(mb.Name, net.UDPAddrFromAddrPort(mb.Addr))
	if err == nil {
		return true
	}
	if _, timeout := err.(memberlist.NoPingResponseError); !timeout {
		m.log.Debug("membership: ping", "member", mb.Name, "err", err)
	}
	return false
}

func (m *Membership) setSuspect(name string, suspect bool) {
	m.vmu.Lock()
	_, member := m.view[name]
	was := m.suspect[name]
	switch {
	case !member || suspect == was:
		m.vmu.Unlock()
		return
	case suspect:
		m.suspect[name] = true
	default:
		delete(m.suspect, name)
	}
	m.vmu.Unlock()
	if suspect {
		m.log.Debug("membership: member does not answer pings", "member", name)
	} else {
		m.log.Debug("membership: member answers pings again", "member", name)
	}
}
