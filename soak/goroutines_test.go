package soak

import (
	"reflect"
	"strings"
	"testing"
)

const dumpStart = `goroutine profile: total 7
3 @ 0x4432ce 0x43c9f7 0x46e805
#	0x46e804	internal/poll.runtime_pollWait+0x84	/go/src/runtime/netpoll.go:351
#	0x4dbea6	internal/poll.(*pollDesc).wait+0x26	/go/src/internal/poll/fd_poll_runtime.go:84
#	0x4dd1d9	internal/poll.(*FD).Read+0x279	/go/src/internal/poll/fd_unix.go:165
#	0x5a1c44	net.(*conn).Read+0x44	/go/src/net/net.go:196
#	0x5a1c99	net/http.(*connReader).Read+0x14	/go/src/net/http/server.go:798

4 @ 0x4432ce 0x452a45
#	0x452a44	time.Sleep+0x124	/go/src/runtime/time.go:338
#	0x9a0b11	github.com/switchyard/switchyard/node.(*Node).tick+0x31	/src/node/node.go:300
`

const dumpEnd = `goroutine profile: total 9
3 @ 0x4432ce 0x43c9f7 0x46e805
#	0x46e804	internal/poll.runtime_pollWait+0x84	/go/src/runtime/netpoll.go:351
#	0x4dbea6	internal/poll.(*pollDesc).wait+0x26	/go/src/internal/poll/fd_poll_runtime.go:84
#	0x4dd1d9	internal/poll.(*FD).Read+0x279	/go/src/internal/poll/fd_unix.go:165
#	0x5a1c44	net.(*conn).Read+0x44	/go/src/net/net.go:196

2 @ 0x4432ce 0x452a45
#	0x452a44	time.Sleep+0x124	/go/src/runtime/time.go:338
#	0x9a0b11	github.com/switchyard/switchyard/node.(*Node).tick+0x31	/src/node/node.go:300

4 @ 0x4432ce 0x4100aa
#	0x4100a9	runtime.chanrecv1+0x18	/go/src/runtime/chan.go:506
#	0x9b0c21	github.com/switchyard/switchyard/node.(*Participant).leak+0x41	/src/node/participant.go:99
`

func TestParseGoroutineDump(t *testing.T) {
	got, err := parseGoroutineDump(strings.NewReader(dumpStart))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		"internal/poll.runtime_pollWait < internal/poll.(*pollDesc).wait < internal/poll.(*FD).Read < net.(*conn).Read": 3,
		"time.Sleep < github.com/switchyard/switchyard/node.(*Node).tick":                                               4,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseGoroutineDump =\n%v\nwant\n%v", got, want)
	}
	if got, _ := parseGoroutineDump(strings.NewReader("")); len(got) != 0 {
		t.Errorf("empty dump: %v", got)
	}
	bare, _ := parseGoroutineDump(strings.NewReader("goroutine profile: total 1\n1 @ 0x4943a1\n\n"))
	if !reflect.DeepEqual(bare, map[string]int{"(no symbolized frames)": 1}) {
		t.Errorf("a stack without frames: %v", bare)
	}
}

func TestStackGrowth(t *testing.T) {
	start, _ := parseGoroutineDump(strings.NewReader(dumpStart))
	end, _ := parseGoroutineDump(strings.NewReader(dumpEnd))
	got := stackGrowth(start, end)
	want := []StackGrowth{{Stack: "runtime.chanrecv1 < github.com/switchyard/switchyard/node.(*Participant).leak", Start: 0, End: 4}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stackGrowth = %+v, want %+v", got, want)
	}
	back := stackGrowth(end, start)
	if len(back) != 1 || back[0].Start != 2 || back[0].End != 4 {
		t.Errorf("growth from end to start: %+v, want only the ticker 2 → 4", back)
	}
}
