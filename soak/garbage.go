package soak

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/switchyard/switchyard/cascade/relay"
)

// Datagrams per kind in one round of media or relay garbage.
const (
	garbagePerKind = 40
	tcpGarbageConn = 3
)

// junkFunc returns n random bytes.
type junkFunc func(n int) []byte

// randomDatagram is 1 to 1400 random bytes.
func randomDatagram(junk junkFunc, size int) []byte { return junk(1 + size%1400) }

// dtlsLike is a DTLS 1.2 record header (change_cipher_spec, alert,
// handshake or application data; epoch 0 or 1) over a random body, a
// ClientHello's message type for a handshake.
func dtlsLike(junk junkFunc, i int) []byte {
	body := junk(13 + i%600)
	b := make([]byte, 13, 13+len(body))
	b[0] = byte(20 + i%4)
	b[1], b[2] = 0xfe, 0xfd
	binary.BigEndian.PutUint16(b[3:], uint16(i%2))
	copy(b[5:11], junk(6))
	binary.BigEndian.PutUint16(b[11:], uint16(len(body)))
	if b[0] == 22 {
		body[0] = 1 // client_hello
	}
	return append(b, body...)
}

// stunLike is a STUN binding request with the magic cookie, a USERNAME of
// random fragments and a random MESSAGE-INTEGRITY and FINGERPRINT.
func stunLike(junk junkFunc, i int) []byte {
	user := fmt.Sprintf("%x:%x", junk(4), junk(4))
	attr := func(typ uint16, v []byte) []byte {
		a := make([]byte, 4, 4+len(v)+3)
		binary.BigEndian.PutUint16(a, typ)
		binary.BigEndian.PutUint16(a[2:], uint16(len(v)))
		a = append(a, v...)
		for len(a)%4 != 0 {
			a = append(a, 0)
		}
		return a
	}
	var attrs []byte
	attrs = append(attrs, attr(0x0006, []byte(user))...) // USERNAME
	if i%3 != 0 {
		attrs = append(attrs, attr(0x0008, junk(20))...) // MESSAGE-INTEGRITY
	}
	attrs = append(attrs, attr(0x8028, junk(4))...) // FINGERPRINT
	b := make([]byte, 20, 20+len(attrs))
	binary.BigEndian.PutUint16(b, 0x0001) // binding request
	binary.BigEndian.PutUint16(b[2:], uint16(len(attrs)))
	binary.BigEndian.PutUint32(b[4:], 0x2112A442)
	copy(b[8:], junk(12))
	return append(b, attrs...)
}

// rtpLike is an RTP (Opus or VP8 payload type) or RTCP (SR, RR) header over
// random bytes.
func rtpLike(junk junkFunc, i int) []byte {
	b := junk(12 + i%1000)
	b[0] = 0x80
	b[1] = [...]byte{111, 96, 0x80 | 96, 200, 201}[i%5]
	return b
}

// relayHeaderJunk is a relay header of this wire version with a random
// type, layer, sender and receiver, over a random body.
func relayHeaderJunk(junk junkFunc, i int) []byte {
	b := junk(relay.HeaderLen + 2 + relay.TagLen + i%500)
	b[0] = relay.Version
	b[1] = [...]byte{1, 2, 3, 16, 17, 18, 99}[i%7]
	b[3] = 0
	return b
}

// forgedRelay is a well-formed relay datagram from peer to target, sealed
// under a secret that is not the cluster's: it fails authentication.
func forgedRelay(junk junkFunc, i int, peer, target string) ([]byte, error) {
	keys, err := relay.NewKeys(relay.NodeIDFromName(peer), relay.Secret{Epoch: 1, Key: junk(32)})
	if err != nil {
		return nil, fmt.Errorf("soak: forged relay keys: %w", err)
	}
	typ := [...]relay.Type{relay.TypeRTP, relay.TypeRTCP, relay.TypeMessage, relay.TypePing}[i%4]
	h := relay.Header{Type: typ, Receiver: relay.NodeIDFromName(target), Seq: binary.BigEndian.Uint64(junk(8)) >> 2}
	return relay.Seal(nil, keys, h, steadyRoom, "p1", junk(20+i%800))
}

// sendAll writes datagrams to addr from a fresh socket and returns how many
// left it.
func sendAll(addr string, dgrams [][]byte) (int, error) {
	raddr, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return 0, fmt.Errorf("soak: %w", err)
	}
	if !raddr.IP.IsLoopback() {
		return 0, fmt.Errorf("soak: refusing to send garbage off loopback (%s)", addr)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, fmt.Errorf("soak: %w", err)
	}
	defer conn.Close()
	n := 0
	for i, d := range dgrams {
		if _, err := conn.WriteToUDP(d, raddr); err != nil {
			return n, fmt.Errorf("soak: send garbage: %w", err)
		}
		n++
		if i%10 == 9 {
			time.Sleep(2 * time.Millisecond) // a burst, not a flood the kernel drops
		}
	}
	return n, nil
}

// mediaRound sends one round of garbage to the node's media port: UDP of
// every kind, and TCP connections (the ICE-TCP listener shares the port's
// number) that write junk and hang up.
func (r *run) mediaRound(ctx context.Context, np *nodeProc) {
	addr := "127.0.0.1:" + strconv.Itoa(np.mediaPort)
	builders := []struct {
		kind  string
		build func(i int) []byte
	}{
		{AbuseMediaRandom, func(i int) []byte { return randomDatagram(r.junk, r.intn(1400)) }},
		{AbuseMediaDTLS, func(i int) []byte { return dtlsLike(r.junk, i) }},
		{AbuseMediaSTUN, func(i int) []byte { return stunLike(r.junk, i) }},
		{AbuseMediaRTP, func(i int) []byte { return rtpLike(r.junk, i) }},
	}
	for _, b := range builders {
		dg := make([][]byte, garbagePerKind)
		for i := range dg {
			dg[i] = b.build(i)
		}
		n, err := sendAll(addr, dg)
		r.abuse.sent(b.kind, n)
		if err != nil && np.live() {
			r.abuse.judged(b.kind, false, err.Error())
		}
	}
	for i := range tcpGarbageConn {
		if ctx.Err() != nil {
			return
		}
		d := net.Dialer{Timeout: 2 * time.Second}
		c, err := d.DialContext(ctx, "tcp4", addr)
		if err != nil {
			if np.live() {
				r.abuse.judged(AbuseMediaTCP, false, fmt.Sprintf("%s: %v", np.id, err))
			}
			continue
		}
		_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		payload := r.junk(1 + r.intn(3000))
		if i == 0 {
			// RFC 4571 framing around a STUN-looking message.
			s := stunLike(r.junk, i)
			payload = binary.BigEndian.AppendUint16(nil, uint16(len(s)))
			payload = append(payload, s...)
		}
		_, _ = c.Write(payload)
		_ = c.Close()
		r.abuse.sent(AbuseMediaTCP, 1)
	}
}

// relayRound sends one round of garbage to the node's relay port: random
// datagrams, relay headers over junk, and datagrams sealed with a wrong
// secret in the name of a real peer.
func (r *run) relayRound(np *nodeProc, peers []*nodeProc) {
	var random, headers, forged [][]byte
	for i := range garbagePerKind {
		random = append(random, randomDatagram(r.junk, r.intn(1500)))
		headers = append(headers, relayHeaderJunk(r.junk, i))
		peer := "mallory"
		if len(peers) > 0 {
			peer = peers[i%len(peers)].id
		}
		if d, err := forgedRelay(r.junk, i, peer, np.id); err == nil {
			forged = append(forged, d)
		}
	}
	for _, k := range []struct {
		kind string
		dg   [][]byte
	}{{AbuseRelayRandom, random}, {AbuseRelayHeader, headers}, {AbuseRelayForged, forged}} {
		n, err := sendAll(np.relayAddr, k.dg)
		r.abuse.sent(k.kind, n)
		if err != nil && np.live() {
			r.abuse.judged(k.kind, false, err.Error())
		}
	}
}
