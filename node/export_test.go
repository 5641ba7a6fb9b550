package node

// Kill stops the node the way a crash would for the rest of the cascade:
// no leave message, sockets simply gone.
func (n *Node) Kill() error { return n.stop(false) }

// InRoom reports whether the room the node lists under name holds the
// participant id (a room the node forgot would not be found).
func (n *Node) InRoom(name, id string) bool {
	c, ok := n.conference(name)
	if !ok {
		return false
	}
	_, ok = c.local(id)
	return ok
}

// SetREDRecovery turns the rebuilding of lost audio from RED redundancy
// on or off for every track the node sends now, and returns how many
// packets those tracks rebuilt so far.
func (n *Node) SetREDRecovery(on bool) (recovered uint64) {
	for _, c := range n.conferenceList() {
		for _, p := range c.locals() {
			p.mu.Lock()
			for _, s := range p.downs {
				s.down.SetREDRecovery(on)
				recovered += s.down.Recovered.Load()
			}
			p.mu.Unlock()
		}
	}
	return recovered
}

// BadRED is how many RED payloads the node's published tracks refused.
func (n *Node) BadRED() (bad uint64) {
	for _, c := range n.conferenceList() {
		for _, p := range c.locals() {
			for _, up := range p.upTracks() {
				bad += up.BadRED.Load()
			}
		}
	}
	return bad
}

// MediaTCPAddr is the address of the ICE-TCP port ("" when off).
func (n *Node) MediaTCPAddr() string {
	if n.tcpLn == nil {
		return ""
	}
	return n.tcpLn.Addr().String()
}
