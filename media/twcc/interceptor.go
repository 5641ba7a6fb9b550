package twcc

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/switchyard/switchyard/media/bwe"
)

// URI is the header extension's.
const URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

// Handler takes feedback results; the bandwidth estimator behind it.
type Handler interface {
	OnFeedback(now int64, pkts []bwe.Packet)
}

// epoch anchors Now: a monotonic clock in ns.
var epoch = time.Now()

// Now is the clock Stamp and the handler share, ns.
func Now() int64 { return int64(time.Since(epoch)) }

// Factory makes the Interceptor of one PeerConnection. It is made per
// PeerConnection too, so that it carries that connection's sender and
// handler.
type Factory struct {
	Sender  *Sender
	Handler Handler
	Log     *slog.Logger
}

// NewInterceptor implements interceptor.Factory.
func (f *Factory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &Interceptor{s: f.Sender, h: f.Handler, log: f.Log}, nil
}

// Interceptor numbers outgoing packets and hands feedback to the handler.
type Interceptor struct {
	interceptor.NoOp
	s   *Sender
	h   Handler
	log *slog.Logger

	mu     sync.Mutex // Feedback's buffer; RTCP arrives on several goroutines
	bad    atomic.Uint64
	logged atomic.Bool
}

// BadFeedback counts feedback packets that could not be used.
func (i *Interceptor) BadFeedback() uint64 { return i.bad.Load() }

// BindLocalStream numbers the stream's packets, when it negotiated the
// extension.
func (i *Interceptor) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	var id uint8
	for _, e := range info.RTPHeaderExtensions {
		if e.URI == URI && e.ID > 0 && e.ID < 15 {
			id = uint8(e.ID)
		}
	}
	if id == 0 {
		return w
	}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		size := h.MarshalSize() + 4 + len(payload) // with the extension, roughly
		if err := h.SetExtension(id, i.s.Stamp(size, Now())); err != nil {
			return 0, err
		}
		return w.Write(h, payload, a)
	})
}

// BindRTCPReader passes transport-wide feedback to the handler.
func (i *Interceptor) BindRTCPReader(r interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := r.Read(b, a)
		if err != nil {
			return n, a, err
		}
		if a == nil {
			a = make(interceptor.Attributes)
		}
		pkts, perr := a.GetRTCPPackets(b[:n])
		if perr != nil {
			return n, a, nil // others in the chain say what is wrong with it
		}
		for _, p := range pkts {
			if fb, ok := p.(*rtcp.TransportLayerCC); ok {
				i.feedback(fb)
			}
		}
		return n, a, nil
	})
}

func (i *Interceptor) feedback(fb *rtcp.TransportLayerCC) {
	i.mu.Lock()
	defer i.mu.Unlock()
	res, err := i.s.Feedback(fb)
	if err != nil {
		i.bad.Add(1)
		if i.log != nil && !i.logged.Swap(true) {
			i.log.Warn("unusable congestion control feedback (logged once per connection)", "err", err)
		}
		return
	}
	if i.h != nil {
		i.h.OnFeedback(Now(), res)
	}
}
