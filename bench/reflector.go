package bench

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"github.com/switchyard/switchyard/internal/srtpprofile"
)

// The bare reflector is the machine's own limit for an SFU: one UDP socket,
// SRTP decrypt once, encrypt and send once per receiver, nothing else (no
// congestion control, no layer choice, no RTCP, no rewriting). The node's
// CPU per forwarded packet is reported as a multiple of its CPU per packet.

// srtpProfile is what the node and its clients negotiate (they offer
// internal/srtpprofile's list, AEAD_AES_128_GCM first), so the reflector
// pays for the same cipher.
const srtpProfile = srtpprofile.Preferred

// reflectorConfig is the room layout the reflector serves; the bench sends
// it as one JSON line on the child's stdin.
type reflectorConfig struct {
	Rooms              int  `json:"rooms"`
	Publishers         int  `json:"publishers"`  // per room
	Subscribers        int  `json:"subscribers"` // per room
	VideoToSubscribers bool `json:"video_to_subscribers"`
	// Sinks has one address per room member, room after room, each room's
	// publishers first.
	Sinks []string `json:"sinks"`
}

func (c reflectorConfig) members() int { return c.Publishers + c.Subscribers }

func (c reflectorConfig) validate() error {
	if c.Rooms < 1 || c.Publishers < 1 || c.Subscribers < 0 {
		return fmt.Errorf("reflector: bad layout %d rooms x (%d + %d)", c.Rooms, c.Publishers, c.Subscribers)
	}
	if want := c.Rooms * c.members(); len(c.Sinks) != want {
		return fmt.Errorf("reflector: %d sinks for %d members", len(c.Sinks), want)
	}
	return nil
}

// SSRCs: publisher g (room-major) sends audio on ssrcBase+3g, the video
// layer its receivers get on ssrcBase+3g+1, and the layers nobody gets on
// ssrcBase+3g+2 (an SFU receives and decrypts every simulcast layer, and
// forwards one). The reflector finds a stream by arithmetic, not a map.
const ssrcBase = 0x10000

const (
	kindAudio = iota
	kindVideo
	kindUnforwarded
	streamKinds
)

func streamSSRC(pub, kind int) uint32 { return uint32(ssrcBase + streamKinds*pub + kind) }

// keying derives a deterministic SRTP master key and salt per endpoint; the
// bench and its child agree on them without exchanging secrets.
func keying(role string, i int) (key, salt []byte) {
	k := sha256.Sum256([]byte(fmt.Sprintf("switchyard-bench/%s/%d/key", role, i)))
	s := sha256.Sum256([]byte(fmt.Sprintf("switchyard-bench/%s/%d/salt", role, i)))
	kl, _ := srtpProfile.KeyLen()
	sl, _ := srtpProfile.SaltLen()
	return k[:kl], s[:sl]
}

func newContext(role string, i int, opts ...srtp.ContextOption) (*srtp.Context, error) {
	key, salt := keying(role, i)
	c, err := srtp.CreateContext(key, salt, srtpProfile, opts...)
	if err != nil {
		return nil, fmt.Errorf("reflector: srtp context %s %d: %w", role, i, err)
	}
	return c, nil
}

// target is one receiver: its own SRTP context, reused for every packet.
type target struct {
	ctx  *srtp.Context
	addr netip.AddrPort
}

// reflector forwards SRTP from publishers to receivers.
type reflector struct {
	conn *net.UDPConn
	pubs []*srtp.Context // decrypt, by publisher
	fan  [][]*target     // receivers by stream (ssrc - ssrcBase); none for unforwarded layers

	header rtp.Header // scratch for the serving goroutine, reused so a packet allocates nothing

	received  atomic.Uint64
	forwarded atomic.Uint64
	bytesOut  atomic.Uint64
	dropped   atomic.Uint64 // not SRTP, unknown stream, failed to decrypt or send
}

func newReflector(conn *net.UDPConn, cfg reflectorConfig) (*reflector, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	rf := &reflector{conn: conn}
	targets := make([]*target, len(cfg.Sinks))
	for i, s := range cfg.Sinks {
		addr, err := netip.ParseAddrPort(s)
		if err != nil {
			return nil, fmt.Errorf("reflector: sink %q: %w", s, err)
		}
		ctx, err := newContext("recv", i)
		if err != nil {
			return nil, err
		}
		targets[i] = &target{ctx: ctx, addr: addr}
	}
	m := cfg.members()
	for room := range cfg.Rooms {
		for p := range cfg.Publishers {
			g := room*cfg.Publishers + p
			// Replay protection as a WebRTC receiver has it.
			ctx, err := newContext("pub", g, srtp.SRTPReplayProtection(64))
			if err != nil {
				return nil, err
			}
			rf.pubs = append(rf.pubs, ctx)
			var audio, video []*target
			for i := range m {
				if i == p {
					continue
				}
				t := targets[room*m+i]
				audio = append(audio, t)
				if i < cfg.Publishers || cfg.VideoToSubscribers {
					video = append(video, t)
				}
			}
			rf.fan = append(rf.fan, audio, video, nil)
		}
	}
	return rf, nil
}

// serve forwards until the socket is closed.
func (rf *reflector) serve() error {
	in := make([]byte, 1500)
	plain := make([]byte, 1500)
	out := make([]byte, 1500)
	for {
		n, _, err := rf.conn.ReadFromUDPAddrPort(in)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("reflector: read: %w", err)
		}
		rf.forward(in[:n], plain, out)
	}
}

// forward handles one packet; plain and out are scratch buffers of 1500
// bytes. Only the serving goroutine calls it.
func (rf *reflector) forward(pkt, plain, out []byte) {
	rf.received.Add(1)
	if len(pkt) < 12 {
		rf.dropped.Add(1)
		return
	}
	idx := int64(binary.BigEndian.Uint32(pkt[8:12])) - ssrcBase
	if idx < 0 || idx >= int64(len(rf.fan)) {
		rf.dropped.Add(1)
		return
	}
	h := &rf.header
	dec, err := rf.pubs[idx/streamKinds].DecryptRTP(plain[:0], pkt, h)
	if err != nil {
		rf.dropped.Add(1)
		return
	}
	for _, t := range rf.fan[idx] {
		enc, err := t.ctx.EncryptRTP(out[:0], dec, h)
		if err != nil {
			rf.dropped.Add(1)
			continue
		}
		if _, err := rf.conn.WriteToUDPAddrPort(enc, t.addr); err != nil {
			rf.dropped.Add(1)
			continue
		}
		rf.forwarded.Add(1)
		rf.bytesOut.Add(uint64(len(enc)))
	}
}

// reflectorStats is the child's answer to "stats".
type reflectorStats struct {
	Received  uint64 `json:"received"`
	Forwarded uint64 `json:"forwarded"`
	BytesOut  uint64 `json:"bytes_out"`
	Dropped   uint64 `json:"dropped"`
}

func (rf *reflector) stats() reflectorStats {
	return reflectorStats{Received: rf.received.Load(), Forwarded: rf.forwarded.Load(),
		BytesOut: rf.bytesOut.Load(), Dropped: rf.dropped.Load()}
}

// reflectorMain is the hidden `switchyard bench reflector`: it reads its
// configuration from stdin, says "ready PORT", answers each "stats" line
// with a JSON line, and exits when stdin closes.
func reflectorMain(stdin io.Reader, stdout io.Writer) error {
	in := bufio.NewReader(stdin)
	line, err := in.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("reflector: read configuration: %w", err)
	}
	var cfg reflectorConfig
	if err := json.Unmarshal(line, &cfg); err != nil {
		return fmt.Errorf("reflector: configuration: %w", err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return fmt.Errorf("reflector: listen: %w", err)
	}
	_ = conn.SetReadBuffer(4 << 20)
	_ = conn.SetWriteBuffer(4 << 20)
	rf, err := newReflector(conn, cfg)
	if err != nil {
		_ = conn.Close()
		return err
	}
	served := make(chan error, 1)
	go func() { served <- rf.serve() }()
	if _, err := fmt.Fprintf(stdout, "ready %d\n", conn.LocalAddr().(*net.UDPAddr).Port); err != nil {
		_ = conn.Close()
		return fmt.Errorf("reflector: %w", err)
	}
	for {
		line, err := in.ReadString('\n')
		if strings.TrimSpace(line) == "stats" {
			data, _ := json.Marshal(rf.stats())
			if _, werr := fmt.Fprintf(stdout, "%s\n", data); werr != nil {
				err = werr
			}
		}
		if err != nil {
			_ = conn.Close()
			serr := <-served
			if errors.Is(err, io.EOF) {
				return serr
			}
			return errors.Join(fmt.Errorf("reflector: control: %w", err), serr)
		}
	}
}

// reflectorClient drives a reflector child over its stdin and stdout.
type reflectorClient struct {
	w  io.WriteCloser
	r  *bufio.Reader
	mu sync.Mutex
}

func (c *reflectorClient) stats() (reflectorStats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var s reflectorStats
	if _, err := io.WriteString(c.w, "stats\n"); err != nil {
		return s, fmt.Errorf("bench: ask reflector: %w", err)
	}
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		return s, fmt.Errorf("bench: reflector stats: %w", err)
	}
	if err := json.Unmarshal(line, &s); err != nil {
		return s, fmt.Errorf("bench: reflector stats %q: %w", line, err)
	}
	return s, nil
}

// streamModel is the traffic one publisher sends, taken from the node run.
type streamModel struct {
	AudioPPS     float64 `json:"audio_pps"`
	VideoPPS     float64 `json:"video_pps"`
	AudioPayload int     `json:"audio_payload"` // bytes
	VideoPayload int     `json:"video_payload"`
	// Unforwarded is what the node received but forwarded to nobody (the
	// simulcast layers no receiver gets): the reflector decrypts it too.
	UnforwardedPPS     float64 `json:"unforwarded_pps"`
	UnforwardedPayload int     `json:"unforwarded_payload"`
}

// sender replays RTP as the publishers would: each publisher's audio and
// video streams at the model's rates and sizes, SRTP-encrypted with the
// publisher's key, paced in 2 ms steps.
func sendStreams(ctx context.Context, conn *net.UDPConn, dst netip.AddrPort, publishers int, m streamModel) error {
	type stream struct {
		ctx     *srtp.Context
		ssrc    uint32
		pt      uint8
		pps     float64
		payload []byte
		seq     uint16
		ts      uint32
		tsStep  uint32
		sent    uint64
	}
	var streams []*stream
	for g := range publishers {
		ctx, err := newContext("pub", g)
		if err != nil {
			return err
		}
		for _, k := range []struct {
			kind    int
			pt      uint8
			pps     float64
			payload int
			tsStep  uint32
		}{
			{kindAudio, 111, m.AudioPPS, m.AudioPayload, 960},
			{kindVideo, 96, m.VideoPPS, m.VideoPayload, 3000},
			{kindUnforwarded, 96, m.UnforwardedPPS, m.UnforwardedPayload, 3000},
		} {
			if k.pps > 0 {
				streams = append(streams, &stream{ctx: ctx, ssrc: streamSSRC(g, k.kind), pt: k.pt, pps: k.pps,
					payload: filler(max(k.payload, 1)), tsStep: k.tsStep})
			}
		}
	}
	if len(streams) == 0 {
		return errors.New("bench: the traffic model sends nothing")
	}
	plain := make([]byte, 1500)
	out := make([]byte, 1500)
	start := time.Now()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		elapsed := time.Since(start).Seconds()
		for _, s := range streams {
			for due := uint64(s.pps * elapsed); s.sent < due; s.sent++ {
				h := rtp.Header{Version: 2, PayloadType: s.pt, SequenceNumber: s.seq, Timestamp: s.ts, SSRC: s.ssrc}
				// A transport-wide sequence number, as every WebRTC packet carries.
				_ = h.SetExtension(1, []byte{byte(s.seq >> 8), byte(s.seq)})
				s.seq++
				s.ts += s.tsStep
				hn, err := h.MarshalTo(plain)
				if err != nil {
					return fmt.Errorf("bench: sender header: %w", err)
				}
				n := hn + copy(plain[hn:], s.payload)
				enc, err := s.ctx.EncryptRTP(out[:0], plain[:n], nil)
				if err != nil {
					return fmt.Errorf("bench: sender encrypt: %w", err)
				}
				// A full loopback buffer drops the packet; pacing goes on.
				_, _ = conn.WriteToUDPAddrPort(enc, dst)
			}
		}
	}
}

func filler(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

// sinks are the receivers' sockets; they count and drop what arrives.
type sinks struct {
	conns    []*net.UDPConn
	received atomic.Uint64
	wg       sync.WaitGroup
}

func openSinks(n int) (*sinks, error) {
	s := &sinks{}
	for range n {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			s.close()
			return nil, fmt.Errorf("bench: sink socket: %w", err)
		}
		_ = c.SetReadBuffer(1 << 20)
		s.conns = append(s.conns, c)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			buf := make([]byte, 1500)
			for {
				if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
					return
				}
				s.received.Add(1)
			}
		}()
	}
	return s, nil
}

func (s *sinks) addrs() []string {
	out := make([]string, len(s.conns))
	for i, c := range s.conns {
		out[i] = c.LocalAddr().String()
	}
	return out
}

func (s *sinks) close() {
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.wg.Wait()
}
