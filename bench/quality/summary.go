package quality

import (
	"fmt"
	"math"
	"slices"
)

// Layers are the publisher's simulcast rids, lowest first; the last is the top.
var Layers = []string{"q", "h", "f"}

// none is the timeline letter of a second without video, and the share key.
const (
	noneLetter = '-'
	noneKey    = "none"
	// gapLetter marks a second the sampler missed (the process stalled).
	gapLetter = '?'
)

// defaultHeights are the clips' heights per layer (client/clips), used when
// the node has not measured the publisher's layers yet.
var defaultHeights = map[string]int{"q": 180, "h": 360, "f": 720}

// Sample is one reading, every Options.Every, of the receiver client, the
// node's view of the receiver and the emulated link. Counters are
// cumulative since the receiver joined.
type Sample struct {
	T float64 `json:"t"` // seconds since the receiver joined, at the reading

	// The receiver client. Layer is the layer of the frames that arrived
	// since the previous reading (by the latest keyframe's height: the node
	// switches layers on keyframes), "" when none arrived.
	Layer      string  `json:"layer"`
	Height     int     `json:"height,omitempty"`
	Frames     uint64  `json:"frames"`
	Freezes    uint64  `json:"freezes"`
	FreezeMs   float64 `json:"freeze_ms"`
	VideoPkts  uint64  `json:"video_packets"`
	VideoLost  uint64  `json:"video_lost"` // never received, retransmissions counted
	VideoBytes uint64  `json:"video_bytes"`
	AudioBytes uint64  `json:"audio_bytes"`
	WireBytes  uint64  `json:"wire_bytes"` // everything the ICE transport received

	// The node: the receiver's participant and its subscription to the
	// publisher's camera, as the API shows them.
	Forwarded    string  `json:"forwarded"` // rid sent, "" when none
	Target       string  `json:"target"`
	Reason       string  `json:"reason"`
	EstimateBps  int64   `json:"estimate_bps"`
	BitrateDown  int64   `json:"bitrate_down"` // node's send rate to the receiver, bit/s
	LossDownPct  float64 `json:"loss_down_pct"`
	RTTMs        float64 `json:"rtt_ms"`
	FPS          float64 `json:"fps"`
	NodeFreezes  uint64  `json:"node_freezes"`
	NodeFreezeMs float64 `json:"node_freeze_ms"`
	Dominant     bool    `json:"dominant"` // the publisher is the dominant speaker

	// The emulated link's way down.
	CapBps      int64  `json:"cap_bps"` // 0: uncapped
	LinkSent    uint64 `json:"link_sent"`
	LinkDropped uint64 `json:"link_dropped"` // random loss and queue overflow
}

// Summary is one case's figures.
type Summary struct {
	Seconds int `json:"seconds"`
	// Timeline is the received layer per second (the layer most of that
	// second's readings show; '-' no video); NodeTimeline the same from the
	// node's forwarded rid.
	Timeline     string `json:"timeline"`
	NodeTimeline string `json:"node_timeline"`
	// Share is the fraction of readings at each layer, and "none".
	Share map[string]float64 `json:"share"`
	// FirstVideoSec is the first reading with video of a known layer; -1 never.
	FirstVideoSec float64 `json:"first_video_sec"`

	// The receiver client's freezes (browser rule), and the node's.
	Freezes        uint64  `json:"freezes"`
	FreezesPerMin  float64 `json:"freezes_per_min"`
	FreezeSec      float64 `json:"freeze_sec"`
	NodeFreezes    uint64  `json:"node_freezes"`
	NodeFreezeSec  float64 `json:"node_freeze_sec"`
	NodeFreezesMin float64 `json:"node_freezes_per_min"`

	// TopAfterLift is the time from the cap's lift to the first reading of
	// the top layer: "" when the case lifts nothing, "never" when it did
	// not come within the run; TopAfterLiftSec is the same in seconds.
	TopAfterLift    string   `json:"top_after_lift,omitempty"`
	TopAfterLiftSec *float64 `json:"top_after_lift_sec,omitempty"`
	// TopShareAfterLift is the fraction of readings after the lift that
	// show the top layer: whether it stayed there once reached.
	TopShareAfterLift float64 `json:"top_share_after_lift,omitempty"`

	// While the link was capped, after the first frame: the node's mean
	// estimate, the cap, and the mean of estimate/cap. Zero when uncapped.
	MeanEstimateBps float64 `json:"mean_estimate_bps,omitempty"`
	CapBps          int64   `json:"cap_bps,omitempty"`
	EstimateRatio   float64 `json:"estimate_ratio,omitempty"`
	// MeanEstimateAllBps is the mean estimate over the whole run.
	MeanEstimateAllBps float64 `json:"mean_estimate_all_bps"`

	// WireKbps is all the receiver got (UDP payloads: media, RTCP,
	// retransmissions, probes); MediaKbps its RTP payloads.
	WireKbps  float64 `json:"wire_kbps"`
	MediaKbps float64 `json:"media_kbps"`
	// LinkLossPct is what the emulated way down dropped; ResidualLossPct
	// the video packets the receiver never got, after retransmissions.
	LinkLossPct     float64 `json:"link_loss_pct"`
	ResidualLossPct float64 `json:"residual_loss_pct"`

	// Reasons is the fraction of readings per reason the node gave.
	Reasons map[string]float64 `json:"reasons"`
	// DominantShare is the fraction of readings in which the node named
	// the publisher dominant speaker.
	DominantShare float64 `json:"dominant_share"`
}

// layerOfHeight names the layer whose height is h: the one the node
// measured (heights, by rid) or else the clips'; the nearest if none is
// equal; "" for no height.
func layerOfHeight(h int, heights map[string]int) string {
	if h <= 0 {
		return ""
	}
	best, bestDiff := "", math.MaxInt
	for _, rid := range Layers {
		lh := heights[rid]
		if lh <= 0 {
			lh = defaultHeights[rid]
		}
		d := h - lh
		if d < 0 {
			d = -d
		}
		if d < bestDiff {
			best, bestDiff = rid, d
		}
	}
	return best
}

// Timeline gives one letter per second for the first seconds seconds: the
// value of layer (a rid, or "" for none: '-') that most readings whose
// interval is centred in that second show; on a tie the latest of the tied
// values. A second without readings is '?'.
func Timeline(samples []Sample, seconds int, layer func(Sample) string) string {
	if seconds <= 0 {
		return ""
	}
	buckets := make([][]string, seconds)
	prev := 0.0
	for _, s := range samples {
		mid := (prev + s.T) / 2
		prev = s.T
		i := int(math.Floor(mid))
		if i < 0 || i >= seconds {
			continue
		}
		buckets[i] = append(buckets[i], layer(s))
	}
	out := make([]byte, seconds)
	for i, b := range buckets {
		if len(b) == 0 {
			out[i] = gapLetter
			continue
		}
		v := majority(b)
		if v == "" {
			out[i] = noneLetter
		} else {
			out[i] = v[0]
		}
	}
	return string(out)
}

// majority is the most frequent value; on a tie, the one seen last among
// the most frequent.
func majority(vals []string) string {
	counts := map[string]int{}
	top := 0
	for _, v := range vals {
		counts[v]++
		top = max(top, counts[v])
	}
	for i := len(vals) - 1; i >= 0; i-- {
		if counts[vals[i]] == top {
			return vals[i]
		}
	}
	return ""
}

// shares is the fraction of readings per value of key ("" counted as none).
func shares(samples []Sample, key func(Sample) string) map[string]float64 {
	out := map[string]float64{}
	if len(samples) == 0 {
		return out
	}
	for _, s := range samples {
		k := key(s)
		if k == "" {
			k = noneKey
		}
		out[k]++
	}
	for k := range out {
		out[k] = round(out[k]/float64(len(samples)), 4)
	}
	return out
}

// timeTo is the time from from (seconds) to the first reading at or after
// it that shows layer; false if none does.
func timeTo(samples []Sample, from float64, layer string) (float64, bool) {
	for _, s := range samples {
		if s.T >= from && s.Layer == layer {
			return s.T - from, true
		}
	}
	return 0, false
}

// firstVideo is the first reading with frames of a known layer; -1 if
// none. Frames before any keyframe (its first packet lost at a full queue)
// could not be decoded: they do not count.
func firstVideo(samples []Sample) float64 {
	for _, s := range samples {
		if s.Layer != "" {
			return s.T
		}
	}
	return -1
}

// estimateVsCap averages the estimate and estimate/cap over the readings
// taken while the link was capped and after the first frame arrived (the
// estimator has nothing to go on before). cap is the last cap seen.
func estimateVsCap(samples []Sample) (meanEst float64, capBps int64, ratio float64) {
	var est, r float64
	n := 0
	for _, s := range samples {
		if s.CapBps <= 0 || s.Frames == 0 {
			continue
		}
		est += float64(s.EstimateBps)
		r += float64(s.EstimateBps) / float64(s.CapBps)
		capBps = s.CapBps
		n++
	}
	if n == 0 {
		return 0, 0, 0
	}
	return est / float64(n), capBps, r / float64(n)
}

// Summarize computes a case's figures from its readings; seconds is the
// run's length and liftAt the cap's lift (0: none).
func Summarize(samples []Sample, seconds int, liftAt float64) Summary {
	sum := Summary{
		Seconds:       seconds,
		Timeline:      Timeline(samples, seconds, func(s Sample) string { return s.Layer }),
		NodeTimeline:  Timeline(samples, seconds, func(s Sample) string { return s.Forwarded }),
		Share:         shares(samples, func(s Sample) string { return s.Layer }),
		Reasons:       shares(samples, func(s Sample) string { return s.Reason }),
		FirstVideoSec: firstVideo(samples),
	}
	for _, rid := range append(slices.Clone(Layers), noneKey) {
		if _, ok := sum.Share[rid]; !ok {
			sum.Share[rid] = 0
		}
	}
	if liftAt > 0 {
		top := Layers[len(Layers)-1]
		sum.TopAfterLift = "never"
		if d, ok := timeTo(samples, liftAt, top); ok {
			d = round(d, 2)
			sum.TopAfterLiftSec = &d
			sum.TopAfterLift = fmt.Sprintf("%.2f s", d)
		}
		i := slices.IndexFunc(samples, func(s Sample) bool { return s.T >= liftAt })
		if i >= 0 {
			sum.TopShareAfterLift = shares(samples[i:], func(s Sample) string { return s.Layer })[top]
		}
	}
	if len(samples) == 0 {
		return sum
	}
	last := samples[len(samples)-1]
	dur := last.T
	if dur <= 0 {
		return sum
	}
	mins := dur / 60
	sum.Freezes, sum.FreezeSec = last.Freezes, round(last.FreezeMs/1000, 2)
	sum.FreezesPerMin = round(float64(last.Freezes)/mins, 2)
	sum.NodeFreezes, sum.NodeFreezeSec = last.NodeFreezes, round(last.NodeFreezeMs/1000, 2)
	sum.NodeFreezesMin = round(float64(last.NodeFreezes)/mins, 2)
	est, capBps, ratio := estimateVsCap(samples)
	sum.MeanEstimateBps, sum.CapBps, sum.EstimateRatio = round(est, 0), capBps, round(ratio, 3)
	var all float64
	dominant := 0
	for _, s := range samples {
		all += float64(s.EstimateBps)
		if s.Dominant {
			dominant++
		}
	}
	sum.MeanEstimateAllBps = round(all/float64(len(samples)), 0)
	sum.DominantShare = round(float64(dominant)/float64(len(samples)), 3)
	sum.WireKbps = round(float64(last.WireBytes)*8/dur/1000, 1)
	sum.MediaKbps = round(float64(last.VideoBytes+last.AudioBytes)*8/dur/1000, 1)
	if last.LinkSent > 0 {
		sum.LinkLossPct = round(100*float64(last.LinkDropped)/float64(last.LinkSent), 2)
	}
	if n := last.VideoPkts + last.VideoLost; n > 0 {
		sum.ResidualLossPct = round(100*float64(last.VideoLost)/float64(n), 2)
	}
	return sum
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}
