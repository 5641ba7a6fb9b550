// Package codec inspects and rewrites RTP payloads (VP8 descriptor, H.264 keyframes) without allocating.
package codec
