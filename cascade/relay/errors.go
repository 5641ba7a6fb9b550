package relay

// DropReason says why a datagram was dropped. It is an error so Open can
// return it without allocating, and an index into the drop counters.
type DropReason uint8

// Reasons a received datagram is dropped.
const (
	ErrTruncated   DropReason = iota // shorter than a header, two ids and a tag
	ErrOversized                     // longer than MaxDatagram
	ErrVersion                       // unknown wire version
	ErrMalformed                     // bad flags, type, sender or body layout
	ErrMisdirected                   // not addressed to this node, or from itself
	ErrUnknownPeer                   // sender is not a peer of this transport
	ErrEpoch                         // sealed under a secret this node does not hold
	ErrReplay                        // sequence already seen or older than the window
	ErrAuth                          // tag did not verify: forged, corrupted or wrong secret
	NumDropReasons                   // number of receive-side reasons, for counter arrays
)

// Errors returned by Seal and Send for bad arguments.
const (
	ErrBadType     DropReason = iota + 32 // type is not one of the Type constants
	ErrIDTooLong                          // conference or endpoint id over MaxIDLen
	ErrTooLarge                           // sealed datagram would exceed MaxDatagram
	ErrBadReceiver                        // receiver is 0 or this node
	ErrClosed                             // the transport is closed
)

var reasonNames = [...]string{
	ErrTruncated:   "truncated",
	ErrOversized:   "oversized",
	ErrVersion:     "version",
	ErrMalformed:   "malformed",
	ErrMisdirected: "misdirected",
	ErrUnknownPeer: "unknown peer",
	ErrEpoch:       "unknown epoch",
	ErrReplay:      "replay",
	ErrAuth:        "authentication",
}

// String names the reason as it appears in stats and logs.
func (r DropReason) String() string {
	switch {
	case int(r) < len(reasonNames):
		return reasonNames[r]
	case r == ErrBadType:
		return "bad type"
	case r == ErrIDTooLong:
		return "id too long"
	case r == ErrTooLarge:
		return "too large"
	case r == ErrBadReceiver:
		return "bad receiver"
	case r == ErrClosed:
		return "closed"
	}
	return "unknown"
}

func (r DropReason) Error() string { return "relay: " + r.String() }

// DropReasons lists the receive-side reasons in counter order.
func DropReasons() []DropReason {
	rs := make([]DropReason, NumDropReasons)
	for i := range rs {
		rs[i] = DropReason(i)
	}
	return rs
}
