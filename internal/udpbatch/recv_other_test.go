//go:build !linux

package udpbatch

// batchedReads says whether reads are batched on this platform.
const batchedReads = false
