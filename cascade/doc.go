// Package cascade connects nodes into one conference fabric: membership
// (cascade/membership) and the relay transport between nodes (cascade/relay),
// whose links tests and demos impair with the top-level linkemu package.
package cascade
