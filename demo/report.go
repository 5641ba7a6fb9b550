package demo

import (
	"fmt"
	"io"
	"strings"
)

// statusLine is the headless one-line view: per node its participants,
// conferences and relay bitrate; per conference the dominant speaker and the
// layers each present participant receives.
func statusLine(s Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%4.0fs]", s.ElapsedSec)
	for _, n := range s.Nodes {
		if n.Failed != "" {
			fmt.Fprintf(&b, " %s FAILED (%s) |", n.ID, n.Failed)
			continue
		}
		fmt.Fprintf(&b, " %s %dp %dc relay %s |", n.ID, n.Participants, n.Conferences, bitrate(n.RelayBitrate))
	}
	for _, c := range s.Conferences {
		fmt.Fprintf(&b, "| %s speaker %s:", c.Name, dash(c.DominantSpeaker))
		for _, p := range c.Participants {
			if !p.Present {
				continue
			}
			var layers strings.Builder
			for _, r := range p.Received {
				layers.WriteString(r.Layer)
			}
			mark := ""
			if p.Lossy {
				mark = "!"
			}
			fmt.Fprintf(&b, " %s%s@%s=%s", p.Name, mark, p.Node, dash(layers.String()))
		}
		b.WriteString(" ")
	}
	return strings.TrimRight(b.String(), " |")
}

// writeFinal prints the final summary and the result of every check.
func writeFinal(w io.Writer, s Summary) {
	cascade := "off"
	if s.Cascaded {
		cascade = "on"
	}
	fmt.Fprintf(w, "\ndemo summary after %.0fs: %d nodes, cascade %s\n", s.ElapsedSec, len(s.Nodes), cascade)
	for _, n := range s.Nodes {
		state := "ok"
		if n.Failed != "" {
			state = "FAILED: " + n.Failed
		}
		fmt.Fprintf(w, "  node %-13s %s  %d participants, %d conferences, %d peers, relay peak %s  %s\n",
			n.ID, n.URL, n.Participants, n.Conferences, n.Peers, bitrate(n.RelayPeak), state)
	}
	for _, c := range s.Conferences {
		fmt.Fprintf(w, "  conference %s on %s: dominant speaker %s, changed %d times\n",
			c.Name, strings.Join(c.Nodes, ", "), dash(c.DominantSpeaker), c.DominantChanges)
		for _, p := range c.Participants {
			var flags []string
			if p.Lossy {
				flags = append(flags, "lossy link")
			}
			if p.Via != p.Node {
				flags = append(flags, fmt.Sprintf("dialled %s, %d redirects", p.Via, p.Redirects))
			}
			if !p.Present {
				flags = append(flags, fmt.Sprintf("left at %.0fs", p.LeftSec))
			}
			if p.Ended != "" {
				flags = append(flags, "ended: "+p.Ended)
			}
			extra := ""
			if len(flags) > 0 {
				extra = " (" + strings.Join(flags, ", ") + ")"
			}
			fmt.Fprintf(w, "    %-7s %s on %s from %.0fs%s:", p.Name, p.Region, p.Node, p.JoinedSec, extra)
			for _, r := range p.Received {
				fmt.Fprintf(w, " %s %s/%dv/%da", dash(r.FromName), r.Layer, r.VideoPackets, r.AudioPackets)
			}
			fmt.Fprintln(w)
		}
	}
	for _, f := range s.JoinFailures {
		fmt.Fprintf(w, "  join failed: %s\n", f)
	}
	fmt.Fprintln(w, "checks:")
	for _, r := range s.Check() {
		switch {
		case r.Err == nil:
			fmt.Fprintf(w, "  ok    %s\n", r.Name)
		case r.Skipped():
			fmt.Fprintf(w, "  skip  %s: %v\n", r.Name, r.Err)
		default:
			fmt.Fprintf(w, "  FAIL  %s: %v\n", r.Name, r.Err)
		}
	}
}

func bitrate(bps int64) string {
	switch {
	case bps >= 1_000_000:
		return fmt.Sprintf("%.1fMb/s", float64(bps)/1e6)
	case bps >= 1000:
		return fmt.Sprintf("%.0fkb/s", float64(bps)/1e3)
	default:
		return fmt.Sprintf("%db/s", bps)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
