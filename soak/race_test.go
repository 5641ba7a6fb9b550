//go:build race

package soak

// raceEnabled: the race detector slows pion several times over; three
// nodes and a dozen participants on two cores then miss real-time
// deadlines, so the soak itself does not run under it.
const raceEnabled = true
