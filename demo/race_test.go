//go:build race

package demo

// raceEnabled: the race detector slows pion several times over, so media
// assertions that depend on real-time delivery are not made under it.
const raceEnabled = true
