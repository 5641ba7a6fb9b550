package membership

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
)

// Load is what a node tells the others about how busy it is.
type Load struct {
	Participants int
	Conferences  int
	BitrateBps   int64   // media sent and received
	CPU          float64 // fraction of all cores, 0..1
	Draining     bool    // never choose this node for new participants
}

// Meta is the metadata a node gossips about itself.
type Meta struct {
	Region    string
	RelayAddr netip.AddrPort // the node's relay socket
	SignalURL string         // where clients are redirected to join this node
	Load      Load
	// Leaving is set by Leave just before the node goes, so the others can
	// tell a graceful leave from a failure (memberlist does not say which).
	Leaving bool
}

const (
	metaVersion  = 1
	flagDraining = 1 << 0
	flagLeaving  = 1 << 1
	// MaxMetaSize is memberlist's limit on node metadata.
	MaxMetaSize = 512
	// maxLoadLen bounds the load fields: four uvarints and the flags byte.
	maxLoadLen = 4*binary.MaxVarintLen64 + 1
)

var errMeta = errors.New("membership: malformed node metadata")

// appendMeta encodes m compactly: a version byte, three length-prefixed
// strings (the address in its text form, to stay readable in packet dumps),
// then the load as uvarints, CPU in units of 1/10000, and a flags byte.
func appendMeta(b []byte, m *Meta) []byte {
	b = append(b, metaVersion)
	b = appendString(b, m.Region)
	addr := ""
	if m.RelayAddr.IsValid() {
		addr = m.RelayAddr.String()
	}
	b = appendString(b, addr)
	b = appendString(b, m.SignalURL)
	b = binary.AppendUvarint(b, uint64(max(m.Load.Participants, 0)))
	b = binary.AppendUvarint(b, uint64(max(m.Load.Conferences, 0)))
	b = binary.AppendUvarint(b, uint64(max(m.Load.BitrateBps, 0)))
	cpu := m.Load.CPU
	if !(cpu >= 0) { // also NaN
		cpu = 0
	}
	b = binary.AppendUvarint(b, uint64(math.Round(min(cpu, 1)*10000)))
	var flags byte
	if m.Load.Draining {
		flags |= flagDraining
	}
	if m.Leaving {
		flags |= flagLeaving
	}
	return append(b, flags)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// checkMetaSize reports metadata too large to gossip whatever its load.
func checkMetaSize(m *Meta) error {
	fixed := len(appendMeta(nil, &Meta{Region: m.Region, RelayAddr: m.RelayAddr, SignalURL: m.SignalURL}))
	if n := fixed - 5 + maxLoadLen; n > MaxMetaSize {
		return fmt.Errorf("membership: metadata is %d bytes with full load, limit %d: shorten region or signaling URL", n, MaxMetaSize)
	}
	return nil
}

// parseMeta decodes metadata from another node. Fields added by later
// versions after the flags byte are ignored.
func parseMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) < 1 || b[0] != metaVersion {
		return m, fmt.Errorf("%w: version", errMeta)
	}
	b = b[1:]
	var (
		addr string
		ok   bool
	)
	if m.Region, b, ok = readString(b); !ok {
		return m, fmt.Errorf("%w: region", errMeta)
	}
	if addr, b, ok = readString(b); !ok {
		return m, fmt.Errorf("%w: relay address", errMeta)
	}
	if addr != "" {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return m, fmt.Errorf("%w: relay address: %v", errMeta, err)
		}
		m.RelayAddr = ap
	}
	if m.SignalURL, b, ok = readString(b); !ok {
		return m, fmt.Errorf("%w: signaling URL", errMeta)
	}
	var v [4]uint64
	for i := range v {
		n := 0
		v[i], n = binary.Uvarint(b)
		if n <= 0 {
			return m, fmt.Errorf("%w: load", errMeta)
		}
		b = b[n:]
	}
	if len(b) < 1 || v[0] > math.MaxInt32 || v[1] > math.MaxInt32 || v[2] > math.MaxInt64 || v[3] > 10000 {
		return m, fmt.Errorf("%w: load", errMeta)
	}
	m.Load = Load{
		Participants: int(v[0]),
		Conferences:  int(v[1]),
		BitrateBps:   int64(v[2]),
		CPU:          float64(v[3]) / 10000,
		Draining:     b[0]&flagDraining != 0,
	}
	m.Leaving = b[0]&flagLeaving != 0
	return m, nil
}

func readString(b []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, false
	}
	return string(b[k : k+int(n)]), b[k+int(n):], true
}
