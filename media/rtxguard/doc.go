// Package rtxguard bounds the retransmissions a receiver's NACKs can cause.
//
// A receiver that NACKs everything it was ever sent, many times a second,
// would otherwise turn each of its NACKs into hundreds of packets. Three
// checks stand between a NACKed sequence number and the packet cache,
// cheapest first:
//
//	check      scope          refuses                                   Reason
//	age        per track      not forwarded to this receiver            Unknown
//	                          more than MaxBack packets or MaxAge old   TooOld
//	repeat     per track      already resent less than one RTT ago      Duplicate
//	budget     per receiver   over max(floor, Fraction × forwarded)     OverBudget
//
// A Track is the per-track state (a ring of the last RingSize forwarded
// sequence numbers); a Budget is shared by all tracks sent to one receiver.
// Neither reads the clock: callers pass the time in.
package rtxguard
