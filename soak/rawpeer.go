package soak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/node/signal"
)

// rawPeer is a participant built from a WebSocket and a pion
// PeerConnection, for what client.Client does not do: close its
// PeerConnection and keep its WebSocket open without a word.
type rawPeer struct {
	ws *websocket.Conn
	pc *webrtc.PeerConnection
	id string

	writeMu sync.Mutex
	gone    chan struct{} // closed when signaling ends
	mu      sync.Mutex
	closeBy string // the node's close text, when it closed signaling
	readErr error
}

// rawAPI builds a pion API that gathers on loopback only.
func rawAPI() (*webrtc.API, error) {
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("soak: codecs: %w", err)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)), nil
}

// dialRaw joins room on the node at url with a receive-only
// PeerConnection and waits until its media is connected.
func dialRaw(ctx context.Context, url, room, name, region string) (*rawPeer, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.DialContext(ctx, url, nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("soak: raw peer: dial %s: %w", url, err)
	}
	p := &rawPeer{ws: ws, gone: make(chan struct{})}
	fail := func(err error) (*rawPeer, error) {
		p.close()
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = ws.Close() })
	defer stop()
	if err := p.send(signal.Message{Type: signal.TypeJoin, Room: room, Name: name, Region: region}); err != nil {
		return fail(err)
	}
	joined, err := p.awaitJoined()
	if err != nil {
		return fail(err)
	}
	p.id = joined.ID
	api, err := rawAPI()
	if err != nil {
		return fail(err)
	}
	if p.pc, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		return fail(fmt.Errorf("soak: raw peer: %w", err))
	}
	if _, err := p.pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		return fail(fmt.Errorf("soak: raw peer: %w", err))
	}
	connected := make(chan struct{})
	var once sync.Once
	p.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	p.pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		buf := make([]byte, 1500)
		for {
			if _, _, err := tr.Read(buf); err != nil {
				return
			}
		}
	})
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		return fail(fmt.Errorf("soak: raw peer: offer: %w", err))
	}
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(offer); err != nil {
		return fail(fmt.Errorf("soak: raw peer: %w", err))
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return fail(fmt.Errorf("soak: raw peer: gathering: %w", ctx.Err()))
	}
	if err := p.send(signal.Message{Type: signal.TypeOffer, SDP: p.pc.LocalDescription().SDP}); err != nil {
		return fail(err)
	}
	go p.readLoop()
	select {
	case <-connected:
		return p, nil
	case <-p.gone:
		return fail(fmt.Errorf("soak: raw peer: signaling ended before media connected: %v", p.err()))
	case <-ctx.Done():
		return fail(fmt.Errorf("soak: raw peer: media not connected (%s): %w", p.pc.ConnectionState(), ctx.Err()))
	}
}

func (p *rawPeer) send(m signal.Message) error {
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("soak: encode %s: %w", m.Type, err)
	}
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	_ = p.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := p.ws.WriteMessage(websocket.TextMessage, data); err != nil {
		return fmt.Errorf("soak: send %s: %w", m.Type, err)
	}
	return nil
}

func (p *rawPeer) read() (signal.Message, error) {
	var m signal.Message
	_, data, err := p.ws.ReadMessage()
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("soak: node sent invalid JSON: %w", err)
	}
	return m, nil
}

func (p *rawPeer) awaitJoined() (signal.Message, error) {
	_ = p.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer p.ws.SetReadDeadline(time.Time{})
	for {
		m, err := p.read()
		if err != nil {
			return m, fmt.Errorf("soak: raw peer: waiting for joined: %w", err)
		}
		switch m.Type {
		case signal.TypeJoined:
			return m, nil
		case signal.TypeRedirect:
			return m, fmt.Errorf("soak: raw peer: redirected to %s (%s)", m.URL, m.Reason)
		case signal.TypeError:
			return m, fmt.Errorf("soak: raw peer: join refused: %s: %s", m.Code, m.Reason)
		}
	}
}

// readLoop applies the node's answer, offers and candidates until
// signaling ends, and keeps the close text the node sent.
func (p *rawPeer) readLoop() {
	defer close(p.gone)
	var early []webrtc.ICECandidateInit
	haveRemote := false
	for {
		m, err := p.read()
		if err != nil {
			p.mu.Lock()
			p.readErr = err
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				p.closeBy = ce.Text
			}
			p.mu.Unlock()
			return
		}
		switch m.Type {
		case signal.TypeAnswer:
			if p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}) == nil {
				haveRemote = true
				for _, c := range early {
					_ = p.pc.AddICECandidate(c)
				}
				early = nil
			}
		case signal.TypeOffer:
			if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
				continue
			}
			haveRemote = true
			ans, err := p.pc.CreateAnswer(nil)
			if err != nil || p.pc.SetLocalDescription(ans) != nil {
				continue
			}
			_ = p.send(signal.Message{Type: signal.TypeAnswer, SDP: ans.SDP})
		case signal.TypeCandidate:
			if m.Candidate == nil || m.Candidate.Candidate == "" {
				continue
			}
			c := webrtc.ICECandidateInit{Candidate: m.Candidate.Candidate, SDPMid: m.Candidate.SDPMid,
				SDPMLineIndex: m.Candidate.SDPMLineIndex}
			if haveRemote {
				_ = p.pc.AddICECandidate(c)
			} else {
				early = append(early, c)
			}
		}
	}
}

// closedBy is the node's close text once signaling ended ("" if the
// connection dropped without one).
func (p *rawPeer) closedBy() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closeBy
}

func (p *rawPeer) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.readErr
}

// close releases everything; the read loop ends with the socket.
func (p *rawPeer) close() {
	if p.pc != nil {
		_ = p.pc.Close()
	}
	_ = p.ws.Close()
}
