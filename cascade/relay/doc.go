// Package relay carries every conference between two nodes over one UDP socket, sealed with ChaCha20-Poly1305.
//
// # Wire format (version 1)
//
// Every datagram is a 24-byte cleartext header, then the sealed body, then
// the 16-byte Poly1305 tag. All integers are big-endian.
//
//	offset size field
//	0      1    version      1
//	1      1    type         1 RTP, 2 RTCP, 3 endpoint/data message,
//	                         16 hello, 17 ping, 18 pong
//	2      1    layer        free tag for accounting (e.g. simulcast layer+1;
//	                         0 untagged); counted per link in both directions
//	3      1    flags        0 (reserved; anything else is dropped)
//	4      4    sender       NodeID of the sending node
//	8      4    receiver     NodeID of the node the datagram is for
//	12     4    epoch        key epoch (which cluster secret sealed it)
//	16     8    sequence     per (sender, receiver) counter; AEAD nonce and
//	                         replay-window index
//	24     n    sealed body  conference length (1 byte), conference,
//	                         endpoint length (1 byte), endpoint, payload
//	24+n   16   tag
//
// The conference and endpoint ids travel inside the ciphertext, so an
// observer of the relay port learns which nodes talk and how much, not which
// conferences or people. The payload is an RTP or RTCP packet, a data
// message, or a control body (hello: 0 to announce or 1 to answer, then the
// sender's node name; an announcement is always answered; ping: an 8-byte
// ping number and the pinger's 8-byte send time; pong: the ping echoed, then
// the answering node's Report on the pinger's datagrams, four 8-byte
// integers: highest sequence received, datagrams received, their bytes,
// and its clock at the ping's arrival, so that the pinger sees its own
// direction of the link: loss, arrival rate and queueing delay. A pong of
// 16 bytes, without the report, is accepted too; any other length is
// dropped as malformed).
// A sealed datagram is at most MaxDatagram bytes.
//
// # Keys and nonces
//
// The key of each (sender, receiver, epoch) is HKDF-SHA256 of the cluster
// secret of that epoch, with salt "switchyard relay v1" and info naming
// sender, receiver and epoch; the two directions of a link therefore use
// different keys. The AEAD nonce is header bytes 12..24 (epoch and sequence)
// and the whole header is the associated data, so no header field can be
// changed, and a datagram cannot be reflected or redirected to another node.
// A sender starts its sequence at its wall clock in nanoseconds, so a node
// that restarts continues above every sequence it used before and never
// reuses a nonce, as long as its clock does not step back past its previous
// run.
//
// All nodes hold the same cluster secret: any node can compute any pair's
// key, so the scheme keeps outsiders out but does not stop one compromised
// node from impersonating another. Per-node key pairs would; they are not
// needed while every node is run by the same operator.
//
// # Receiving
//
// Checks run from cheapest to dearest, and a datagram is dropped and counted
// at the first that fails: size (truncated, oversized), version and flags,
// type, receiver is this node, sender is a known peer, epoch is known,
// sequence is inside the sender's 1024-packet replay window and not yet seen,
// authentication tag, body layout. Only then is the window advanced. The log
// notes each reason at most once per 10 s.
package relay
