package bwe

// Packet is what feedback says of one packet the node sent.
type Packet struct {
	Seq      int64 // transport-wide sequence number, unwrapped
	SendTime int64 // ns, the node's clock
	Size     int   // bytes on the wire, RTP header included
	Probe    int   // probe cluster the packet belongs to, 0 for none
	Received bool
	Arrival  int64 // ns, the receiver's clock (only differences count); set when Received
}
