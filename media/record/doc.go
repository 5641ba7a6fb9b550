// Package record writes published tracks to WebM files on the node, without
// decoding: each track's RTP is reordered, reassembled into frames and muxed
// as it came (VP8 video, Opus audio), one file per track, with a manifest
// that lets the files be lined up later.
//
// A Track is a media.Sink. Its WriteRTP, called on the forwarding goroutine,
// only picks the simulcast layer (with media/forward, so sequence numbers and
// timestamps stay continuous across a switch) and copies the packet into a
// pooled slot of a bounded queue; a writer goroutine per track does the rest
// and all the disk I/O. When the queue is full the packet is dropped and
// counted, and the gap it leaves makes the writer ask for a keyframe.
//
// The writer goroutine runs each packet through three small state machines,
// each tested on its own: a jitter buffer that reorders by sequence number
// (jitter.go), a VP8 frame assembler that drops frames until the next
// keyframe after any loss (depack.go), and a timeline that turns RTP
// timestamps into block timecodes (timeline.go). Audio skips the assembler:
// one Opus frame per packet, RED's primary block, with lost packets rebuilt
// from RED redundancy when it has them.
//
// A Recording owns a directory, <dir>/<room>-<UTC time>/, creates its
// tracks and keeps manifest.json there up to date (atomic rename). MixArgs
// builds an ffmpeg command line that lays a recording's videos side by side
// with its audio mixed.
package record
