//go:build !linux

package udpbatch

import (
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
)

// batchReader is never created without recvmmsg: every read is one
// recvfrom, straight from the socket.
type batchReader struct{}

func newBatchReader(*net.UDPConn, int, int, int, *readStats, *atomic.Bool) (*batchReader, error) {
	return nil, nil
}

func (*batchReader) read([]byte) (int, netip.AddrPort, error) {
	return 0, netip.AddrPort{}, errors.New("udpbatch: batched reads need Linux")
}
