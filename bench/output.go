package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/internal/srtpprofile"
)

// Table renders results as a markdown table, one row per scenario.
func Table(results []Result) string {
	var b strings.Builder
	b.WriteString("| scenario | participants | node CPU % of a core | egress pkt/s | egress Mbit/s | CPU µs/pkt | reflector µs/pkt | ratio | CPU ms/Mbit | fwd delay p50 / p99 µs | join→frame p50 / p95 ms | loss % | load gen CPU % | peak RSS MB | KB/participant |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		if r.Error != "" {
			fmt.Fprintf(&b, "| %s | %d | failed: %s ||||||||||||\n", r.Scenario.Name, r.Scenario.participants(),
				strings.ReplaceAll(firstLine(r.Error), "|", "/"))
			continue
		}
		n, l := r.Node, r.Load
		p99 := num(n.ForwardDelayP99Us, 0)
		if n.ForwardDelayP99AboveBuckets {
			p99 = ">" + p99
		}
		refl, ratio := "—", "—"
		if r.Reflector != nil {
			refl = num(r.Reflector.CPUPerPacketUs, 2)
			ratio = num(r.Ratio, 2) + "x"
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s / %s | %s | %s | %s | %s |\n",
			r.Scenario.Name, n.Participants, num(n.CPUPercent, 1), num(n.EgressPPS, 0), num(n.EgressMbps, 1),
			num(n.CPUPerPacketUs, 2), refl, ratio, num(n.CPUPerMbitMs, 2),
			num(n.ForwardDelayP50Us, 0), p99,
			num(l.FirstFrameP50Ms, 0), num(l.FirstFrameP95Ms, 0), num(l.LossPct, 3), num(l.GeneratorCPUPercent, 0),
			num(n.PeakRSSMB, 1), num(n.MemPerParticipantKB, 0))
	}
	b.WriteString(cascadeTables(results))
	return b.String()
}

// cascadeTables renders the cascade scenarios' nodes and relay links, or
// nothing when none ran.
func cascadeTables(results []Result) string {
	var cs []Result
	for _, r := range results {
		if r.Cascade != nil && r.Error == "" {
			cs = append(cs, r)
		}
	}
	if len(cs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\nCascade scenarios: the main table sums the nodes; the bare reflector models one node, so there is no ratio.\n\n")
	b.WriteString("| scenario | node | region | participants | CPU % of a core | egress pkt/s | CPU µs/pkt |\n")
	b.WriteString("|---|---|---|---:|---:|---:|---:|\n")
	for _, r := range cs {
		for _, n := range r.Cascade.Nodes {
			fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | %s | %s |\n", r.Scenario.Name, n.ID, n.Region, n.Participants,
				num(n.CPUPercent, 1), num(n.EgressPPS, 0), num(n.CPUPerPacketUs, 2))
		}
	}
	b.WriteString("\nRelay links, per direction, over the window (sealed bytes). Skipped: video not sent because nobody behind the link " +
		"needed it; savings: its share of what Octo would send. NACKed: packets the receiving node asked for; resent: answered from the " +
		"sender's cache. Added RTT: participant-to-participant ping p50 across the two nodes minus that on one node.\n\n")
	b.WriteString("| scenario | link | q / h / f / audio kbit/s | skipped kbit/s | savings % | NACKed / resent | relay RTT ms | emulated RTT ms | added RTT ms |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range cs {
		for _, l := range r.Cascade.Links {
			kbit := func(k string) string { return num(l.BytesPerSec[k]*8/1000, 0) }
			added := "—"
			for _, p := range r.Cascade.Pairs {
				if (p.A == l.From && p.B == l.To) || (p.A == l.To && p.B == l.From) {
					if p.AddedRTTSource != "" {
						added = num(p.AddedRTTMs, 1)
						if p.AddedRTTSource != sourcePings {
							added += " (" + p.AddedRTTSource + ")"
						}
					}
				}
			}
			fmt.Fprintf(&b, "| %s | %s→%s | %s / %s / %s / %s | %s | %s | %d / %d | %s | %s | %s |\n",
				r.Scenario.Name, l.From, l.To, kbit("q"), kbit("h"), kbit("f"), kbit("audio"),
				num(l.SkippedBytesPerSec*8/1000, 0), num(l.SavingsPct, 1), l.NACKsByReceiver, l.NACKsAnswered,
				num(l.RelayRTTMs, 1), num(2*l.EmulatedDelayMs, 0), added)
		}
	}
	return b.String()
}

// srtpLine says which SRTP profile the node and the reflector ran: the
// node and its load clients offer internal/srtpprofile's list, so they
// negotiate its first profile, which the reflector uses.
func srtpLine() string {
	name := srtpprofile.Name(uint16(srtpProfile))
	return fmt.Sprintf("SRTP: %s between the node and its load clients (both list it first), %s in the bare reflector.\n\n", name, name)
}

func num(x float64, digits int) string { return strconv.FormatFloat(x, 'f', digits, 64) }

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

func writeResult(dir string, r Result) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: encode %s: %w", r.Scenario.Name, err)
	}
	path := filepath.Join(dir, r.Scenario.Name+".json")
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// writeSummary writes the table of this invocation and, when it ran any of
// the 5xN family, the plot of node CPU against subscribers.
func writeSummary(dir string, results []Result) error {
	if len(results) == 0 {
		return nil
	}
	md := "# switchyard bench\n\n"
	m := results[0].Machine
	md += fmt.Sprintf("%s, %d cores, Linux %s, %s\n\n", m.CPUModel, m.Cores, m.Kernel, m.GoVersion)
	md += srtpLine()
	md += Table(results)
	if err := os.WriteFile(filepath.Join(dir, "table.md"), []byte(md), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	pts := familyPoints(results)
	if len(pts) == 0 {
		return nil
	}
	if err := os.WriteFile(filepath.Join(dir, "cpu-vs-subscribers.svg"), []byte(plotSVG(pts, m)), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// point is one 5xN scenario: subscribers, node CPU %, and the CPU % the
// bare reflector would spend on the node's egress.
type point struct {
	subs      int
	node      float64
	reflector float64 // NaN when not measured
}

func familyPoints(results []Result) []point {
	var pts []point
	for _, r := range results {
		m := family5xN.FindStringSubmatch(r.Scenario.Name)
		if m == nil || r.Error != "" {
			continue
		}
		subs, _ := strconv.Atoi(m[1])
		p := point{subs: subs, node: r.Node.CPUPercent, reflector: math.NaN()}
		if r.Reflector != nil {
			p.reflector = r.Reflector.CPUPerPacketUs * r.Node.EgressPPS / 1e4
		}
		pts = append(pts, p)
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].subs < pts[j].subs })
	return pts
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten.
func niceCeil(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

// plotSVG draws node CPU (and the reflector's for the same packets) against
// subscribers, by hand: the module has no plotting dependency.
func plotSVG(pts []point, m Machine) string {
	const w, h = 640.0, 400.0
	const left, right, top, bottom = 64.0, 24.0, 48.0, 56.0
	maxX, maxY := 0.0, 0.0
	for _, p := range pts {
		maxX = math.Max(maxX, float64(p.subs))
		maxY = math.Max(maxY, p.node)
		if !math.IsNaN(p.reflector) {
			maxY = math.Max(maxY, p.reflector)
		}
	}
	maxX, maxY = niceCeil(maxX), niceCeil(maxY*1.1)
	x := func(v float64) float64 { return left + v/maxX*(w-left-right) }
	y := func(v float64) float64 { return h - bottom - v/maxY*(h-top-bottom) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="20" font-size="15" font-weight="bold">Node CPU vs subscribers (5 publishers, one room)</text>`+"\n", left)
	fmt.Fprintf(&b, `<text x="%.0f" y="36" fill="#555">%s</text>`+"\n", left,
		xmlEscape(fmt.Sprintf("%s, %d cores, %s", m.CPUModel, m.Cores, m.GoVersion)))
	for i := 0; i <= 5; i++ {
		v := maxY * float64(i) / 5
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, y(v), w-right, y(v))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y(v)+4, trimNum(v))
		u := maxX * float64(i) / 5
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x(u), h-bottom+18, trimNum(u))
	}
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", left, h-bottom, w-right, h-bottom)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", left, top, left, h-bottom)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">subscribers</text>`+"\n", (left+w-right)/2, h-18)
	fmt.Fprintf(&b, `<text transform="translate(16 %.1f) rotate(-90)" text-anchor="middle">CPU, %% of one core</text>`+"\n", (top+h-bottom)/2)

	series := func(color, dash, name string, val func(point) float64, legendY float64) {
		var coords []string
		for _, p := range pts {
			if v := val(p); !math.IsNaN(v) {
				coords = append(coords, fmt.Sprintf("%.1f,%.1f", x(float64(p.subs)), y(v)))
			}
		}
		if len(coords) == 0 {
			return
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" stroke-dasharray="%s" points="%s"/>`+"\n",
			color, dash, strings.Join(coords, " "))
		for _, c := range coords {
			cx, cy, _ := strings.Cut(c, ",")
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3.5" fill="%s"/>`+"\n", cx, cy, color)
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2" stroke-dasharray="%s"/>`+"\n",
			left+12, legendY, left+40, legendY, color, dash)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", left+46, legendY+4, name)
	}
	series("#1f6feb", "none", "switchyard node", func(p point) float64 { return p.node }, top+10)
	series("#d9822b", "6 4", "bare SRTP reflector, same packets", func(p point) float64 { return p.reflector }, top+28)
	b.WriteString("</svg>\n")
	return b.String()
}

func trimNum(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
