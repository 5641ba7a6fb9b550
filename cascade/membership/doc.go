// Package membership keeps a live, encrypted gossip view of the cluster's nodes and their load, on hashicorp/memberlist.
package membership
