// Package dedup drops repeated RTP sequence numbers (RTX retransmissions, network duplicates) and counts losses.
package dedup
