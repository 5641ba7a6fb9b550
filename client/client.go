// Package client is a synthetic conference participant: a real WebRTC peer on
// pion that speaks the node's signaling, publishes looped VP8 simulcast and
// Opus clips, subscribes like a browser and counts what it receives.
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/sdp/v3"
	"github.com/pion/transport/v4"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/media/freeze"
	"github.com/switchyard/switchyard/node/signal"
)

// Hidden as a MaxHeight asks the node to send no video at all.
const Hidden = -1

// Options describe one participant.
type Options struct {
	URL    string // signaling WebSocket, e.g. ws://127.0.0.1:8080/ws
	Room   string
	Name   string
	Region string // optional

	PublishAudio bool
	PublishVideo bool // VP8 in three simulcast layers, rids q, h, f
	// PublishScreen adds a screen m-line to the first offer; Share starts
	// and stops sending on it (the f clip, one layer).
	PublishScreen bool
	// RED offers audio redundancy (RFC 2198, red/48000/2 after Opus, as
	// Chromium does): received audio may then come as RED, and published
	// audio is sent as RED, each packet repeating the previous two Opus
	// frames, if the node's answer lists it first.
	RED bool
	// Talk drives the audio level and voice activity; nil means Always().
	Talk TalkPattern
	// PingEvery, when set, pings every other participant through the node
	// at that interval, as the web client does, so that the node can show
	// measured end-to-end round trips next to computed ones.
	PingEvery time.Duration

	// MaxHeight is the constraint sent for every publisher's tile: 0 sends
	// none, Hidden hides every tile, a positive height caps the layer.
	MaxHeight int

	// Net, when set, carries all media (e.g. a linkemu.Net for a bad network).
	Net transport.Net
	// Token is the join token, for a node that requires one.
	Token string
	// E2EE declares at join that the participant's media is encrypted end
	// to end, as the web client does with its encryption switch. This
	// client does not encrypt anything itself: the flag is for tests of
	// what the node shows and refuses for encrypted participants.
	E2EE bool
	// Transport is how media may reach the node: "" over UDP (host
	// candidates), "tcp" over ICE-TCP only, "relay" only through the TURN
	// servers the node hands out in joined (TURNFilter keeps some of their
	// URLs, e.g. only turns:).
	Transport  string
	TURNFilter func(url string) bool
	// TLS configures wss:// signaling and turns: (e.g. a test CA).
	TLS *tls.Config
	// Logger receives the participant's log lines; nil discards them.
	Logger *slog.Logger
}

// Client is one joined participant. Its methods are safe for concurrent use.
type Client struct {
	opts Options
	log  *slog.Logger
	ws   *websocket.Conn
	pc   *webrtc.PeerConnection
	pub  *publisher
	nack *nackFeed // RTX repairs for pc's NACK generator (nack.go)

	writeMu sync.Mutex // serialises WebSocket writes

	mu       sync.Mutex // guards the fields below
	id       string
	nodeID   string
	fallback []string // other nodes to rejoin through, from joined
	grants   signal.Grants
	stopping string // the reason of the node's node-stopping message
	// recorded: the node said it records the conference (server-recording).
	recorded     bool
	redirects    int    // redirects followed while joining
	movedTo      string // a redirect received after joining (node draining)
	participants map[string]signal.Participant
	dominant     string
	dominantLog  []string     // every dominant speaker announced, in order
	stage        freeze.Stage // how continuously the dominant speaker's video comes
	publishers   map[string]*publisherState
	constraints  map[string]int // per publisher overrides of MaxHeight
	pending      []webrtc.ICECandidateInit
	haveRemote   bool
	pings        map[uint64]chan struct{}
	lastRTT      map[string]float64 // by peer id, ms; guarded by mu
	pingSeq      uint64
	offers       int // renegotiations the node started
	remoteSDP    string
	lastErr      *signal.Message
	started      bool // media loops running
	closed       bool // no new goroutines
	offerSent    bool // local candidates wait for the offer
	localCands   []signal.Message

	messages chan signal.Message
	answered chan struct{} // closed at the first answer
	done     chan struct{} // closed when the participant ends
	stop     context.CancelFunc
	runCtx   context.Context
	closeErr error
	once     sync.Once
	wg       sync.WaitGroup
}

// Join connects to the node, joins the room, sends the first offer and
// returns once the node has answered it. Media flows once ICE connects.
func Join(ctx context.Context, o Options) (*Client, error) {
	if o.URL == "" || o.Room == "" || o.Name == "" {
		return nil, errors.New("client: URL, Room and Name are required")
	}
	if o.Talk == nil {
		o.Talk = Always()
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	clips, err := loadClips()
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(context.Background())
	c := &Client{
		opts:         o,
		log:          logger.With("participant", o.Name),
		participants: map[string]signal.Participant{},
		publishers:   map[string]*publisherState{},
		constraints:  map[string]int{},
		pings:        map[uint64]chan struct{}{},
		lastRTT:      map[string]float64{},
		messages:     make(chan signal.Message, 256),
		answered:     make(chan struct{}),
		done:         make(chan struct{}),
		stop:         stop,
		runCtx:       runCtx,
	}
	c.pub = &publisher{c: c, clips: clips, talk: o.Talk}
	if err := c.join(ctx); err != nil {
		c.shutdown(false, err)
		return nil, err
	}
	if o.PingEvery > 0 {
		go c.pingLoop(o.PingEvery)
	}
	return c, nil
}

func (c *Client) join(ctx context.Context) error {
	var joined signal.Message
	// A node may send the participant to another (bridge selection); follow
	// a few redirects, as the web client does.
	for hops := 0; ; hops++ {
		m, err := c.dialAndJoin(ctx)
		var rd *redirectError
		if errors.As(err, &rd) && hops < maxRedirects {
			c.log.Info("redirected", "from", c.opts.URL, "to", rd.url, "why", rd.reason)
			c.mu.Lock()
			c.opts.URL = rd.url
			c.redirects++
			c.mu.Unlock()
			continue
		}
		if err != nil {
			return err
		}
		joined = m
		break
	}
	// A cancelled ctx unblocks the reads below by closing the socket.
	stopWatch := context.AfterFunc(ctx, func() { _ = c.ws.Close() })
	defer stopWatch()
	c.mu.Lock()
	c.id, c.nodeID = joined.ID, joined.Node
	c.fallback = joined.Fallback
	if joined.Grants != nil {
		c.grants = *joined.Grants
	}
	for _, p := range joined.Participants {
		c.participants[p.ID] = p
	}
	c.mu.Unlock()
	c.log = c.log.With("id", joined.ID)

	api, nack, err := newAPI(&c.opts)
	if err != nil {
		return err
	}
	c.nack = nack
	pc, err := api.NewPeerConnection(c.rtcConfig(joined))
	if err != nil {
		return fmt.Errorf("client: new peer connection: %w", err)
	}
	c.pc = pc
	pc.OnICECandidate(c.onLocalCandidate)
	pc.OnTrack(c.onTrack)
	pc.OnConnectionStateChange(c.onConnectionState)
	if err := c.pub.addTransceivers(pc, &c.opts, joined.ID); err != nil {
		return err
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("client: create offer: %w", err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("client: set local offer: %w", err)
	}
	// Mids are fixed by now, before any goroutine sends media.
	c.pub.noteMids(pc)
	if err := c.send(signal.Message{Type: signal.TypeOffer, SDP: offer.SDP, Sources: c.pub.sources()}); err != nil {
		return err
	}
	c.mu.Lock()
	c.offerSent = true
	early := c.localCands
	c.localCands = nil
	c.mu.Unlock()
	for _, m := range early {
		if err := c.send(m); err != nil {
			return err
		}
	}
	c.goRun(c.readLoop)
	select {
	case <-c.answered:
	case <-c.done:
		return fmt.Errorf("client: joining %s: %w", c.opts.Room, c.Err())
	case <-ctx.Done():
		return fmt.Errorf("client: waiting for the node's answer: %w", ctx.Err())
	}
	c.sendConstraints()
	return nil
}

// goRun runs f on a goroutine that Close waits for; after shutdown it does
// nothing, so no goroutine starts while Close waits.
func (c *Client) goRun(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
}

// ID is the participant id the node assigned.
func (c *Client) ID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id
}

// Node is the id of the node the participant joined.
func (c *Client) Node() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodeID
}

// Participants are the other members of the room, by id.
func (c *Client) Participants() []signal.Participant {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]signal.Participant, 0, len(c.participants))
	for _, p := range c.participants {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b signal.Participant) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// DominantSpeaker is the latest dominant speaker the node announced, "" before any.
func (c *Client) DominantSpeaker() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dominant
}

// DominantSpeakers lists every announcement so far, in order.
func (c *Client) DominantSpeakers() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.dominantLog)
}

// SpeakerView says how continuously the dominant speaker's camera video
// arrived while they were dominant (the receiver's own turns left out).
func (c *Client) SpeakerView() freeze.StageStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stage.Stats(time.Now().UnixNano())
}

// LastError is the latest error message from the node, if any.
func (c *Client) LastError() (signal.Message, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lastErr == nil {
		return signal.Message{}, false
	}
	return *c.lastErr, true
}

// Sent counts what the participant published and the feedback it got.
func (c *Client) Sent() Sent { return c.pub.sent() }

// ConnectionState is the peer connection's state.
func (c *Client) ConnectionState() webrtc.PeerConnectionState {
	if c.pc == nil {
		return webrtc.PeerConnectionStateNew
	}
	return c.pc.ConnectionState()
}

// Stats is pion's getStats report (RTT, jitter and loss per stream).
func (c *Client) Stats() webrtc.StatsReport { return c.pc.GetStats() }

// Negotiation describes the m-lines of the current session.
type Negotiation struct {
	Offers int // renegotiations the node started
	MLines int
	// Inactive counts m-lines the node does not send on (inactive, or
	// recvonly without a track), leaving out those this participant
	// publishes on: the tracks that went.
	Inactive int
	// Receiving lists the publisher ids of the m-lines the node sends on.
	Receiving []string
}

// Negotiation reads the current remote description.
func (c *Client) Negotiation() (Negotiation, error) {
	c.mu.Lock()
	n := Negotiation{Offers: c.offers}
	remote := c.remoteSDP
	c.mu.Unlock()
	if remote == "" {
		return n, errors.New("client: no remote description yet")
	}
	var parsed sdp.SessionDescription
	if err := parsed.UnmarshalString(remote); err != nil {
		return n, fmt.Errorf("client: parse remote description: %w", err)
	}
	for _, md := range parsed.MediaDescriptions {
		n.MLines++
		mid, _ := md.Attribute(sdp.AttrKeyMID)
		if mid != "" && (mid == c.pub.audioMid || mid == c.pub.videoMid) {
			continue
		}
		_, sendonly := md.Attribute(sdp.AttrKeySendOnly)
		_, sendrecv := md.Attribute(sdp.AttrKeySendRecv)
		msid, hasMsid := md.Attribute("msid")
		if (sendonly || sendrecv) && hasMsid {
			stream, _, _ := strings.Cut(msid, " ")
			n.Receiving = append(n.Receiving, stream)
			continue
		}
		n.Inactive++
	}
	return n, nil
}

// SetConstraint overrides MaxHeight for one publisher's tile, with the
// protocol's meaning: 0 hides it, a positive height caps the layer.
func (c *Client) SetConstraint(publisherID string, height int) error {
	if height < 0 {
		return fmt.Errorf("client: constraint height %d is negative", height)
	}
	c.mu.Lock()
	c.constraints[publisherID] = height
	c.mu.Unlock()
	return c.sendConstraints()
}

// ClearConstraint returns a publisher's tile to MaxHeight.
func (c *Client) ClearConstraint(publisherID string) error {
	c.mu.Lock()
	delete(c.constraints, publisherID)
	c.mu.Unlock()
	return c.sendConstraints()
}

// sendConstraints tells the node the height of every tile, as the web
// client does after each layout change.
func (c *Client) sendConstraints() error {
	c.mu.Lock()
	tiles := map[string]int{}
	if c.opts.MaxHeight != 0 {
		h := max(c.opts.MaxHeight, 0)
		for id := range c.participants {
			tiles[id] = h
		}
	}
	for id, h := range c.constraints {
		tiles[id] = h
	}
	c.mu.Unlock()
	if len(tiles) == 0 {
		return nil
	}
	return c.send(signal.Message{Type: signal.TypeConstraints, Tiles: tiles})
}

// Done is closed when the participant has ended, by Close or by the node.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err says why the participant ended; nil while it runs and after Close.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.closeErr
	default:
		return nil
	}
}

// Close leaves the room, releases everything and waits (up to 5 s) for the
// participant's goroutines to return.
func (c *Client) Close() error {
	c.shutdown(true, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Wait(ctx)
}

// Vanish drops the participant without a leave, as a crashed browser or a
// closed laptop lid would: the node must notice on its own.
func (c *Client) Vanish() {
	c.shutdown(false, nil)
}

// shutdown ends the participant once; leave says whether to say goodbye.
func (c *Client) shutdown(leave bool, cause error) {
	c.once.Do(func() {
		c.closeErr = cause
		c.mu.Lock()
		c.closed = true
		c.stage.Change("", time.Now().UnixNano()) // the view ends with the participant
		c.mu.Unlock()
		if cause != nil {
			c.log.Debug("participant ends", "cause", cause)
		}
		if leave && c.ws != nil {
			_ = c.send(signal.Message{Type: signal.TypeLeave})
			c.writeMu.Lock()
			_ = c.ws.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, "leave"), time.Now().Add(time.Second))
			c.writeMu.Unlock()
		}
		c.stop()
		if c.pc != nil {
			if err := c.pc.Close(); err != nil {
				c.log.Debug("close peer connection", "err", err)
			}
		}
		if c.ws != nil {
			_ = c.ws.Close()
		}
		close(c.done)
	})
}

// Wait blocks until every goroutine of the participant has returned.
func (c *Client) Wait(ctx context.Context) error {
	ch := make(chan struct{})
	go func() { c.wg.Wait(); close(ch) }()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("client: goroutines still running: %w", ctx.Err())
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// maxRedirects bounds the redirects followed while joining.
const maxRedirects = 3

type redirectError struct{ url, reason string }

func (e *redirectError) Error() string { return "client: node redirects to " + e.url }

// dialAndJoin opens the signaling socket at the current URL and joins.
func (c *Client) dialAndJoin(ctx context.Context) (signal.Message, error) {
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	dialer.TLSClientConfig = c.opts.TLS
	ws, resp, err := dialer.DialContext(ctx, c.opts.URL, nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return signal.Message{}, fmt.Errorf("client: dial %s: %w", c.opts.URL, err)
	}
	ws.SetReadLimit(signal.MaxMessageSize)
	c.ws = ws
	stopWatch := context.AfterFunc(ctx, func() { _ = ws.Close() })
	defer stopWatch()
	if err := c.send(signal.Message{Type: signal.TypeJoin, Room: c.opts.Room, Name: c.opts.Name,
		Region: c.opts.Region, Token: c.opts.Token, E2EE: c.opts.E2EE}); err != nil {
		_ = ws.Close()
		return signal.Message{}, err
	}
	m, err := c.awaitJoined(ctx)
	if err != nil {
		_ = ws.Close()
	}
	return m, err
}

// Share starts (or stops) sending on the screen m-line, telling the node
// first as a browser does.
func (c *Client) Share(on bool) error {
	if c.pub.screen == nil {
		return errors.New("client: no screen m-line (Options.PublishScreen)")
	}
	if !on {
		c.pub.sharing.Store(false)
	}
	if err := c.send(signal.Message{Type: signal.TypeShare, On: on}); err != nil {
		return err
	}
	if on {
		c.pub.sharing.Store(true)
	}
	return nil
}

// SetPublishState turns the microphone and camera off or on: nothing more
// is sent on them, and the node is told.
func (c *Client) SetPublishState(micOff, cameraOff bool) error {
	c.pub.micOff.Store(micOff)
	c.pub.cameraOff.Store(cameraOff)
	return c.send(signal.Message{Type: signal.TypePublishState, MicOff: micOff, CameraOff: cameraOff})
}

// Stopping is the reason the node gave when it said it is stopping, "" if it
// did not.
func (c *Client) Stopping() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopping
}

// Recorded reports whether the node last said that it records the
// conference (server-recording messages).
func (c *Client) Recorded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.recorded
}

// SendRaw sends any signaling message, for tests of the node's refusals.
func (c *Client) SendRaw(m signal.Message) error { return c.send(m) }

// rtcConfig is the PeerConnection's configuration: the node's TURN servers,
// and with Transport "relay" nothing but them.
func (c *Client) rtcConfig(joined signal.Message) webrtc.Configuration {
	var cfg webrtc.Configuration
	if c.opts.Transport != "relay" {
		return cfg
	}
	for _, s := range joined.IceServers {
		var urls []string
		for _, u := range s.URLs {
			if c.opts.TURNFilter == nil || c.opts.TURNFilter(u) {
				urls = append(urls, u)
			}
		}
		if len(urls) > 0 {
			cfg.ICEServers = append(cfg.ICEServers, webrtc.ICEServer{URLs: urls, Username: s.Username, Credential: s.Credential})
		}
	}
	cfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	return cfg
}

// Grants are what the node lets this participant do, from joined.
func (c *Client) Grants() signal.Grants {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.grants
}

// URL is the signaling URL the client ended up joining through.
func (c *Client) URL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opts.URL
}

// Redirects is how many redirects the join followed.
func (c *Client) Redirects() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.redirects
}

// Fallback lists the other nodes the joined node offered for rejoining.
func (c *Client) Fallback() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.fallback)
}

// MovedTo is the URL a node told the client to move to after it joined
// (the node is draining), "" if none.
func (c *Client) MovedTo() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.movedTo
}
