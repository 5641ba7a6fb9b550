// Package linkemu impairs datagrams on their way out (delay, jitter, loss, bandwidth) so regions can be emulated on one machine.
//
// A Scheduler is the pure state machine: it decides when (or whether) each
// datagram leaves, given the time it was sent, and can be driven by a test with
// synthetic times. An Emulator wraps one Scheduler with one goroutine and one
// timer for all of its Links, so delayed packets never cost a goroutine each.
package linkemu
