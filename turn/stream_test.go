package turn

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/pion/stun/v4"
)

func TestReadFrame(t *testing.T) {
	bind := stun.MustBuild(stun.TransactionID, stun.BindingRequest).Raw
	big := stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.RawAttribute{Type: stun.AttrData, Value: make([]byte, 1600)}).Raw
	channel := func(n int) []byte { // ChannelData with n data bytes, padded
		b := []byte{0x40, 0x01, byte(n >> 8), byte(n)}
		b = append(b, bytes.Repeat([]byte{7}, n)...)
		return append(b, make([]byte, (4-n%4)%4)...)
	}
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	for _, tc := range []struct {
		name   string
		stream []byte
		frames []int // sizes of the frames read, then err
		err    error
	}{
		{"stun", bind, []int{len(bind)}, io.EOF},
		{"channel data padded", channel(5), []int{12}, io.EOF},
		{"channel data aligned", channel(8), []int{12}, io.EOF},
		{"empty channel data", channel(0), []int{4}, io.EOF},
		{"back to back", cat(channel(3), bind, channel(1)), []int{8, len(bind), 8}, io.EOF},
		{"http", []byte("GET / HTTP/1.1\r\n\r\n"), nil, errFrameTooLarge},
		{"tls", append([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}, make([]byte, 30)...), nil, errNotTURN},
		{"stun without cookie", cat(bind[:4], []byte{1, 2, 3, 4}, bind[8:]), nil, errNotTURN},
		{"too large", big, nil, errFrameTooLarge},
		{"cut short", bind[:len(bind)-1], nil, io.EOF},
		{"cut in the header", bind[:10], nil, io.EOF},
	} {
		r := bufio.NewReaderSize(bytes.NewReader(tc.stream), streamBuffer)
		dst := make([]byte, 1600)
		var sizes []int
		var err error
		for {
			var n int
			if n, err = readFrame(r, dst); err != nil {
				break
			}
			sizes = append(sizes, n)
		}
		if !errors.Is(err, tc.err) || len(sizes) != len(tc.frames) {
			t.Errorf("%s: frames %v, %v; want %v, %v", tc.name, sizes, err, tc.frames, tc.err)
			continue
		}
		for i := range sizes {
			if sizes[i] != tc.frames[i] {
				t.Errorf("%s: frames %v, want %v", tc.name, sizes, tc.frames)
			}
		}
	}
}

// FuzzReadFrame feeds a stream to the framer, and each frame to the
// request inspection, as a TCP connection would.
func FuzzReadFrame(f *testing.F) {
	f.Add(stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodCreatePermission, stun.ClassRequest),
		&xorPeer{IP: []byte{127, 0, 0, 1}, Port: 5000}).Raw)
	f.Add([]byte{0x40, 0x01, 0x00, 0x03, 1, 2, 3, 0})
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := bufio.NewReaderSize(bytes.NewReader(stream), streamBuffer)
		dst := make([]byte, 1600)
		total := 0
		for {
			n, err := readFrame(r, dst)
			if err != nil {
				break
			}
			if n < 4 || n >= len(dst) {
				t.Fatalf("frame of %d bytes", n)
			}
			total += n
			if peers := permissionPeers(dst[:n], nil); len(peers) > maxPeers {
				t.Fatalf("%d peers", len(peers))
			}
		}
		if total > len(stream) {
			t.Fatalf("read %d bytes of %d", total, len(stream))
		}
	})
}
