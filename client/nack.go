package client

// NACKs for what the node sends, aware of RTX. pion's NACK generator logs
// the sequence numbers of each media stream as they are read, but a packet
// repaired on the RTX stream (RFC 4588) is read through the RTX stream's
// own chain, which the generator does not watch: it would NACK a repaired
// packet again every interval until it left its log, and the node resend it
// each time. A browser's receiver counts a repair as received; so does this
// one: the read loop reports each repaired packet, and nackFeed writes it
// into the generator's log for its stream.

import (
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// configureNACK is webrtc.ConfigureNack (a NACK generator for what is
// received, a responder for what is sent, both negotiated as nack
// feedback) with the generator fed the RTX repairs through the returned
// nackFeed.
func configureNACK(m *webrtc.MediaEngine, reg *interceptor.Registry) (*nackFeed, error) {
	gen, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return nil, err
	}
	resp, err := nack.NewResponderInterceptor()
	if err != nil {
		return nil, err
	}
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack"}, webrtc.RTPCodecTypeVideo)
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack", Parameter: "pli"}, webrtc.RTPCodecTypeVideo)
	feed := &nackFeed{readers: make(map[uint32]interceptor.RTPReader)}
	reg.Add(resp) // in webrtc.ConfigureNack's order
	reg.Add(&nackFeedFactory{gen: gen, feed: feed})
	return feed, nil
}

// nackFeed reaches the NACK generator's reader of each received stream, by
// SSRC.
type nackFeed struct {
	mu      sync.Mutex
	readers map[uint32]interceptor.RTPReader
}

// repairedKey marks a read that reports a repaired packet instead of
// reading one; its value is the packet's sequence number.
type repairedKey struct{}

// repaired tells the generator that the stream ssrc received packet seq,
// repaired on its RTX stream. Call it from the stream's read loop.
func (f *nackFeed) repaired(ssrc uint32, seq uint16) {
	if f == nil {
		return
	}
	f.mu.Lock()
	r := f.readers[ssrc]
	f.mu.Unlock()
	if r == nil {
		return // not a stream the generator watches
	}
	var b [12]byte
	_, _, _ = r.Read(b[:], interceptor.Attributes{repairedKey{}: seq})
}

type nackFeedFactory struct {
	gen  interceptor.Factory
	feed *nackFeed
}

func (f *nackFeedFactory) NewInterceptor(id string) (interceptor.Interceptor, error) {
	i, err := f.gen.NewInterceptor(id)
	if err != nil {
		return nil, err
	}
	return &nackFeedInterceptor{Interceptor: i, feed: f.feed}, nil
}

// nackFeedInterceptor is the generator with its reader of each stream
// kept, reading through reportReader.
type nackFeedInterceptor struct {
	interceptor.Interceptor
	feed *nackFeed
}

func (i *nackFeedInterceptor) BindRemoteStream(info *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	gr := i.Interceptor.BindRemoteStream(info, reportReader{r})
	i.feed.mu.Lock()
	i.feed.readers[info.SSRC] = gr
	i.feed.mu.Unlock()
	return gr
}

func (i *nackFeedInterceptor) UnbindRemoteStream(info *interceptor.StreamInfo) {
	i.feed.mu.Lock()
	delete(i.feed.readers, info.SSRC)
	i.feed.mu.Unlock()
	i.Interceptor.UnbindRemoteStream(info)
}

// reportReader reads the stream, except for a read marked with
// repairedKey: that one returns at once a bare RTP header with the
// repaired sequence number, for the generator to log and nobody to see.
type reportReader struct{ r interceptor.RTPReader }

func (r reportReader) Read(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
	if seq, ok := a.Get(repairedKey{}).(uint16); ok {
		h := rtp.Header{Version: 2, SequenceNumber: seq}
		n, err := h.MarshalTo(b)
		return n, a, err
	}
	return r.r.Read(b, a)
}
