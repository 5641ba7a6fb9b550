package client

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/media/red"
)

// ptRED is the payload type the participant offers RED (RFC 2198) at,
// after Opus, as Chromium does.
const ptRED = 63

// redDistance is how many previous Opus frames each RED packet repeats.
const redDistance = 2

// audioTrack is what sendAudio writes to.
type audioTrack interface {
	webrtc.TrackLocal
	WriteRTP(p *rtp.Packet) error
}

// firstCodecTrack is an audio track that sends with the codec the answer
// lists first, as Chromium does: RED, carrying the previous Opus frames as
// redundancy, when the node put it first, plain Opus otherwise.
type firstCodecTrack struct {
	id, streamID string

	mu     sync.Mutex // guards the fields below; Bind and writes race
	writer webrtc.TrackLocalWriter
	ssrc   webrtc.SSRC
	pt     uint8
	mime   string
	enc    *red.Encoder // nil unless sending RED
	buf    []byte
}

func newFirstCodecTrack(id, streamID string) *firstCodecTrack {
	return &firstCodecTrack{id: id, streamID: streamID}
}

func (t *firstCodecTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codecs := ctx.CodecParameters()
	if len(codecs) == 0 {
		return webrtc.RTPCodecParameters{}, errors.New("client: no audio codec negotiated")
	}
	c := codecs[0]
	var enc *red.Encoder
	switch {
	case strings.EqualFold(c.MimeType, red.MimeType):
		primary, ok := red.PrimaryPT(c.SDPFmtpLine)
		if !ok {
			return webrtc.RTPCodecParameters{}, fmt.Errorf("client: red without a primary payload type: %q", c.SDPFmtpLine)
		}
		enc = red.NewEncoder(primary, redDistance)
	case !strings.EqualFold(c.MimeType, webrtc.MimeTypeOpus):
		return webrtc.RTPCodecParameters{}, fmt.Errorf("client: cannot send %s", c.MimeType)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.writer, t.ssrc, t.pt, t.mime, t.enc = ctx.WriteStream(), ctx.SSRC(), uint8(c.PayloadType), c.MimeType, enc
	return c, nil
}

func (t *firstCodecTrack) Unbind(webrtc.TrackLocalContext) error {
	t.mu.Lock()
	t.writer = nil
	t.mu.Unlock()
	return nil
}

func (t *firstCodecTrack) ID() string                { return t.id }
func (t *firstCodecTrack) RID() string               { return "" }
func (t *firstCodecTrack) StreamID() string          { return t.streamID }
func (t *firstCodecTrack) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeAudio }

// WriteRTP sends p, an Opus packet, as the bound codec; before the answer
// it is dropped.
func (t *firstCodecTrack) WriteRTP(p *rtp.Packet) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.writer == nil {
		return nil
	}
	payload := p.Payload
	if t.enc != nil {
		t.buf = t.enc.Encode(t.buf[:0], p.Timestamp, p.Payload)
		payload = t.buf
	}
	h := p.Header
	h.PayloadType, h.SSRC = t.pt, uint32(t.ssrc)
	_, err := t.writer.WriteRTP(&h, payload)
	return err
}

// Codec is the mime type the track sends, "" before the answer.
func (t *firstCodecTrack) Codec() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mime
}
