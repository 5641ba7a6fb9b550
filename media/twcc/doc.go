// Package twcc is the sending side of transport-wide congestion control
// (draft-holmer-rmcat-transport-wide-cc-extensions-01) for one
// PeerConnection: it numbers every outgoing packet in the header extension,
// keeps each packet's send time and size in a ring (no maps, no locks on the
// way out), and turns the receiver's feedback into per-packet results for a
// bandwidth estimator (package media/bwe).
//
// Interceptor wires it into pion's chain in place of pion's own header
// extension, congestion controller and GCC interceptors.
package twcc
