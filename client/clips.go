package client

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// The clips are made by clips/make.sh; they are embedded so that a synthetic
// participant works from any directory and in a single binary.
//
//go:embed clips/video-q.ivf clips/video-h.ivf clips/video-f.ivf clips/audio.ogg
var clipFS embed.FS

// Simulcast rids in ascending resolution, as browsers send them.
var rids = [...]string{"q", "h", "f"}

// videoClip is one simulcast layer of the test pattern, split into frames.
type videoClip struct {
	rid       string
	width     int
	height    int
	frames    [][]byte
	keyframes []int // indices of keyframes in frames, ascending; frames[0] is one
}

// nextKeyframe returns the first keyframe index after i, wrapping around the clip.
func (v *videoClip) nextKeyframe(i int) int {
	for _, k := range v.keyframes {
		if k > i {
			return k
		}
	}
	return v.keyframes[0]
}

// audioClip is the Opus track, one 20 ms packet per entry.
type audioClip struct {
	packets [][]byte
}

// opusFrameSamples is one 20 ms Opus packet at 48 kHz.
const opusFrameSamples = 960

type clipSet struct {
	video [len(rids)]*videoClip
	audio *audioClip
}

var (
	clipsOnce sync.Once
	clipsVal  *clipSet
	clipsErr  error
)

// loadClips parses the embedded clips once per process.
func loadClips() (*clipSet, error) {
	clipsOnce.Do(func() {
		var cs clipSet
		for i, rid := range rids {
			data, err := clipFS.ReadFile("clips/video-" + rid + ".ivf")
			if err != nil {
				clipsErr = fmt.Errorf("client: read clip %s: %w", rid, err)
				return
			}
			v, err := parseIVF(rid, data)
			if err != nil {
				clipsErr = err
				return
			}
			cs.video[i] = v
		}
		data, err := clipFS.ReadFile("clips/audio.ogg")
		if err != nil {
			clipsErr = fmt.Errorf("client: read audio clip: %w", err)
			return
		}
		if cs.audio, err = parseOgg(data); err != nil {
			clipsErr = err
			return
		}
		clipsVal = &cs
	})
	return clipsVal, clipsErr
}

func parseIVF(rid string, data []byte) (*videoClip, error) {
	r, hdr, err := ivfreader.NewWith(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("client: clip %s: %w", rid, err)
	}
	if string(hdr.FourCC[:]) != "VP80" {
		return nil, fmt.Errorf("client: clip %s: codec %q, want VP80", rid, hdr.FourCC)
	}
	v := &videoClip{rid: rid, width: int(hdr.Width), height: int(hdr.Height)}
	for {
		frame, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("client: clip %s frame %d: %w", rid, len(v.frames), err)
		}
		if len(frame) == 0 {
			continue
		}
		// Bit 0 of the VP8 frame tag is the inverse keyframe flag.
		if frame[0]&1 == 0 {
			v.keyframes = append(v.keyframes, len(v.frames))
		}
		v.frames = append(v.frames, frame)
	}
	if len(v.frames) == 0 || len(v.keyframes) == 0 || v.keyframes[0] != 0 {
		return nil, fmt.Errorf("client: clip %s: %d frames, keyframes at %v; it must start with a keyframe",
			rid, len(v.frames), v.keyframes)
	}
	return v, nil
}

func parseOgg(data []byte) (*audioClip, error) {
	r, _, err := oggreader.NewWith(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("client: audio clip: %w", err)
	}
	a := &audioClip{}
	var lastGranule uint64
	for {
		page, hdr, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("client: audio clip page %d: %w", len(a.packets), err)
		}
		if bytes.HasPrefix(page, []byte("OpusTags")) {
			continue
		}
		// make.sh writes one 20 ms packet per page; a page holding more
		// would need the lacing values, which the reader hides. The last
		// page may end early (end trimming).
		if d := hdr.GranulePosition - lastGranule; lastGranule != 0 && d > opusFrameSamples {
			return nil, fmt.Errorf("client: audio clip page %d spans %d samples, want one %d-sample packet per page",
				len(a.packets), d, opusFrameSamples)
		}
		lastGranule = hdr.GranulePosition
		if len(page) > 0 {
			a.packets = append(a.packets, page)
		}
	}
	if len(a.packets) == 0 {
		return nil, errors.New("client: audio clip has no packets")
	}
	return a, nil
}
