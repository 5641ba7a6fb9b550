// Package red reads and writes audio redundancy payloads (RFC 2198) without allocating.
//
// A RED payload is a list of block headers followed by the blocks, oldest
// first; the last block is the primary (the newest encoding):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|1| block PT    |  timestamp offset         |   block length    |  one per redundant block
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|0| block PT    |  the primary's header: no offset, no length
//	+-+-+-+-+-+-+-+-+
//	| redundant block 1 | ... | redundant block n | primary block (the rest) |
//
// A redundant block's timestamp is the packet's minus its 14-bit offset; its
// length has 10 bits (at most 1023 bytes). WebRTC negotiates RED as
// "red/48000/2" with fmtp "111/111": the primary and the redundant encodings
// are both of payload type 111 (Opus).
package red
