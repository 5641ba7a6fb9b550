// Package peering is this node's side of a cascade: the table of other
// nodes and what they host, the relayed participants they bring into this
// node's conferences, and the loops that keep both in step.
//
// A local track reaches the other nodes through an Outbound, one media.Sink
// per published track, which relays each layer only to the nodes whose
// participants want it and answers their NACKs from the track's own packet
// cache. A relayed participant is a Remote: its packets come in over the
// relay, a repair tracker per layer NACKs the previous hop for what the link
// lost, and each track feeds a media.UpTrack that the node's conference
// treats like any other publisher's.
//
// Each link has a capacity estimate (package linkrate, fed every ping
// interval from the relay's figures and the peer's reports). When what a
// peer wants costs more, the most expensive layers step down before they
// reach the link, and the peer is told in its own copy of this node's state
// that they are held, so its receivers settle on a layer that arrives.
//
// The package reaches conferences only through the Host interface the node
// implements; it never imports the node.
package peering
