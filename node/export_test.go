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
