package loadgen

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/switchyard/switchyard/client"
)

// Report is what one run measured; it marshals to the JSON that
// `switchyard load --json` writes and the benchmark reads.
type Report struct {
	Config       ReportConfig `json:"config"`
	Started      time.Time    `json:"started"`
	JoinPhaseSec float64      `json:"join_phase_sec"` // first join started to last join returned
	WindowSec    float64      `json:"window_sec"`     // the hold, over which traffic is counted

	Participants int      `json:"participants"` // attempted
	Joined       int      `json:"joined"`
	JoinFailures int      `json:"join_failures"`
	JoinErrors   []string `json:"join_errors,omitempty"` // the first few
	// JoinMs is the Join call: WebSocket, join, offer and answer.
	JoinMs Summary `json:"join_ms"`
	// FirstFrameMs runs from starting Join to the first keyframe received
	// (the first decodable frame), or the first audio packet for receivers
	// of audio only. FirstFrameOf says whose: "subscribers", or
	// "publishers" in rooms without subscribers (each room's first excluded).
	FirstFrameMs Summary `json:"first_frame_ms"`
	FirstFrameOf string  `json:"first_frame_of"`
	NoMedia      int     `json:"no_media"` // measured participants that got nothing by the end

	// Received is everything all participants received during the window;
	// Subscribers is the subscribers' share.
	Received       Traffic `json:"received"`
	Subscribers    Traffic `json:"subscribers"`
	SubscriberKbps Summary `json:"subscriber_kbps"` // per subscriber, RTP payload
	// Layers counts video subscriptions (receiver, publisher) by the rid
	// forwarded at the end of the window; "none" is a publisher whose video
	// did not arrive during it, "no-keyframe" one whose video arrived but
	// never a keyframe.
	Layers map[string]int `json:"layers"`

	RTTMs        Summary  `json:"rtt_ms"` // participant to participant through the node
	PingFailures int      `json:"ping_failures"`
	Ended        []string `json:"ended,omitempty"` // participants the node dropped during the run

	// Nodes counts joined participants by the node they ended up on (after
	// redirects); Redirected those that were sent on by the node they dialled.
	Nodes      map[string]int `json:"nodes"`
	Redirected int            `json:"redirected,omitempty"`
	// When participants were on more than one node (a cascade), RTTByNodes
	// splits RTTMs by the two participants' nodes (A == B: both on one
	// node) and RTTSameNodeMs pools the pairs on one node, the baseline
	// against which a relay hop's delay shows.
	RTTByNodes    []PairRTT `json:"rtt_by_nodes,omitempty"`
	RTTSameNodeMs *Summary  `json:"rtt_same_node_ms,omitempty"`
}

// PairRTT is the end-to-end round trip between participants on nodes A and B.
type PairRTT struct {
	A   string  `json:"a"`
	B   string  `json:"b"`
	RTT Summary `json:"rtt_ms"`
}

// ReportConfig echoes the run's parameters.
type ReportConfig struct {
	URL                  string   `json:"url"`
	Rooms                int      `json:"rooms"`
	Publishers           int      `json:"publishers_per_room"`
	Subscribers          int      `json:"subscribers_per_room"`
	PublishAudio         bool     `json:"publish_audio"`
	PublishVideo         bool     `json:"publish_video"`
	AudioOnlySubscribers bool     `json:"audio_only_subscribers"`
	MaxHeight            int      `json:"max_height"`
	Regions              []string `json:"regions,omitempty"`
	DurationSec          float64  `json:"duration_sec"`
	JoinRate             float64  `json:"join_rate"`
}

func reportConfig(c Config) ReportConfig {
	return ReportConfig{
		URL: c.URL, Rooms: c.Rooms, Publishers: c.Publishers, Subscribers: c.Subscribers,
		PublishAudio: c.PublishAudio, PublishVideo: c.PublishVideo,
		AudioOnlySubscribers: c.AudioOnlySubscribers, MaxHeight: c.MaxHeight, Regions: c.Regions,
		DurationSec: c.Duration.Seconds(), JoinRate: c.JoinRate,
	}
}

// Summary describes a sample: count, median, 95th percentile, mean, max.
type Summary struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	Mean float64 `json:"mean"`
	Max  float64 `json:"max"`
}

// summarize uses nearest-rank percentiles, which never invent a value that
// was not measured.
func summarize(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{}
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	var sum float64
	for _, x := range s {
		sum += x
	}
	return Summary{
		N: len(s), P50: round(rank(0.50), 3), P95: round(rank(0.95), 3),
		Mean: round(sum/float64(len(s)), 3), Max: round(s[len(s)-1], 3),
	}
}

// Traffic counts RTP packets and payload bytes received, unique ones only.
type Traffic struct {
	VideoPackets  uint64  `json:"video_packets"`
	VideoBytes    uint64  `json:"video_bytes"`
	VideoLost     uint64  `json:"video_lost"`
	AudioPackets  uint64  `json:"audio_packets"`
	AudioBytes    uint64  `json:"audio_bytes"`
	AudioLost     uint64  `json:"audio_lost"`
	Mbps          float64 `json:"mbps"` // payload bits per second
	PacketsPerSec float64 `json:"packets_per_sec"`
	LossPct       float64 `json:"loss_pct"` // lost over expected, audio and video
}

func (t *Traffic) add(s client.Stream) {
	t.VideoPackets += s.VideoPackets
	t.VideoBytes += s.VideoBytes
	t.VideoLost += s.VideoLost
	t.AudioPackets += s.AudioPackets
	t.AudioBytes += s.AudioBytes
	t.AudioLost += s.AudioLost
}

func (t *Traffic) finish(sec float64) {
	pkts := t.VideoPackets + t.AudioPackets
	if sec > 0 {
		t.Mbps = round(float64(t.VideoBytes+t.AudioBytes)*8/sec/1e6, 3)
		t.PacketsPerSec = round(float64(pkts)/sec, 1)
	}
	if lost := t.VideoLost + t.AudioLost; lost > 0 {
		t.LossPct = round(100*float64(lost)/float64(pkts+lost), 4)
	}
}

// delta is what arrived from one publisher between two readings.
func delta(a, b client.Stream) client.Stream {
	sub := func(x, y uint64) uint64 {
		if y < x {
			return 0 // a track that ended and came back restarts its counts
		}
		return y - x
	}
	return client.Stream{
		VideoPackets: sub(a.VideoPackets, b.VideoPackets), VideoBytes: sub(a.VideoBytes, b.VideoBytes),
		VideoLost:    sub(a.VideoLost, b.VideoLost),
		AudioPackets: sub(a.AudioPackets, b.AudioPackets), AudioBytes: sub(a.AudioBytes, b.AudioBytes),
		AudioLost: sub(a.AudioLost, b.AudioLost),
		Height:    b.Height,
	}
}

const maxJoinErrors = 5

func (rep *Report) fillJoins(r *run) {
	var joins, firsts []float64
	rep.FirstFrameOf = "subscribers"
	if r.cfg.Subscribers == 0 {
		rep.FirstFrameOf = "publishers"
	}
	for _, p := range r.all() {
		if p.c == nil {
			if p.err != nil {
				rep.JoinFailures++
				if len(rep.JoinErrors) < maxJoinErrors {
					rep.JoinErrors = append(rep.JoinErrors, fmt.Sprintf("%s: %v", p.name, p.err))
				}
			}
			continue
		}
		rep.Joined++
		joins = append(joins, ms(p.joinDur.Seconds()))
		if !p.measured {
			continue
		}
		if p.gotMedia {
			firsts = append(firsts, ms(p.firstMedia.Seconds()))
		} else {
			rep.NoMedia++
		}
	}
	rep.JoinMs = summarize(joins)
	rep.FirstFrameMs = summarize(firsts)
}

func (rep *Report) fillTraffic(r *run, joined []*participant, before, after []map[string]client.Stream) {
	ids := map[int][]string{} // video publishers' ids by room
	for _, p := range joined {
		if p.publisher && r.cfg.PublishVideo {
			ids[p.room] = append(ids[p.room], p.c.ID())
		}
	}
	rep.Layers = map[string]int{}
	var kbps []float64
	for i, p := range joined {
		var mine Traffic
		got := map[string]client.Stream{}
		for pub, s := range after[i] {
			d := delta(before[i][pub], s)
			got[pub] = d
			mine.add(d)
			rep.Received.add(d)
			if !p.publisher {
				rep.Subscribers.add(d)
			}
		}
		if !p.publisher {
			kbps = append(kbps, float64(mine.VideoBytes+mine.AudioBytes)*8/rep.WindowSec/1000)
		}
		if !p.wantVideo {
			continue
		}
		self := p.c.ID()
		for _, pub := range ids[p.room] {
			if pub == self {
				continue
			}
			d := got[pub]
			layer := "none"
			switch {
			case d.VideoPackets == 0:
			case d.Height == 0:
				layer = "no-keyframe" // packets came, but never a decodable frame
			default:
				if layer = client.RIDForHeight(d.Height); layer == "" {
					layer = fmt.Sprintf("%dp", d.Height)
				}
			}
			rep.Layers[layer]++
		}
	}
	rep.Received.finish(rep.WindowSec)
	rep.Subscribers.finish(rep.WindowSec)
	rep.SubscriberKbps = summarize(kbps)
}

// fillNodes counts participants per node and, when they were spread over
// several, splits the pings by pair of nodes.
func (rep *Report) fillNodes(joined []*participant, byNodes map[nodePair][]float64) {
	rep.Nodes = map[string]int{}
	for _, p := range joined {
		rep.Nodes[p.c.Node()]++
		if p.c.Redirects() > 0 {
			rep.Redirected++
		}
	}
	rep.RTTByNodes, rep.RTTSameNodeMs = splitRTT(byNodes, len(rep.Nodes))
}

// splitRTT summarises round trips by pair of nodes, in order of the pair,
// and pools the same-node pairs. With one node there is nothing to split.
func splitRTT(byNodes map[nodePair][]float64, nodes int) ([]PairRTT, *Summary) {
	if nodes < 2 || len(byNodes) == 0 {
		return nil, nil
	}
	keys := slices.SortedFunc(maps.Keys(byNodes), func(x, y nodePair) int {
		if c := strings.Compare(x.a, y.a); c != 0 {
			return c
		}
		return strings.Compare(x.b, y.b)
	})
	var pairs []PairRTT
	var same []float64
	for _, k := range keys {
		pairs = append(pairs, PairRTT{A: k.a, B: k.b, RTT: summarize(byNodes[k])})
		if k.a == k.b {
			same = append(same, byNodes[k]...)
		}
	}
	if len(same) == 0 {
		return pairs, nil
	}
	s := summarize(same)
	return pairs, &s
}

// WriteText prints the report for a person.
func (rep *Report) WriteText(w io.Writer) error {
	c := rep.Config
	var b strings.Builder
	fmt.Fprintf(&b, "load: %d room(s) x (%d publishers + %d subscribers) on %s: %d/%d joined in %.1f s, held %.1f s\n",
		c.Rooms, c.Publishers, c.Subscribers, c.URL, rep.Joined, rep.Participants, rep.JoinPhaseSec, rep.WindowSec)
	fmt.Fprintf(&b, "  join          p50 %7.1f ms  p95 %7.1f ms  (n=%d, %d failed)\n",
		rep.JoinMs.P50, rep.JoinMs.P95, rep.JoinMs.N, rep.JoinFailures)
	fmt.Fprintf(&b, "  first frame   p50 %7.1f ms  p95 %7.1f ms  (%s, n=%d, %d without media)\n",
		rep.FirstFrameMs.P50, rep.FirstFrameMs.P95, rep.FirstFrameOf, rep.FirstFrameMs.N, rep.NoMedia)
	fmt.Fprintf(&b, "  received      %.2f Mbit/s, %.0f packets/s, loss %.3f %% (all participants)\n",
		rep.Received.Mbps, rep.Received.PacketsPerSec, rep.Received.LossPct)
	fmt.Fprintf(&b, "  per subscriber p50 %.0f kbit/s  p95 %.0f kbit/s\n", rep.SubscriberKbps.P50, rep.SubscriberKbps.P95)
	if len(rep.Layers) > 0 {
		b.WriteString("  layers       ")
		for _, k := range slices.Sorted(maps.Keys(rep.Layers)) {
			fmt.Fprintf(&b, " %s: %d", k, rep.Layers[k])
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "  rtt           p50 %7.2f ms  p95 %7.2f ms  (n=%d, %d failed)\n",
		rep.RTTMs.P50, rep.RTTMs.P95, rep.RTTMs.N, rep.PingFailures)
	if len(rep.Nodes) > 1 {
		b.WriteString("  nodes        ")
		for _, k := range slices.Sorted(maps.Keys(rep.Nodes)) {
			fmt.Fprintf(&b, " %s: %d", k, rep.Nodes[k])
		}
		fmt.Fprintf(&b, "  (%d redirected)\n", rep.Redirected)
		for _, p := range rep.RTTByNodes {
			fmt.Fprintf(&b, "  rtt %s↔%s  p50 %7.2f ms  p95 %7.2f ms  (n=%d)\n", p.A, p.B, p.RTT.P50, p.RTT.P95, p.RTT.N)
		}
	}
	for _, e := range rep.Ended {
		fmt.Fprintf(&b, "  ended early: %s\n", e)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func ms(sec float64) float64 { return sec * 1000 }

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}
