package udpbatch

import (
	"net"
	"testing"
)

// batchedReads says whether reads are batched on this platform.
const batchedReads = true

// TestReadAfterWaitingAsksForOne: a read that found the socket empty takes
// one datagram when woken; the next read takes what else arrived, in one
// syscall. The hook sends a burst at the moment the socket was found empty.
func TestReadAfterWaitingAsksForOne(t *testing.T) {
	c := newReader(t, "udp4", "127.0.0.1:0")
	tx := listen(t, "udp4", "127.0.0.1:0")
	to := c.LocalAddr().(*net.UDPAddr).AddrPort()
	sent := false
	c.reader.onEmpty = func() {
		if !sent {
			sent = true
			for _, s := range []string{"a", "b", "c"} {
				send(t, tx, []byte(s), to)
			}
		}
	}
	buf := make([]byte, 100)
	for i, want := range []struct {
		data           string
		calls, largest uint64
	}{{"a", 1, 1}, {"b", 2, 2}, {"c", 2, 2}} {
		n, _, err := c.ReadFromAddrPort(buf)
		if err != nil || string(buf[:n]) != want.data {
			t.Fatalf("read %d: %q, %v; want %q", i, buf[:n], err, want.data)
		}
		if s := c.Stats(); s.ReadCalls != want.calls || s.LargestRead != want.largest {
			t.Fatalf("after read %d: %d syscalls, largest %d; want %d, %d",
				i, s.ReadCalls, s.LargestRead, want.calls, want.largest)
		}
	}
}
