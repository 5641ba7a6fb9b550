package cache

import (
	"bytes"
	"sync"
	"testing"
)

// packet builds a payload whose contents and length depend on seq, so a
// packet loaded for the wrong sequence number is noticed.
func packet(seq uint16) []byte {
	p := make([]byte, 20+int(seq)%200)
	for i := range p {
		p[i] = byte(seq) ^ byte(seq>>8) ^ byte(i)
	}
	return p
}

func TestNewRoundsSize(t *testing.T) {
	tests := []struct{ in, want int }{
		{0, DefaultSize}, {-3, DefaultSize}, {1, 1}, {3, 4}, {512, 512}, {513, 1024}, {1 << 20, 1 << 16},
	}
	for _, tt := range tests {
		if got := New(tt.in).Size(); got != tt.want {
			t.Errorf("New(%d).Size() = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestStoreLoad(t *testing.T) {
	type op struct {
		store bool
		seq   uint16
		size  int // stored packet size; 0 means packet(seq)
		ok    bool
	}
	tests := []struct {
		name string
		size int
		ops  []op
	}{
		{
			name: "empty cache",
			size: 8,
			ops:  []op{{seq: 0}, {seq: 100}},
		},
		{
			name: "stored packets load, others do not",
			size: 8,
			ops: []op{
				{store: true, seq: 100}, {store: true, seq: 101}, {store: true, seq: 103},
				{seq: 100, ok: true}, {seq: 101, ok: true}, {seq: 102}, {seq: 103, ok: true},
				{seq: 104}, {seq: 99}, {seq: 108},
			},
		},
		{
			name: "overwrite by newer packets",
			size: 4,
			ops: []op{
				{store: true, seq: 0}, {store: true, seq: 1}, {store: true, seq: 2}, {store: true, seq: 3},
				{seq: 0, ok: true},
				{store: true, seq: 4}, {store: true, seq: 5},
				{seq: 0}, {seq: 1}, {seq: 2, ok: true}, {seq: 5, ok: true},
			},
		},
		{
			name: "sequence wraparound",
			size: 8,
			ops: []op{
				{store: true, seq: 65533}, {store: true, seq: 65534}, {store: true, seq: 65535},
				{store: true, seq: 0}, {store: true, seq: 1},
				{seq: 65533, ok: true}, {seq: 65535, ok: true}, {seq: 0, ok: true}, {seq: 1, ok: true},
				{seq: 2}, {seq: 65532},
				{store: true, seq: 7},
				{seq: 65533}, {seq: 65535}, {seq: 0, ok: true}, {seq: 7, ok: true},
			},
		},
		{
			name: "late packets inside the window are stored, older ones are not",
			size: 8,
			ops: []op{
				{store: true, seq: 20}, {store: true, seq: 15}, {store: true, seq: 12},
				{seq: 15, ok: true}, {seq: 12, ok: false}, {seq: 20, ok: true},
			},
		},
		{
			name: "a slot untouched for a whole wrap is not returned",
			size: 512,
			ops: []op{
				{store: true, seq: 10},
				{store: true, seq: 20000}, {store: true, seq: 40000}, {store: true, seq: 60000},
				{store: true, seq: 14000},
				{seq: 10}, {seq: 14000, ok: true},
			},
		},
		{
			name: "oversize packets are skipped and leave the slot alone",
			size: 4,
			ops: []op{
				{store: true, seq: 1},
				{store: true, seq: 5, size: SlotSize + 1},
				{seq: 5}, {seq: 1, ok: true},
				{store: true, seq: 6, size: SlotSize},
				{seq: 6, ok: true},
			},
		},
		{
			name: "empty packet",
			size: 4,
			ops:  []op{{store: true, seq: 9, size: -1}, {seq: 9, ok: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(tt.size)
			stored := map[uint16][]byte{}
			dst := make([]byte, SlotSize)
			for i, o := range tt.ops {
				if o.store {
					p := packet(o.seq)
					switch {
					case o.size < 0:
						p = nil
					case o.size > 0:
						p = bytes.Repeat([]byte{byte(o.seq)}, o.size)
					}
					c.Store(o.seq, p)
					stored[o.seq] = p
					continue
				}
				n, ok := c.Load(o.seq, dst)
				if ok != o.ok {
					t.Fatalf("op %d: Load(%d) ok = %v, want %v", i, o.seq, ok, o.ok)
				}
				if ok && !bytes.Equal(dst[:n], stored[o.seq]) {
					t.Fatalf("op %d: Load(%d) returned the wrong %d bytes", i, o.seq, n)
				}
			}
		})
	}
}

func TestLoadShortBuffer(t *testing.T) {
	c := New(16)
	c.Store(3, packet(3))
	if _, ok := c.Load(3, make([]byte, len(packet(3))-1)); ok {
		t.Fatal("Load into a short buffer succeeded")
	}
	if n, ok := c.Load(3, make([]byte, len(packet(3)))); !ok || n != len(packet(3)) {
		t.Fatalf("Load into an exact buffer = %d, %v", n, ok)
	}
}

func TestStoreCopies(t *testing.T) {
	c := New(16)
	p := packet(1)
	c.Store(1, p)
	want := append([]byte(nil), p...)
	p[0]++
	dst := make([]byte, SlotSize)
	n, ok := c.Load(1, dst)
	if !ok || !bytes.Equal(dst[:n], want) {
		t.Fatal("cache kept a reference to the caller's buffer")
	}
}

// TestConcurrentReaders is meant for -race: one writer, several readers, and
// every packet a reader gets must be the one stored for that sequence number.
func TestConcurrentReaders(t *testing.T) {
	c := New(64)
	const total = 20000
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan string, 4)
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := make([]byte, SlotSize)
			for i := uint16(r); ; i += 7 {
				select {
				case <-done:
					return
				default:
				}
				seq := i % total
				if n, ok := c.Load(seq, dst); ok && !bytes.Equal(dst[:n], packet(seq)) {
					errs <- "wrong contents"
					return
				}
			}
		}()
	}
	for seq := range uint16(total) {
		c.Store(seq, packet(seq))
	}
	close(done)
	wg.Wait()
	select {
	case e := <-errs:
		t.Fatal(e)
	default:
	}
}

func TestStoreLoadAllocs(t *testing.T) {
	c := New(512)
	p := make([]byte, 1200)
	dst := make([]byte, SlotSize)
	seq := uint16(0)
	allocs := testing.AllocsPerRun(1000, func() {
		c.Store(seq, p)
		c.Load(seq-3, dst)
		seq++
	})
	if allocs != 0 {
		t.Errorf("Store+Load allocate %v per run", allocs)
	}
}

func BenchmarkStore(b *testing.B) {
	c := New(512)
	p := make([]byte, 1200)
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	seq := uint16(0)
	for b.Loop() {
		c.Store(seq, p)
		seq++
	}
}

func BenchmarkLoad(b *testing.B) {
	c := New(512)
	p := make([]byte, 1200)
	for seq := range uint16(512) {
		c.Store(seq, p)
	}
	dst := make([]byte, SlotSize)
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	seq := uint16(0)
	for b.Loop() {
		if _, ok := c.Load(seq&511, dst); !ok {
			b.Fatal("miss")
		}
		seq++
	}
}

func TestStoreParts(t *testing.T) {
	tests := []struct {
		name       string
		head, body []byte
		want       []byte // nil: not stored
	}{
		{"both", []byte{1, 2}, []byte{3, 4, 5}, []byte{1, 2, 3, 4, 5}},
		{"no head", nil, []byte{7}, []byte{7}},
		{"no body", []byte{9, 9}, nil, []byte{9, 9}},
		{"exactly a slot", make([]byte, 5), make([]byte, SlotSize-5), make([]byte, SlotSize)},
		{"one byte over", make([]byte, 5), make([]byte, SlotSize-4), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(16)
			c.StoreParts(100, tt.head, tt.body)
			dst := make([]byte, SlotSize)
			n, ok := c.Load(100, dst)
			if ok != (tt.want != nil) {
				t.Fatalf("Load ok = %v, want %v", ok, tt.want != nil)
			}
			if ok && !bytes.Equal(dst[:n], tt.want) {
				t.Fatalf("Load = %v, want %v", dst[:n], tt.want)
			}
		})
	}
}
