// Package cascade connects nodes into one conference fabric: membership,
// the relay transport between nodes, and remote tracks.
package cascade

import _ "github.com/hashicorp/memberlist" // membership, used by cascade/membership
