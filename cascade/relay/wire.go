package relay

import (
	"crypto/sha256"
	"encoding/binary"
)

// Version is the wire format version this package speaks.
const Version = 1

// Sizes of the wire format.
const (
	HeaderLen = 24
	TagLen    = 16
	// MaxDatagram bounds a sealed datagram: room for any RTP packet and for
	// data messages well past one MTU (IP fragments those).
	MaxDatagram = 16 << 10
	// MaxIDLen bounds conference and endpoint ids.
	MaxIDLen = 255
	// minDatagram is a header, two empty ids and a tag.
	minDatagram = HeaderLen + 2 + TagLen
)

// Type says what a datagram's payload is.
type Type uint8

// Datagram types.
const (
	TypeRTP     Type = 1
	TypeRTCP    Type = 2
	TypeMessage Type = 3 // endpoint or data-channel message
	TypeHello   Type = 16
	TypePing    Type = 17
	TypePong    Type = 18
)

func (t Type) valid() bool {
	return (t >= TypeRTP && t <= TypeMessage) || (t >= TypeHello && t <= TypePong)
}

func (t Type) control() bool { return t >= TypeHello }

// index maps a type to a dense slot for per-type counters.
func (t Type) index() int {
	switch t {
	case TypeRTP:
		return 0
	case TypeRTCP:
		return 1
	case TypeMessage:
		return 2
	default:
		return 3
	}
}

// NumTypeSlots is the number of per-type counter slots: RTP, RTCP, message,
// control.
const NumTypeSlots = 4

func (t Type) String() string {
	switch t {
	case TypeRTP:
		return "rtp"
	case TypeRTCP:
		return "rtcp"
	case TypeMessage:
		return "message"
	case TypeHello:
		return "hello"
	case TypePing:
		return "ping"
	case TypePong:
		return "pong"
	}
	return "unknown"
}

// Layer is a free tag carried with a datagram so relay bytes can be reported
// per simulcast layer. 0 means untagged; the node uses layer index + 1.
type Layer uint8

// NumLayers is the number of layer tags with their own byte counters; higher
// tags are counted as untagged.
const NumLayers = 16

func (l Layer) slot() int {
	if l >= NumLayers {
		return 0
	}
	return int(l)
}

// NodeID names a node on the wire.
type NodeID uint32

// NodeIDFromName derives a node's id from its name. With 32 bits, two of a
// few dozen nodes collide with negligible probability; membership should
// still refuse a node whose id is already taken.
func NodeIDFromName(name string) NodeID {
	h := sha256.Sum256([]byte("switchyard node id\x00" + name))
	id := NodeID(binary.BigEndian.Uint32(h[:4]))
	if id == 0 { // 0 means "no node"
		id = 1
	}
	return id
}

// Header is the cleartext, authenticated part of a datagram.
type Header struct {
	Type     Type
	Layer    Layer
	Sender   NodeID
	Receiver NodeID
	Epoch    uint32
	Seq      uint64
}

func (h *Header) put(b []byte) {
	b[0] = Version
	b[1] = byte(h.Type)
	b[2] = byte(h.Layer)
	b[3] = 0
	binary.BigEndian.PutUint32(b[4:], uint32(h.Sender))
	binary.BigEndian.PutUint32(b[8:], uint32(h.Receiver))
	binary.BigEndian.PutUint32(b[12:], h.Epoch)
	binary.BigEndian.PutUint64(b[16:], h.Seq)
}

// ParseHeader checks the parts of a datagram that cost nothing to check and
// returns its header. It does not authenticate: the header may be forged
// until Open succeeds.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < minDatagram {
		return Header{}, ErrTruncated
	}
	if len(b) > MaxDatagram {
		return Header{}, ErrOversized
	}
	if b[0] != Version {
		return Header{}, ErrVersion
	}
	h := Header{
		Type:     Type(b[1]),
		Layer:    Layer(b[2]),
		Sender:   NodeID(binary.BigEndian.Uint32(b[4:])),
		Receiver: NodeID(binary.BigEndian.Uint32(b[8:])),
		Epoch:    binary.BigEndian.Uint32(b[12:]),
		Seq:      binary.BigEndian.Uint64(b[16:]),
	}
	if b[3] != 0 || !h.Type.valid() || h.Sender == 0 {
		return Header{}, ErrMalformed
	}
	return h, nil
}

// Body is the opened part of a datagram. Its slices alias the buffer passed
// to Open.
type Body struct {
	Conference []byte
	Endpoint   []byte
	Payload    []byte
}

// Overhead is the number of bytes Seal adds around a payload for the given
// ids.
func Overhead(conference, endpoint string) int {
	return HeaderLen + 2 + len(conference) + len(endpoint) + TagLen
}

// Seal appends the sealed datagram to dst and returns it. h.Sender and
// h.Epoch are filled from k (its own node and newest secret); the caller sets
// Type, Layer, Receiver and a Seq it has never used towards that receiver.
// It does not allocate when dst has room for Overhead+len(payload) bytes.
func Seal(dst []byte, k *Keys, h Header, conference, endpoint string, payload []byte) ([]byte, error) {
	if !h.Type.valid() {
		return dst, ErrBadType
	}
	if len(conference) > MaxIDLen || len(endpoint) > MaxIDLen {
		return dst, ErrIDTooLong
	}
	n := Overhead(conference, endpoint) + len(payload)
	if n > MaxDatagram {
		return dst, ErrTooLarge
	}
	if h.Receiver == 0 || h.Receiver == k.self {
		return dst, ErrBadReceiver
	}
	h.Sender = k.self
	h.Epoch = k.current.Epoch
	aead, err := k.aead(h.Sender, h.Receiver, h.Epoch)
	if err != nil {
		return dst, err
	}

	start := len(dst)
	if cap(dst)-start < n {
		grown := make([]byte, start, start+n)
		copy(grown, dst)
		dst = grown
	}
	out := dst[start : start+n-TagLen]
	h.put(out)
	body := out[HeaderLen:]
	body[0] = byte(len(conference))
	i := 1 + copy(body[1:], conference)
	body[i] = byte(len(endpoint))
	i++
	i += copy(body[i:], endpoint)
	copy(body[i:], payload)
	// The nonce is taken from the header in dst rather than a local array:
	// a stack array passed to an interface method escapes and allocates.
	aead.Seal(body[:0], out[12:HeaderLen], body, out[:HeaderLen])
	return dst[:start+n], nil
}

// Open authenticates and decrypts datagram, appending the plaintext body to
// dst; the returned Body aliases dst's new tail. It does not check the
// replay window (see ReplayWindow) and does not allocate when dst has room.
// dst must not overlap datagram.
func Open(dst []byte, k *Keys, datagram []byte) (Header, Body, error) {
	h, err := ParseHeader(datagram)
	if err != nil {
		return h, Body{}, err
	}
	if h.Receiver != k.self || h.Sender == k.self {
		return h, Body{}, ErrMisdirected
	}
	if !k.knows(h.Epoch) {
		return h, Body{}, ErrEpoch
	}
	aead, err := k.aead(h.Sender, h.Receiver, h.Epoch)
	if err != nil {
		return h, Body{}, err
	}
	start := len(dst)
	plain, err := aead.Open(dst, datagram[12:HeaderLen], datagram[HeaderLen:], datagram[:HeaderLen])
	if err != nil {
		return h, Body{}, ErrAuth
	}
	body, ok := parseBody(plain[start:])
	if !ok {
		return h, Body{}, ErrMalformed
	}
	return h, body, nil
}

func parseBody(b []byte) (Body, bool) {
	if len(b) < 1 {
		return Body{}, false
	}
	cl := int(b[0])
	if len(b) < 1+cl+1 {
		return Body{}, false
	}
	conf := b[1 : 1+cl]
	b = b[1+cl:]
	el := int(b[0])
	if len(b) < 1+el {
		return Body{}, false
	}
	return Body{Conference: conf, Endpoint: b[1 : 1+el], Payload: b[1+el:]}, true
}
