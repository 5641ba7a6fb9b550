// Package bwe estimates the bandwidth the node may send to one receiver from
// transport-wide congestion control feedback, and decides when to probe for
// more.
//
// The estimate is the smaller of two parts. The delay-based part follows the
// trend of one-way delay variation between groups of packets (a queue
// building up at the bottleneck) and moves the rate in an AIMD fashion, capped
// near what the receiver actually acknowledged. The loss-based part only cuts
// on heavy loss (over 10%): random loss of a few percent, as on Wi-Fi or a
// mobile link, comes without queueing delay and does not lower the estimate,
// where a loss-first estimator would collapse on it.
//
// Probing finds spare capacity quickly: while a receiver is held back by the
// estimate, the node sends a short cluster of packets at about twice the
// estimate (media plus padding), and the rate at which the cluster arrived,
// read from the feedback, becomes the estimate when it is higher.
//
// Everything here is a pure state machine: time comes in as nanoseconds and
// nothing reads a clock, so table tests can replay feedback sequences.
package bwe
