package peering

import (
	"testing"

	"github.com/switchyard/switchyard/media"
)

func TestFitLink(t *testing.T) {
	const all = media.AllLayers
	q, h, f := media.LayerSet(1), media.LayerSet(2), media.LayerSet(4)
	cam := func(want, held media.LayerSet) fitTrack {
		return fitTrack{want: want, active: all, rates: [media.MaxLayers]int64{120_000, 430_000, 1_070_000}, held: held}
	}
	mic := fitTrack{audio: true, want: q, active: q, rates: [media.MaxLayers]int64{40_000}}
	for _, tc := range []struct {
		name       string
		budget     int64
		tracks     []fitTrack
		want       []fitResult
		cost, need int64
	}{{
		name:   "no limit: everything wanted goes",
		tracks: []fitTrack{mic, cam(f, 0)},
		want:   []fitResult{{send: q}, {send: f}},
		cost:   1_110_000,
	}, {
		name:   "fits: nothing held",
		budget: 2_000_000,
		tracks: []fitTrack{mic, cam(f, 0)},
		want:   []fitResult{{send: q}, {send: f}},
		cost:   1_110_000,
	}, {
		name:   "a want of f on a 700 kbit/s link becomes h; f is held",
		budget: 700_000,
		tracks: []fitTrack{mic, cam(f, 0)},
		want:   []fitResult{{send: q}, {send: h, held: f}},
		cost:   470_000, need: 1_110_000,
	}, {
		name:   "a switch under way (h to f) keeps h, drops f",
		budget: 700_000,
		tracks: []fitTrack{mic, cam(h|f, 0)},
		want:   []fitResult{{send: q}, {send: h, held: f}},
		cost:   470_000, need: 1_110_000,
	}, {
		name:   "the peer wants h: f, not wanted, is held all the same",
		budget: 700_000,
		tracks: []fitTrack{mic, cam(h, 0)},
		want:   []fitResult{{send: q}, {send: h, held: f}},
		cost:   470_000, need: 1_110_000,
	}, {
		name:   "two cameras: the most expensive steps down first, lower layers last",
		budget: 1_000_000,
		tracks: []fitTrack{mic, cam(f, 0), cam(f, 0)},
		want:   []fitResult{{send: q}, {send: h, held: f}, {send: h, held: f}},
		cost:   900_000, need: 2_180_000,
	}, {
		name:   "two cameras on 600 kbit/s: one h, one q",
		budget: 600_000,
		tracks: []fitTrack{mic, cam(f, 0), cam(f, 0)},
		want:   []fitResult{{send: q}, {send: q, held: h | f}, {send: h, held: f}},
		cost:   590_000, need: 1_540_000,
	}, {
		name:   "audio only fits: video goes, audio stays",
		budget: 100_000,
		tracks: []fitTrack{mic, cam(f, 0)},
		want:   []fitResult{{send: q}, {send: 0, held: all}},
		cost:   40_000, need: 160_000,
	}, {
		name:   "not even audio fits: audio goes anyway",
		budget: 10_000,
		tracks: []fitTrack{mic},
		want:   []fitResult{{send: q}},
		cost:   40_000,
	}, {
		name:   "a held layer comes back only with room",
		budget: 1_150_000, // f fits, but not with 15% to spare
		tracks: []fitTrack{mic, cam(h, f)},
		want:   []fitResult{{send: q}, {send: h, held: f}},
		cost:   470_000, need: 1_110_000,
	}, {
		name:   "with room it comes back",
		budget: 1_300_000,
		tracks: []fitTrack{mic, cam(h, f)},
		want:   []fitResult{{send: q}, {send: h}},
		cost:   470_000,
	}, {
		name:   "a step skips a layer the publisher does not send",
		budget: 700_000,
		tracks: []fitTrack{mic, {want: f, active: q | f, rates: [media.MaxLayers]int64{120_000, 0, 1_070_000}}},
		want:   []fitResult{{send: q}, {send: q, held: f}},
		cost:   160_000, need: 1_110_000,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			out := make([]fitResult, len(tc.tracks))
			cost, need := fitLink(tc.budget, tc.tracks, out)
			for i := range out {
				if out[i] != tc.want[i] {
					t.Errorf("track %d: send %03b held %03b, want send %03b held %03b", i, out[i].send, out[i].held, tc.want[i].send, tc.want[i].held)
				}
			}
			if cost != tc.cost || need != tc.need {
				t.Errorf("cost %d demand %d, want %d and %d", cost, need, tc.cost, tc.need)
			}
		})
	}
}
