package soak

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// Table draws a report as plain-text tables: the nodes, the departures,
// the abuse, the failover, the media and the checks.
func Table(r *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "switchyard soak: %.0f s of churn (%.0f s until the last churn participant was gone), seed %d, settled in %.1f s\n\n",
		r.DurationSec, r.PhaseSec, r.Seed, r.SettleSec)

	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "node\tregion\tgoroutines\theap MB\topen files\tparticipants\trooms\tlisted\texit")
	for _, n := range r.Nodes {
		end := Figures{}
		if n.End != nil {
			end = *n.End
		}
		arrow := func(a, b int) string {
			if n.End == nil {
				return fmt.Sprintf("%d → -", a)
			}
			return fmt.Sprintf("%d → %d", a, b)
		}
		heap := fmt.Sprintf("%.1f → -", n.Start.HeapInUseMB)
		if n.End != nil {
			heap = fmt.Sprintf("%.1f → %.1f", n.Start.HeapInUseMB, end.HeapInUseMB)
		}
		exit := n.Exit
		if n.Killed {
			exit = "SIGKILLed (failover)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.ID, n.Region,
			arrow(n.Start.Goroutines, end.Goroutines), heap, arrow(n.Start.FDs, end.FDs),
			arrow(n.Start.Participants, end.Participants), arrow(n.Start.Rooms, end.Rooms),
			arrow(n.Start.Listed, end.Listed), exit)
	}
	_ = w.Flush()
	for _, n := range r.Nodes {
		if len(n.Residual) > 0 {
			fmt.Fprintf(&b, "  %s still holds: %s\n", n.ID, strings.Join(firstN(n.Residual, 10), ", "))
		}
		for _, g := range firstGrowth(n.GoroutineGrowth, 3) {
			fmt.Fprintf(&b, "  %s goroutines %d → %d: %s\n", n.ID, g.Start, g.End, g.Stack)
		}
		for _, p := range n.Panics {
			fmt.Fprintf(&b, "  %s log: %s\n", n.ID, p)
		}
		if len(n.Counters) > 0 {
			keys := make([]string, 0, len(n.Counters))
			for k := range n.Counters {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			parts := make([]string, len(keys))
			for i, k := range keys {
				parts[i] = fmt.Sprintf("%s +%g", shortSeries(k), n.Counters[k])
			}
			fmt.Fprintf(&b, "  %s counted: %s\n", n.ID, strings.Join(parts, ", "))
		}
	}

	b.WriteString("\n")
	w = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "departure\tcount\tremoved\tlate\tnot removed\tlost with node\tmax s\tbound s\treasons")
	for _, d := range r.Departures {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%.2f\t%.0f\t%s\n", d.Kind, d.Count, d.Removed, d.Late, d.NotRemoved,
			d.LostWithNode, d.MaxRemovalSec, d.BoundSec, reasons(d.Reasons))
	}
	_ = w.Flush()

	b.WriteString("\n")
	w = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "abuse\tsent\tjudged\tas documented\totherwise")
	for _, a := range r.Abuse {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\n", a.Kind, a.Sent, a.Cases, a.AsExpected, a.Unexpected)
	}
	_ = w.Flush()

	if f := r.Failover; f != nil {
		fmt.Fprintf(&b, "\nfailover: %s SIGKILLed at %.1f s with %d participants; media back after %.2f s at most\n",
			f.Node, f.AtSec, f.Participants, f.MaxMediaBackSec)
		w = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "  participant\tnoticed s\trejoined s\tattempts\tnow on\tmedia back s\theard again s\terror")
		for _, m := range f.Moved {
			fmt.Fprintf(w, "  %s\t%.2f\t%.2f\t%d\t%s\t%.2f\t%s\t%s\n", m.Name, m.NoticedSec, m.RejoinedSec, m.Attempts,
				m.NewNode, m.MediaBackSec, optSec(m.HeardAgainSec), m.Error)
		}
		_ = w.Flush()
		nodes := make([]string, 0, len(f.DroppedBySec))
		for id := range f.DroppedBySec {
			nodes = append(nodes, id)
		}
		slices.Sort(nodes)
		for _, id := range nodes {
			fmt.Fprintf(&b, "  %s dropped the dead node's participants after %.2f s\n", id, f.DroppedBySec[id])
		}
	}

	fmt.Fprintf(&b, "\nmedia: %d steady participants, %d audio and %d video stalls in %d samples; flowing at the end: %v\n",
		r.Media.Steady, r.Media.Stalls, r.Media.VideoStalls, r.Media.Samples, r.Media.FlowingAtEnd)
	for _, s := range r.Media.Stalled {
		fmt.Fprintf(&b, "  stall at %s\n", s)
	}
	fmt.Fprintf(&b, "churn: %d started, %d joined, %d failed joins, %d lost with the killed node\n",
		r.Churn.Started, r.Churn.Joined, len(r.Churn.JoinFailures), r.Churn.LostWithNode)

	b.WriteString("\n")
	for _, c := range r.Checks {
		mark := "PASS"
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "%s  %s: %s\n", mark, c.Name, c.Detail)
	}
	if r.WorkDir != "" {
		fmt.Fprintf(&b, "\nnode configurations, logs and goroutine dumps: %s\n", r.WorkDir)
	}
	return b.String()
}

func reasons(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func optSec(s float64) string {
	if s <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", s)
}

// shortSeries drops the common prefix of the node's series names.
func shortSeries(s string) string {
	return strings.TrimSuffix(strings.TrimPrefix(s, "switchyard_"), "_total")
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}
