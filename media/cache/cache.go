package cache

import "sync"

// SlotSize is the largest packet a Cache stores; larger ones are skipped.
const SlotSize = 1500

// DefaultSize is the number of packets kept when New is given no size.
const DefaultSize = 512

// maxSize is the whole 16-bit sequence space: more slots would never be used.
const maxSize = 1 << 16

// Cache is a ring of the most recent packets of one RTP stream, indexed by
// sequence number. Slots are allocated once, so Store and Load do not
// allocate. One writer and any number of readers may use it concurrently.
type Cache struct {
	mask int64

	mu sync.RWMutex
	// The fields below are guarded by mu.
	started bool
	highest int64   // extended sequence number of the newest packet
	ext     []int64 // extended sequence number held by each slot, -1 if none
	length  []uint16
	buf     []byte // len(ext) slots of SlotSize bytes
}

// New returns a cache for size packets, rounded up to a power of two (at
// most 65536); size <= 0 means DefaultSize.
func New(size int) *Cache {
	if size <= 0 {
		size = DefaultSize
	}
	n := 1
	for n < size && n < maxSize {
		n <<= 1
	}
	c := &Cache{
		mask:   int64(n - 1),
		ext:    make([]int64, n),
		length: make([]uint16, n),
		buf:    make([]byte, n*SlotSize),
	}
	for i := range c.ext {
		c.ext[i] = -1
	}
	return c
}

// Size returns the number of packets the cache holds.
func (c *Cache) Size() int { return len(c.ext) }

// Store copies pkt into the slot for seq. Packets larger than SlotSize and
// packets older than the cache reaches back are not stored.
func (c *Cache) Store(seq uint16, pkt []byte) { c.StoreParts(seq, nil, pkt) }

// StoreParts stores head followed by body as one packet, saving the caller
// a copy into a scratch buffer.
func (c *Cache) StoreParts(seq uint16, head, body []byte) {
	if len(head)+len(body) > SlotSize {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var ext int64
	if !c.started {
		// The base keeps extended numbers of late packets positive.
		ext = 1<<32 + int64(seq)
		c.started = true
		c.highest = ext
	} else {
		ext = c.extend(seq)
		if ext > c.highest {
			c.highest = ext
		} else if c.highest-ext > c.mask {
			return
		}
	}
	i := ext & c.mask
	c.ext[i] = ext
	c.length[i] = uint16(len(head) + len(body))
	slot := c.buf[i*SlotSize : (i+1)*SlotSize]
	copy(slot[copy(slot, head):], body)
}

// Load copies the packet with sequence number seq into dst and returns its
// length. It returns false if the packet was never stored, is older than the
// newest stored sequence number minus Size, or does not fit in dst (use
// SlotSize).
func (c *Cache) Load(seq uint16, dst []byte) (int, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.started {
		return 0, false
	}
	ext := c.extend(seq)
	if c.highest-ext > c.mask {
		// Still in its slot if nothing newer landed there, but outside
		// the window the cache promises.
		return 0, false
	}
	i := ext & c.mask
	if c.ext[i] != ext {
		return 0, false
	}
	n := int(c.length[i])
	if len(dst) < n {
		return 0, false
	}
	return copy(dst, c.buf[i*SlotSize:i*SlotSize+int64(n)]), true
}

// extend maps seq to the extended sequence number nearest the newest one.
// Called with mu held.
func (c *Cache) extend(seq uint16) int64 {
	return c.highest + int64(int16(seq-uint16(c.highest)))
}
