package console

import "github.com/charmbracelet/lipgloss"

// Styles holds every style the console draws with. It is built once per
// viewer from that viewer's renderer, so an SSH session with NO_COLOR or a dumb
// terminal gets plain text while the local terminal keeps its colours.
type Styles struct {
	Title       lipgloss.Style // product name in the header
	HeaderKey   lipgloss.Style // labels in the header ("cpu", "in")
	HeaderValue lipgloss.Style
	Draining    lipgloss.Style // the DRAINING badge
	Hint        lipgloss.Style // Options.Hint under the tabs
	Tab         lipgloss.Style
	TabActive   lipgloss.Style
	Section     lipgloss.Style // a view's title line and sub-section titles
	TableHeader lipgloss.Style
	Selected    lipgloss.Style // the row under the cursor
	Dim         lipgloss.Style // secondary text: ids, empty states, paused layers
	Good        lipgloss.Style
	Warn        lipgloss.Style
	Bad         lipgloss.Style
	Speaking    lipgloss.Style
	Prompt      lipgloss.Style // confirmation and choice prompts
	Status      lipgloss.Style // the result of the last action
	Error       lipgloss.Style
	HelpKey     lipgloss.Style
	HelpDesc    lipgloss.Style
	Spark       lipgloss.Style
	LevelDebug  lipgloss.Style
	LevelInfo   lipgloss.Style
	LevelWarn   lipgloss.Style
	LevelError  lipgloss.Style
}

// newStyles builds the console's styles for one renderer. Adaptive colours let
// the renderer pick shades that read on both dark and light backgrounds.
func newStyles(r *lipgloss.Renderer) *Styles {
	accent := lipgloss.AdaptiveColor{Light: "#5A3FC0", Dark: "#B9A6FF"}
	dim := lipgloss.AdaptiveColor{Light: "#767676", Dark: "#8A8A8A"}
	green := lipgloss.AdaptiveColor{Light: "#2E7D32", Dark: "#7CD992"}
	yellow := lipgloss.AdaptiveColor{Light: "#9A6700", Dark: "#F2C94C"}
	red := lipgloss.AdaptiveColor{Light: "#C62828", Dark: "#FF6B6B"}
	return &Styles{
		Title:       r.NewStyle().Bold(true).Foreground(accent),
		HeaderKey:   r.NewStyle().Foreground(dim),
		HeaderValue: r.NewStyle().Bold(true),
		Draining:    r.NewStyle().Bold(true).Foreground(yellow),
		Hint:        r.NewStyle().Foreground(accent),
		Tab:         r.NewStyle().Foreground(dim),
		TabActive:   r.NewStyle().Bold(true).Underline(true).Foreground(accent),
		Section:     r.NewStyle().Bold(true),
		TableHeader: r.NewStyle().Bold(true).Foreground(dim),
		Selected:    r.NewStyle().Reverse(true),
		Dim:         r.NewStyle().Foreground(dim),
		Good:        r.NewStyle().Foreground(green),
		Warn:        r.NewStyle().Foreground(yellow),
		Bad:         r.NewStyle().Bold(true).Foreground(red),
		Speaking:    r.NewStyle().Bold(true).Foreground(green),
		Prompt:      r.NewStyle().Bold(true).Foreground(yellow),
		Status:      r.NewStyle().Foreground(green),
		Error:       r.NewStyle().Bold(true).Foreground(red),
		HelpKey:     r.NewStyle().Bold(true),
		HelpDesc:    r.NewStyle().Foreground(dim),
		Spark:       r.NewStyle().Foreground(accent),
		LevelDebug:  r.NewStyle().Foreground(dim),
		LevelInfo:   r.NewStyle().Foreground(green),
		LevelWarn:   r.NewStyle().Foreground(yellow),
		LevelError:  r.NewStyle().Bold(true).Foreground(red),
	}
}
