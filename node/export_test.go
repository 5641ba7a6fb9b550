package node

// Kill stops the node the way a crash would for the rest of the cascade:
// no leave message, sockets simply gone.
func (n *Node) Kill() error { return n.stop(false) }
