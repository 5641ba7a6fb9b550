package rtxguard

// Reason says why a NACKed sequence number was or was not retransmitted.
type Reason uint8

const (
	Allowed    Reason = iota // the packet may be resent
	Unknown                  // never forwarded to this receiver (ahead of the newest, or a gap)
	TooOld                   // further behind the newest than MaxBack packets or MaxAge
	Duplicate                // resent less than one round trip ago
	OverBudget               // the receiver's retransmission budget is spent
	NotCached                // the caller's cache no longer holds the packet
	NumReasons               // number of reasons, for arrays of counters
)

func (r Reason) String() string {
	switch r {
	case Allowed:
		return "allowed"
	case Unknown:
		return "unknown"
	case TooOld:
		return "too-old"
	case Duplicate:
		return "duplicate"
	case OverBudget:
		return "over-budget"
	case NotCached:
		return "not-cached"
	}
	return "invalid"
}
