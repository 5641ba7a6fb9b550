package quality

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Table is the markdown report of a run: layers and freezes, then the
// estimate and throughput, then each case's timelines.
func Table(results []Result) string {
	var b strings.Builder
	b.WriteString("| case | link | q / h / f / none % | first video s | freezes/min | freeze s | node freezes/min | node freeze s | top after lift |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		s := r.Summary
		if r.Error != "" && len(r.Samples) == 0 {
			fmt.Fprintf(&b, "| %s | %s | failed: %s | | | | | | |\n", r.Case, r.Link, oneLine(r.Error))
			continue
		}
		top := s.TopAfterLift
		switch {
		case top == "":
			top = "n/a"
		case s.TopAfterLiftSec != nil:
			top += fmt.Sprintf(" (then %.0f%% at %s)", 100*s.TopShareAfterLift, Layers[len(Layers)-1])
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %.2f | %.2f | %.2f | %.2f | %s |\n", r.Case, r.Link,
			shareCell(s.Share), firstVideoCell(s.FirstVideoSec), s.FreezesPerMin, s.FreezeSec,
			s.NodeFreezesMin, s.NodeFreezeSec, top)
	}
	b.WriteString("\n| case | mean estimate kbit/s (capped) | cap kbit/s | estimate / cap | mean estimate kbit/s (whole run) | wire kbit/s | media kbit/s | link loss % | residual video loss % | main reason | publisher dominant % | load avg |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		s := r.Summary
		if r.Error != "" && len(r.Samples) == 0 {
			continue
		}
		est, capCell, ratio := "n/a", "n/a", "n/a"
		if s.CapBps > 0 {
			est = fmt.Sprintf("%.0f", s.MeanEstimateBps/1000)
			capCell = fmt.Sprintf("%d", s.CapBps/1000)
			ratio = fmt.Sprintf("%.2f", s.EstimateRatio)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %.0f | %.1f | %.1f | %.2f | %.2f | %s | %.0f | %.1f..%.1f |\n", r.Case,
			est, capCell, ratio, s.MeanEstimateAllBps/1000, s.WireKbps, s.MediaKbps, s.LinkLossPct,
			s.ResidualLossPct, mainReason(s.Reasons), 100*s.DominantShare, r.LoadStart, r.LoadEnd)
	}
	b.WriteString("\nLayer per second (q h f; - no video; ? no reading): received by the client, and forwarded by the node.\n\n```\n")
	w := len("case")
	for _, r := range results {
		w = max(w, len(r.Case))
	}
	for _, r := range results {
		fmt.Fprintf(&b, "%-*s  client %s\n%-*s  node   %s\n", w, r.Case, r.Summary.Timeline, w, "", r.Summary.NodeTimeline)
	}
	b.WriteString("```\n")
	for _, r := range results {
		if r.Error != "" {
			fmt.Fprintf(&b, "\n%s failed: %s\n", r.Case, oneLine(r.Error))
		}
	}
	return b.String()
}

func shareCell(share map[string]float64) string {
	parts := make([]string, 0, len(Layers)+1)
	for _, k := range append(append([]string(nil), Layers...), noneKey) {
		parts = append(parts, fmt.Sprintf("%.0f", 100*share[k]))
	}
	return strings.Join(parts, " / ")
}

func firstVideoCell(sec float64) string {
	if sec < 0 {
		return "never"
	}
	return fmt.Sprintf("%.2f", sec)
}

// mainReason is the reason most readings give, with its share; ties go to
// the alphabetically first, so the table is stable.
func mainReason(reasons map[string]float64) string {
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return "n/a"
	}
	sort.Slice(keys, func(i, j int) bool {
		if reasons[keys[i]] != reasons[keys[j]] {
			return reasons[keys[i]] > reasons[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return fmt.Sprintf("%s (%.0f%%)", keys[0], 100*reasons[keys[0]])
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func writeResult(dir string, r Result) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("quality: %s: %w", r.Case, err)
	}
	if err := os.WriteFile(filepath.Join(dir, r.Case+".json"), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("quality: %w", err)
	}
	return nil
}

func writeTable(dir string, results []Result) error {
	if len(results) == 0 {
		return nil
	}
	if err := os.WriteFile(filepath.Join(dir, "quality.md"), []byte(Table(results)), 0o644); err != nil {
		return fmt.Errorf("quality: %w", err)
	}
	return nil
}
