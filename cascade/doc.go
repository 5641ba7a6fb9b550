// Package cascade connects nodes into one conference fabric. Its
// subpackages, from the wire up:
//
//   - relay: the one UDP socket between nodes; sealed datagrams (RTP, RTCP,
//     control) with per-direction keys, a replay window, pings for RTT and
//     liveness, and byte counts per layer tag.
//   - control: the JSON language nodes speak over the relay about a
//     conference (state, wants, keyframe requests, endpoint messages).
//   - membership: who the other nodes are (memberlist gossip, keyed by the
//     cluster secret) and how loaded.
//   - selection: the pure rule that picks a node for a joining participant.
//   - repair: the gap tracker behind hop-by-hop NACKs.
//   - linkrate: the capacity estimate of one relay link, from what the
//     link shows (the far side's reports, delay, a configured rate).
//   - peering: this node's side of it all, tying the above to the node's
//     conferences through the Host interface.
//
// Tests and the demo impair relay links with the top-level linkemu package.
package cascade
