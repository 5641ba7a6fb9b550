// Package cascade connects nodes into one conference fabric: membership
// (cascade/membership), the relay transport between nodes (cascade/relay)
// and link emulation for tests and demos (cascade/linkemu).
package cascade
