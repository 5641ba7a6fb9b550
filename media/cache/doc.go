// Package cache keeps the latest RTP packets of a track so that receivers' NACKs can be answered.
package cache
