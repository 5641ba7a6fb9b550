package soak

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Report is what one soak run measured and concluded. It is written as JSON
// by --json and drawn as tables by Table.
type Report struct {
	Started     time.Time `json:"started"`
	DurationSec float64   `json:"duration_sec"` // --duration: churn, abuse and the kill
	// PhaseSec is the churn phase until its last participant had left
	// (departures that take the node 10 s run past --duration).
	PhaseSec float64 `json:"phase_sec"`
	Seed     uint64  `json:"seed"`
	WorkDir  string  `json:"work_dir,omitempty"` // node configs, logs, goroutine dumps (when kept)

	Nodes      []NodeReport     `json:"nodes"`
	Departures []DepartureStats `json:"departures"`
	Abuse      []AbuseStats     `json:"abuse"`
	Failover   *FailoverReport  `json:"failover,omitempty"`
	Media      MediaReport      `json:"media"`
	Churn      ChurnReport      `json:"churn"`
	// SettleSec is how long the end figures were waited for after every
	// client had gone: at least until 32 s after the last abuse (the
	// longest timer it starts on a node), then until the surviving nodes
	// were back to their baseline (or --settle more when they never were).
	SettleSec float64 `json:"settle_sec"`

	Checks []Check `json:"checks"`
	OK     bool    `json:"ok"`
}

// NodeReport is one node process: its figures before any client came and
// after everything settled, and what it still holds.
type NodeReport struct {
	ID     string   `json:"id"`
	Region string   `json:"region"`
	PID    int      `json:"pid"`
	Killed bool     `json:"killed"` // SIGKILLed by the soak on purpose
	Start  Figures  `json:"start"`
	End    *Figures `json:"end,omitempty"` // nil for the killed node
	// Residual lists what the node still holds after the settle period:
	// "room/id (name)" for every participant listed, "room" for an empty
	// conference.
	Residual []string `json:"residual,omitempty"`
	// Counters are how much some node counters grew over the run (bad
	// signaling messages, timeouts, forged DTLS, relay drops by reason).
	Counters map[string]float64 `json:"counters,omitempty"`
	// Exit says how the process ended: "" while running, "stopped" after
	// the soak's SIGTERM with status 0, otherwise what happened.
	Exit string `json:"exit"`
	// Unexpected is set when the process ended by itself during the run.
	Unexpected bool `json:"unexpected_exit,omitempty"`
	// Panics are lines of its log that show a panic, a fatal runtime
	// error or a data race.
	Panics    []string `json:"panics,omitempty"`
	LogErrors int      `json:"log_errors"` // level=ERROR lines
	// GoroutineGrowth lists the stacks with more goroutines at the end
	// than at the start, the ten that grew most (from the goroutine
	// dumps in the work directory).
	GoroutineGrowth []StackGrowth `json:"goroutine_growth,omitempty"`
}

// Figures are one reading of a node process.
type Figures struct {
	Goroutines  int     `json:"goroutines"`    // go_goroutines from /metrics
	HeapInUseMB float64 `json:"heap_inuse_mb"` // go_memstats_heap_inuse_bytes
	FDs         int     `json:"fds"`           // entries of /proc/PID/fd
	// Participants and Rooms are the node's own counts (participants
	// past their offer, conferences); Listed counts every participant
	// entry of its conferences, pending and remote ones included.
	Participants int `json:"participants"`
	Rooms        int `json:"rooms"`
	Listed       int `json:"listed"`
}

// StackGrowth is one goroutine stack whose count grew.
type StackGrowth struct {
	Stack string `json:"stack"` // the innermost functions, outermost last
	Start int    `json:"start"`
	End   int    `json:"end"`
}

// DepartureStats counts one way of leaving and what the nodes made of it.
type DepartureStats struct {
	Kind        string  `json:"kind"`
	Description string  `json:"description"`
	BoundSec    float64 `json:"bound_sec"` // documented removal time plus slack
	Count       int     `json:"count"`     // departures made
	Removed     int     `json:"removed"`   // seen gone within the bound
	Late        int     `json:"late"`      // seen gone, after the bound
	NotRemoved  int     `json:"not_removed"`
	// LostWithNode counts departures whose node was killed before the
	// removal could be seen; they prove nothing either way.
	LostWithNode  int     `json:"lost_with_node"`
	MaxRemovalSec float64 `json:"max_removal_sec"`
	// Reasons are the close reasons the node gave the departing client,
	// where the client can see one; WrongReason those not documented for
	// this kind.
	Reasons     map[string]int `json:"reasons,omitempty"`
	WrongReason int            `json:"wrong_reason"`
	// Unexpected counts participants the node dropped before they left
	// (while healthy); Examples say how the odd ones went.
	Unexpected int      `json:"unexpected"`
	Examples   []string `json:"examples,omitempty"`
}

// AbuseStats counts one kind of abuse.
type AbuseStats struct {
	Kind  string `json:"kind"`
	Sent  int    `json:"sent"`  // messages, datagrams or connections
	Cases int    `json:"cases"` // connections or rounds that were judged
	// AsExpected counts cases the node answered as documented (errors with
	// the right codes, a closed connection); Unexpected the others. Media
	// and relay garbage has no answer: the node only has to survive it and
	// count it.
	AsExpected int      `json:"as_expected"`
	Unexpected int      `json:"unexpected"`
	Examples   []string `json:"examples,omitempty"`
}

// FailoverReport is the relay-peer kill.
type FailoverReport struct {
	Node         string  `json:"node"`
	AtSec        float64 `json:"at_sec"` // into the churn phase
	Participants int     `json:"participants"`
	// Moved are the steady participants that were on the node and came
	// back through their fallback list.
	Moved []MovedParticipant `json:"moved"`
	// MaxMediaBackSec is the longest time from the kill to a moved
	// participant receiving media again (the figure the limit applies to).
	MaxMediaBackSec float64 `json:"max_media_back_sec"`
	// DroppedBySec is, per surviving node, how long it took to drop the
	// dead node's participants.
	DroppedBySec map[string]float64 `json:"dropped_by_sec"`
}

// MovedParticipant is one participant's way back after its node died.
type MovedParticipant struct {
	Name     string `json:"name"`
	OldID    string `json:"old_id"`
	NewID    string `json:"new_id,omitempty"`
	NewNode  string `json:"new_node,omitempty"`
	Attempts int    `json:"attempts"`
	// Seconds from the kill: the client noticed, it joined again, it
	// received media again, the others received its media again (a
	// publisher).
	NoticedSec    float64 `json:"noticed_sec"`
	RejoinedSec   float64 `json:"rejoined_sec"`
	MediaBackSec  float64 `json:"media_back_sec"`
	HeardAgainSec float64 `json:"heard_again_sec,omitempty"`
	Error         string  `json:"error,omitempty"`
}

// MediaReport is the steady participants' media, sampled every second.
type MediaReport struct {
	Steady int `json:"steady"` // long-lived participants
	// Samples are (receiver, publisher) pairs looked at; Stalls those
	// where no audio had arrived for 2.5 s (the kill's window left out).
	Samples int `json:"samples"`
	Stalls  int `json:"stalls"`
	// VideoStalls are pairs with audio but no video for 2.5 s from a
	// publisher of video: the node may pause video when a receiver's
	// bandwidth estimate falls, so they are shown, not judged.
	VideoStalls int      `json:"video_stalls"`
	Stalled     []string `json:"stalled,omitempty"` // the first few
	// FlowingAtEnd says every steady participant received every steady
	// publisher just before they left.
	FlowingAtEnd bool   `json:"flowing_at_end"`
	EndDetail    string `json:"end_detail,omitempty"`
}

// ChurnReport counts the short-lived participants.
type ChurnReport struct {
	Started      int      `json:"started"`
	Joined       int      `json:"joined"`
	JoinFailures []string `json:"join_failures,omitempty"`
	// LostWithNode are churn joins that failed because their node was
	// being killed.
	LostWithNode int `json:"lost_with_node"`
}

// Check is one assertion of the run.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Limits are the tolerances of the checks.
type Limits struct {
	GoroutineSlack int           // goroutines above the baseline still accepted
	FDSlack        int           // open files above the baseline still accepted
	Failover       time.Duration // from the kill to media again, at most
	// Kill says whether a node was to be killed (then a failover report
	// is required).
	Kill bool
}

// Check names.
const (
	CheckNodes      = "nodes ran without crashing"
	CheckGoroutines = "goroutines back to baseline"
	CheckFDs        = "open files back to baseline"
	CheckResidual   = "no residual participants or rooms"
	CheckFailover   = "media back after the node kill"
	CheckDepartures = "every departure removed as documented"
	CheckAbuse      = "abuse answered as documented"
	CheckMedia      = "steady media flowing at the end"
	CheckJoins      = "churn joins succeeded"
)

// Evaluate runs the checks over a finished report.
func Evaluate(r *Report, lim Limits) []Check {
	var out []Check
	add := func(name string, problems []string, okDetail string) {
		c := Check{Name: name, OK: len(problems) == 0, Detail: okDetail}
		if !c.OK {
			c.Detail = strings.Join(problems, "; ")
		}
		out = append(out, c)
	}

	var crashed, gor, fds, resid []string
	var gorOK, fdOK []string
	for _, n := range r.Nodes {
		if n.Unexpected {
			crashed = append(crashed, fmt.Sprintf("%s exited during the run (%s)", n.ID, n.Exit))
		}
		if !n.Killed && n.Exit != "" && n.Exit != ExitStopped {
			crashed = append(crashed, fmt.Sprintf("%s: %s", n.ID, n.Exit))
		}
		if len(n.Panics) > 0 {
			crashed = append(crashed, fmt.Sprintf("%s logged %d panic/fatal lines, first: %s", n.ID, len(n.Panics), n.Panics[0]))
		}
		if n.Killed {
			continue
		}
		if n.End == nil {
			resid = append(resid, n.ID+": no end figures")
			continue
		}
		if d := n.End.Goroutines - n.Start.Goroutines; d > lim.GoroutineSlack {
			gor = append(gor, fmt.Sprintf("%s %d → %d (+%d > %d)", n.ID, n.Start.Goroutines, n.End.Goroutines, d, lim.GoroutineSlack))
		} else {
			gorOK = append(gorOK, fmt.Sprintf("%s %d → %d", n.ID, n.Start.Goroutines, n.End.Goroutines))
		}
		if d := n.End.FDs - n.Start.FDs; d > lim.FDSlack {
			fds = append(fds, fmt.Sprintf("%s %d → %d (+%d > %d)", n.ID, n.Start.FDs, n.End.FDs, d, lim.FDSlack))
		} else {
			fdOK = append(fdOK, fmt.Sprintf("%s %d → %d", n.ID, n.Start.FDs, n.End.FDs))
		}
		if n.End.Participants != 0 || n.End.Rooms != 0 || n.End.Listed != 0 || len(n.Residual) > 0 {
			resid = append(resid, fmt.Sprintf("%s holds %d participants, %d rooms, %d listed: %s", n.ID,
				n.End.Participants, n.End.Rooms, n.End.Listed, strings.Join(firstN(n.Residual, 5), ", ")))
		}
	}
	if len(r.Nodes) == 0 {
		crashed = append(crashed, "no nodes")
	}
	add(CheckNodes, crashed, fmt.Sprintf("%d nodes", len(r.Nodes)))
	add(CheckGoroutines, gor, strings.Join(gorOK, ", "))
	add(CheckFDs, fds, strings.Join(fdOK, ", "))
	add(CheckResidual, resid, "none on any surviving node")

	var fo []string
	foOK := "no node killed"
	switch {
	case lim.Kill && r.Failover == nil:
		fo = append(fo, "no node was killed")
	case r.Failover != nil:
		f := r.Failover
		if len(f.Moved) == 0 {
			fo = append(fo, "nobody was on the killed node "+f.Node)
		}
		for _, m := range f.Moved {
			switch {
			case m.Error != "":
				fo = append(fo, fmt.Sprintf("%s: %s", m.Name, m.Error))
			case !(m.MediaBackSec > 0):
				fo = append(fo, m.Name+": no media after rejoining")
			case m.MediaBackSec > lim.Failover.Seconds():
				fo = append(fo, fmt.Sprintf("%s: media back after %.2f s > %s", m.Name, m.MediaBackSec, lim.Failover))
			}
		}
		foOK = fmt.Sprintf("%d participants of %s, media back after %.2f s at most (limit %s)",
			len(f.Moved), f.Node, f.MaxMediaBackSec, lim.Failover)
	}
	add(CheckFailover, fo, foOK)

	var dep []string
	total := 0
	for _, d := range r.Departures {
		total += d.Count
		var p []string
		if d.Count == 0 && (d.Kind != KindNodeKilled || lim.Kill) {
			p = append(p, "never exercised")
		}
		if d.NotRemoved > 0 {
			p = append(p, fmt.Sprintf("%d never removed", d.NotRemoved))
		}
		if d.Late > 0 {
			p = append(p, fmt.Sprintf("%d removed after %.1f s (max %.1f s)", d.Late, d.BoundSec, d.MaxRemovalSec))
		}
		if d.WrongReason > 0 {
			p = append(p, fmt.Sprintf("%d with an undocumented reason %v", d.WrongReason, d.Reasons))
		}
		if d.Unexpected > 0 {
			p = append(p, fmt.Sprintf("%d dropped before leaving", d.Unexpected))
		}
		if len(p) > 0 {
			dep = append(dep, d.Kind+": "+strings.Join(p, ", ")+examples(d.Examples))
		}
	}
	if len(r.Departures) == 0 {
		dep = append(dep, "no departures")
	}
	add(CheckDepartures, dep, fmt.Sprintf("%d departures of %d kinds", total, len(r.Departures)))

	var ab []string
	sent := 0
	for _, a := range r.Abuse {
		sent += a.Sent
		if a.Sent == 0 {
			ab = append(ab, a.Kind+": never sent")
		}
		if a.Unexpected > 0 {
			ab = append(ab, fmt.Sprintf("%s: %d of %d answered otherwise%s", a.Kind, a.Unexpected, a.Cases, examples(a.Examples)))
		}
	}
	if len(r.Abuse) == 0 {
		ab = append(ab, "no abuse sent")
	}
	add(CheckAbuse, ab, fmt.Sprintf("%d messages, datagrams and connections of %d kinds", sent, len(r.Abuse)))

	var me []string
	if !r.Media.FlowingAtEnd {
		me = append(me, "not flowing: "+r.Media.EndDetail)
	}
	add(CheckMedia, me, fmt.Sprintf("%d steady participants; %d audio and %d video stalls in %d samples",
		r.Media.Steady, r.Media.Stalls, r.Media.VideoStalls, r.Media.Samples))

	var jf []string
	if len(r.Churn.JoinFailures) > 0 {
		jf = append(jf, fmt.Sprintf("%d of %d failed: %s", len(r.Churn.JoinFailures), r.Churn.Started,
			strings.Join(firstN(r.Churn.JoinFailures, 3), "; ")))
	}
	if r.Churn.Joined == 0 {
		jf = append(jf, "nobody joined")
	}
	add(CheckJoins, jf, fmt.Sprintf("%d of %d joined (%d lost with the killed node)", r.Churn.Joined, r.Churn.Started, r.Churn.LostWithNode))
	return out
}

// ExitStopped is NodeReport.Exit for a node that stopped cleanly when asked.
const ExitStopped = "stopped"

// allOK says whether every check passed.
func allOK(cs []Check) bool {
	return !slices.ContainsFunc(cs, func(c Check) bool { return !c.OK })
}

func examples(ex []string) string {
	if len(ex) == 0 {
		return ""
	}
	return " (e.g. " + strings.Join(firstN(ex, 2), "; ") + ")"
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
