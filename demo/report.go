package demo

import (
	"fmt"
	"io"
	"strings"
)

// statusLine is the headless one-line view, each figure after its label;
// statusHelp in --help explains them.
func statusLine(s Summary) string {
	var b strings.Builder
	up, participants := 0, 0
	var relay int64
	var failed []string
	for _, n := range s.Nodes {
		if n.Failed != "" {
			failed = append(failed, fmt.Sprintf("%s FAILED (%s)", n.ID, n.Failed))
			continue
		}
		up++
		participants += n.Participants
		relay += n.RelayBitrate
	}
	fmt.Fprintf(&b, "t=%.0fs nodes %d/%d", s.ElapsedSec, up, len(s.Nodes))
	for _, f := range failed {
		b.WriteString(" " + f)
	}
	// Both ends of a relay link count its bits; halved, each counts once.
	fmt.Fprintf(&b, " participants %d relay %s", participants, bitrate(relay/2))
	for i, c := range s.Conferences {
		if i == 0 {
			b.WriteString(" speakers")
		}
		fmt.Fprintf(&b, " %s:%s", c.Name, dash(c.DominantSpeaker))
	}
	for _, c := range s.Conferences {
		for _, p := range c.Participants {
			if p.Lossy && p.Present {
				fmt.Fprintf(&b, " lossy %s:%s", p.Name, bestLayer(p.Received))
			}
		}
	}
	return b.String()
}

// statusHelp explains the headless status line in --help.
const statusHelp = `With --headless, a status line every --every, such as
  t=15s nodes 3/3 participants 8 relay 5.1Mb/s speakers demo:Chen design:Farah lossy Ana:q
  t             time since the demo started
  nodes         nodes answering / nodes started; one that stopped answering
                is named, with why, as "us-east FAILED (...)"
  participants  participants the answering nodes host
  relay         media between the nodes (each bit counted once)
  speakers      each conference's dominant speaker (- before anyone spoke)
  lossy         the participant behind the lossy link and the best video
                layer it receives: q, h or f (low, half, full), - for none
and at the end a summary with the result of every check (exit status 1 if
one failed).
`

// bestLayer is the highest layer among what a participant receives.
func bestLayer(rs []Received) string {
	best := "-"
	for _, r := range rs {
		if strings.Index("-qhf", r.Layer) > strings.Index("-qhf", best) {
			best = r.Layer
		}
	}
	return best
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
				if r.Freezes > 0 {
					fmt.Fprintf(w, "/%dfz %.1fs", r.Freezes, r.FreezeSec)
				}
			}
			if v := p.Speaker; p.Lossy && v.OnStageSec > 0 {
				fmt.Fprintf(w, "\n            the dominant speaker seen %.0f%% of %.1fs: %d changes, waited %.1fs for first frames, frozen %.1fs",
					100*v.Seen(), v.OnStageSec, v.Switches, v.WaitingSec, v.FrozenSec)
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
