// Package linkemu impairs datagrams (delay, jitter, loss, a bandwidth cap) so
// that networks can be emulated on one machine: relay links between nodes and
// a synthetic participant's access link.
//
// Every impaired direction follows one set of rules, described by Params and
// decided by one pure state machine (shaper) for both front ends:
//
//	Loss            each datagram is dropped with probability Loss, first
//	RateBitsPerSec  the survivors queue at a FIFO bottleneck that sends
//	                RateBitsPerSec bits per second (0: no bottleneck); a
//	                datagram that would find more than QueueBytes bytes
//	                untransmitted ahead of it, itself included, is dropped
//	Delay, Jitter   after the bottleneck each datagram is delayed by Delay
//	                plus a uniform draw in [-Jitter, +Jitter], never below 0
//	Reorder         unless set, a datagram never arrives before an earlier one
//
// Randomness comes from a seed, so a run can be repeated exactly.
//
// Two front ends deliver the datagrams:
//   - Emulator and Scheduler (relay links, cascade/relay): one timer heap for
//     every Link, driven by one goroutine (Emulator) or by a test with
//     synthetic times (Scheduler). Each Link is one direction to one peer.
//   - Net (a participant's access link, the client package): a pion
//     transport.Net whose UDP sockets all share one up and one down direction,
//     as all of a host's traffic shares one access link.
package linkemu
