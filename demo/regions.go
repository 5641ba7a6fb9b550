package demo

import (
	"time"

	"github.com/switchyard/switchyard/linkemu"
)

// regions are the emulated regions in the order nodes are started; the first
// three are the cascade, the rest let --nodes go up to six.
var regions = []string{"us-east", "eu-west", "ap-southeast", "us-west", "sa-east", "af-south"}

// rttMs is the round trip between two regions, roughly what public clouds
// measure between them. Symmetric; read it with rtt.
var rttMs = map[[2]string]int{
	{"us-east", "eu-west"}:       80,
	{"eu-west", "ap-southeast"}:  160,
	{"us-east", "ap-southeast"}:  220,
	{"us-east", "us-west"}:       65,
	{"eu-west", "us-west"}:       140,
	{"ap-southeast", "us-west"}:  170,
	{"us-east", "sa-east"}:       120,
	{"eu-west", "sa-east"}:       190,
	{"ap-southeast", "sa-east"}:  330,
	{"us-west", "sa-east"}:       170,
	{"us-east", "af-south"}:      230,
	{"eu-west", "af-south"}:      160,
	{"ap-southeast", "af-south"}: 280,
	{"us-west", "af-south"}:      280,
	{"sa-east", "af-south"}:      340,
}

// Impairment common to every inter-region link besides its delay.
const (
	relayLoss      = 0.005
	relayJitterPct = 5 // percent of the one-way delay
)

// rtt is the round trip between regions a and b; 0 for the same region.
func rtt(a, b string) time.Duration {
	if a == b {
		return 0
	}
	if ms, ok := rttMs[[2]string{a, b}]; ok {
		return time.Duration(ms) * time.Millisecond
	}
	return time.Duration(rttMs[[2]string{b, a}]) * time.Millisecond
}

// relayLink is the emulated one-way path from region a to region b: half the
// round trip, a little jitter and a little loss.
func relayLink(a, b string) linkemu.Params {
	oneWay := rtt(a, b) / 2
	return linkemu.Params{
		Delay:  oneWay,
		Jitter: oneWay * relayJitterPct / 100,
		Loss:   relayLoss,
	}
}

// nodeID is the id of the demo node serving region; one node per region, so
// the region name reads best.
func nodeID(region string) string { return region }
