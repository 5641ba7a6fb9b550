package quality

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/client"
	"github.com/switchyard/switchyard/linkemu"
	"github.com/switchyard/switchyard/node"
	"github.com/switchyard/switchyard/node/snapshot"
)

// room is the conference every case runs in, on its own node.
const room = "quality"

// joinTimeout bounds one client's join.
const joinTimeout = 15 * time.Second

// run is one case under way: its node, the two clients and the link.
type run struct {
	c       Case
	opts    Options
	node    *node.Node
	link    *linkemu.Net
	pub     *client.Client
	recv    *client.Client
	heights map[string]int // the publisher's layer heights, as the node measured them

	prevFrames uint64
}

// runCase starts a node, the publisher and the receiver behind its link,
// reads them every opts.Every for opts.Duration and summarizes.
func runCase(ctx context.Context, opts Options, c Case, logger *slog.Logger) (Result, error) {
	res := Result{Case: c.Name, Link: c.describe(), Started: time.Now(), Up: c.Up, Down: c.Down,
		LiftAtSec: c.LiftAt.Seconds(), EverySec: opts.Every.Seconds()}
	if c.LiftAt > 0 {
		lifted := c.Lifted
		res.Lifted = &lifted
	}
	r := &run{c: c, opts: opts, heights: map[string]int{}}
	defer r.close()
	if err := r.start(ctx, logger); err != nil {
		return res, err
	}
	samples, err := r.sample(ctx)
	res.Samples = samples
	res.Summary = Summarize(samples, int(opts.Duration/time.Second), c.LiftAt.Seconds())
	return res, err
}

func (r *run) start(ctx context.Context, logger *slog.Logger) error {
	cfg := node.DefaultConfig()
	cfg.ID = "quality"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.MediaIP = "127.0.0.1"
	cfg.MediaPort = 0
	n, err := node.New(cfg, logger.With("node", cfg.ID))
	if err != nil {
		return fmt.Errorf("quality: new node: %w", err)
	}
	if err := n.Start(ctx); err != nil {
		_ = n.Close()
		return fmt.Errorf("quality: start node: %w", err)
	}
	r.node = n
	url := "ws" + strings.TrimPrefix(n.URL(), "http") + "/ws"

	if r.link, err = linkemu.NewNet(linkemu.NetConfig{Up: r.c.Up, Down: r.c.Down, Seed: r.opts.Seed}); err != nil {
		return fmt.Errorf("quality: receiver link: %w", err)
	}
	jctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	// The publisher talks all the time, so that it is the dominant speaker,
	// and sends every layer over a perfect link.
	if r.pub, err = client.Join(jctx, client.Options{URL: url, Room: room, Name: "publisher",
		PublishAudio: true, PublishVideo: true, Talk: client.Always(),
		Logger: logger.With("participant", "publisher")}); err != nil {
		return fmt.Errorf("quality: publisher join: %w", err)
	}
	// The receiver only watches, without a constraint: the top layer fits
	// its tile, so only bandwidth may hold it back.
	if r.recv, err = client.Join(jctx, client.Options{URL: url, Room: room, Name: "receiver",
		Talk: client.Silent(), Net: r.link,
		Logger: logger.With("participant", "receiver")}); err != nil {
		return fmt.Errorf("quality: receiver join: %w", err)
	}
	return nil
}

func (r *run) close() {
	for _, c := range []*client.Client{r.recv, r.pub} {
		if c != nil {
			_ = c.Close()
		}
	}
	if r.node != nil {
		_ = r.node.Close()
	}
}

// sample reads everything every Every until Duration has passed since the
// receiver joined, lifting the cap on time.
func (r *run) sample(ctx context.Context) ([]Sample, error) {
	t0 := time.Now()
	tick := time.NewTicker(r.opts.Every)
	defer tick.Stop()
	lifted := false
	samples := make([]Sample, 0, int(r.opts.Duration/r.opts.Every)+1)
	for {
		select {
		case <-ctx.Done():
			return samples, ctx.Err()
		case <-r.recv.Done():
			return samples, fmt.Errorf("quality: the receiver left: %v", r.recv.Err())
		case <-r.pub.Done():
			return samples, fmt.Errorf("quality: the publisher left: %v", r.pub.Err())
		case <-tick.C:
		}
		el := time.Since(t0)
		if r.c.LiftAt > 0 && !lifted && el >= r.c.LiftAt {
			if err := r.link.SetDown(r.c.Lifted); err != nil {
				return samples, fmt.Errorf("quality: lift the cap: %w", err)
			}
			lifted = true
		}
		samples = append(samples, r.read(el))
		if el >= r.opts.Duration {
			return samples, nil
		}
	}
}

// read takes one Sample el after the receiver joined.
func (r *run) read(el time.Duration) Sample {
	s := Sample{T: round(el.Seconds(), 3)}
	snap := r.node.Snapshot()
	pubID, recvID := r.pub.ID(), r.recv.ID()
	if conf, ok := snap.Find(room); ok {
		s.Dominant = conf.DominantSpeaker == pubID
		if p, ok := conf.Find(pubID); ok {
			for _, l := range p.Layers {
				if l.Height > 0 {
					r.heights[l.RID] = l.Height
				}
			}
		}
		if p, ok := conf.Find(recvID); ok {
			s.EstimateBps, s.BitrateDown = p.EstimateBps, p.BitrateDown
			s.LossDownPct, s.RTTMs = round(p.LossDownPct, 2), round(p.RTTMs, 1)
			if sub, ok := cameraOf(p, pubID); ok {
				s.Forwarded, s.Target, s.Reason = sub.Forwarded, sub.Target, sub.Reason
				s.FPS, s.NodeFreezes, s.NodeFreezeMs = round(sub.FPS, 1), sub.Freezes, sub.FreezeMs
			}
		}
	}
	if st, ok := r.recv.Received()[pubID]; ok {
		s.Height, s.Frames, s.Freezes = st.Height, st.Frames, st.Freezes
		s.FreezeMs = float64(st.FreezeTime.Microseconds()) / 1000
		s.VideoPkts, s.VideoLost, s.VideoBytes, s.AudioBytes = st.VideoPackets, st.VideoLost, st.VideoBytes, st.AudioBytes
	}
	if s.Frames > r.prevFrames {
		s.Layer = layerOfHeight(s.Height, r.heights)
	}
	r.prevFrames = s.Frames
	for _, st := range r.recv.Stats() {
		if ts, ok := st.(webrtc.TransportStats); ok {
			s.WireBytes += ts.BytesReceived
		}
	}
	_, down := r.link.Params()
	s.CapBps = down.RateBitsPerSec
	ls := r.link.Stats().Down
	s.LinkSent, s.LinkDropped = ls.Sent, ls.Lost+ls.Overflow
	return s
}

// cameraOf finds p's subscription to the publisher's camera.
func cameraOf(p *snapshot.Participant, publisher string) (snapshot.Subscription, bool) {
	for _, sub := range p.Subs {
		if sub.Publisher == publisher && sub.Kind == "video" && sub.Source != "screen" {
			return sub, true
		}
	}
	return snapshot.Subscription{}, false
}
