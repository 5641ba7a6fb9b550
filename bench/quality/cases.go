package quality

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/switchyard/switchyard/linkemu"
)

// Case is one emulated access link of the receiver. Only its way down is
// constrained (the receiver publishes nothing): what is measured is how the
// node fits one publisher's simulcast into it.
type Case struct {
	Name string
	// Up and Down impair the receiver's traffic towards the node and from it.
	Up, Down linkemu.Params
	// LiftAt, when set, replaces Down by Lifted that long after the
	// receiver joined: the cap goes, the delay stays.
	LiftAt time.Duration
	Lifted linkemu.Params
}

// The delay every case puts on both directions unless it is about delay: a
// nearby server over a home connection, as the demo's lossy participant.
const (
	baseDelay  = 15 * time.Millisecond
	baseJitter = 5 * time.Millisecond
)

// liftAt is when cap-lifted removes its cap.
const liftAt = 20 * time.Second

// minAfterLift is how long a case must run after its lift to show a recovery.
const minAfterLift = 10 * time.Second

func delayOnly(d time.Duration) linkemu.Params {
	return linkemu.Params{Delay: d, Jitter: baseJitter}
}

// Cases are every case, in the order they run by default.
var Cases = []Case{
	{
		// The demo's lossy participant (Ana): a poor mobile link.
		Name: "cap400-loss3",
		Up:   linkemu.Params{Delay: baseDelay, Jitter: baseJitter, Loss: 0.03},
		Down: linkemu.Params{Delay: baseDelay, Jitter: baseJitter, Loss: 0.03, RateBitsPerSec: 400_000},
	},
	{
		Name: "cap1m",
		Up:   delayOnly(baseDelay),
		Down: linkemu.Params{Delay: baseDelay, Jitter: baseJitter, RateBitsPerSec: 1_000_000},
	},
	{
		Name: "loss2",
		Up:   delayOnly(baseDelay),
		Down: linkemu.Params{Delay: baseDelay, Jitter: baseJitter, Loss: 0.02},
	},
	{
		Name:   "cap-lifted",
		Up:     delayOnly(baseDelay),
		Down:   linkemu.Params{Delay: baseDelay, Jitter: baseJitter, RateBitsPerSec: 300_000},
		LiftAt: liftAt,
		Lifted: delayOnly(baseDelay),
	},
	{
		Name: "rtt150",
		Up:   delayOnly(75 * time.Millisecond),
		Down: delayOnly(75 * time.Millisecond),
	},
}

// CaseNames is the comma-separated list of every case.
func CaseNames() string {
	names := make([]string, len(Cases))
	for i, c := range Cases {
		names[i] = c.Name
	}
	return strings.Join(names, ",")
}

// LookupCases parses a comma-separated list of case names ("all" for every
// case), keeping the order given and dropping repeats.
func LookupCases(list string) ([]Case, error) {
	var out []Case
	var seen []string
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" || slices.Contains(seen, name) {
			continue
		}
		if name == "all" {
			for _, c := range Cases {
				if !slices.Contains(seen, c.Name) {
					out, seen = append(out, c), append(seen, c.Name)
				}
			}
			continue
		}
		i := slices.IndexFunc(Cases, func(c Case) bool { return c.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("unknown case %q (cases: %s, all)", name, CaseNames())
		}
		out, seen = append(out, Cases[i]), append(seen, name)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no case in %q", list)
	}
	return out, nil
}

// checkDuration says whether a run of d can measure c.
func (c Case) checkDuration(d time.Duration) error {
	if c.LiftAt > 0 && d < c.LiftAt+minAfterLift {
		return fmt.Errorf("case %s lifts its cap at %v: it needs --duration of at least %v",
			c.Name, c.LiftAt, c.LiftAt+minAfterLift)
	}
	return nil
}

// describe is the case's link in a few words for the table.
func (c Case) describe() string {
	var parts []string
	if r := c.Down.RateBitsPerSec; r > 0 {
		s := fmt.Sprintf("down %s", kbit(r))
		if c.LiftAt > 0 && c.Lifted.RateBitsPerSec == 0 {
			s += fmt.Sprintf(" until %gs", c.LiftAt.Seconds())
		}
		parts = append(parts, s)
	}
	switch {
	case c.Down.Loss > 0 && c.Up.Loss == c.Down.Loss:
		parts = append(parts, fmt.Sprintf("loss %g%% both ways", 100*c.Down.Loss))
	case c.Down.Loss > 0:
		parts = append(parts, fmt.Sprintf("loss %g%% down", 100*c.Down.Loss))
	}
	parts = append(parts, fmt.Sprintf("delay %v±%v", c.Down.Delay, c.Down.Jitter))
	return strings.Join(parts, ", ")
}

func kbit(bps int64) string {
	if bps >= 1_000_000 && bps%1_000_000 == 0 {
		return fmt.Sprintf("%d Mbit/s", bps/1_000_000)
	}
	return fmt.Sprintf("%d kbit/s", bps/1000)
}
