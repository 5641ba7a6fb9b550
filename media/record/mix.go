package record

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchyard/switchyard/media"
)

// MixName is the file MixArgs has ffmpeg write, beside the manifest.
const MixName = "mix.webm"

// Tile size and frame rate of the mix: each video is scaled into a tile,
// keeping its aspect ratio.
const (
	mixTileW = 640
	mixTileH = 360
	mixFPS   = 30
)

// ErrNothingToMix is returned for a recording without a file that has frames.
var ErrNothingToMix = errors.New("record: no file with frames to mix")

// MixArgs returns the arguments of an ffmpeg command (without "ffmpeg")
// that mixes a recording into one file, mix.webm beside the manifest: the
// videos side by side in a grid of 640x360 tiles, the audio mixed, each
// input delayed by how much later than the first it started.
//
//	args, err := record.MixArgs(path)
//	cmd := exec.Command("ffmpeg", args...)
func MixArgs(manifestPath string) ([]string, error) {
	m, err := ReadManifest(manifestPath)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(manifestPath)
	var files []FileInfo
	var t0 time.Time
	for _, f := range m.Files {
		if f.FirstPacket == nil || f.File == "" {
			continue // never started: no file
		}
		if f.File != filepath.Base(f.File) || strings.HasPrefix(f.File, ".") {
			return nil, fmt.Errorf("record: manifest names %q, not a file of the recording", f.File)
		}
		if t0.IsZero() || f.FirstPacket.Before(t0) {
			t0 = *f.FirstPacket
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, ErrNothingToMix
	}
	args := []string{"-hide_banner", "-nostdin", "-y"}
	var graph, videos, audios []string
	for i, f := range files {
		args = append(args, "-i", filepath.Join(dir, f.File))
		off := f.FirstPacket.Sub(t0)
		switch f.Kind {
		case media.KindVideo:
			label := fmt.Sprintf("[v%d]", len(videos))
			graph = append(graph, fmt.Sprintf(
				"[%d:v]fps=%d,scale=%d:%d:force_original_aspect_ratio=decrease,pad=%d:%d:(ow-iw)/2:(oh-ih)/2:black,setsar=1,tpad=start_duration=%.3f:color=black%s",
				i, mixFPS, mixTileW, mixTileH, mixTileW, mixTileH, off.Seconds(), label))
			videos = append(videos, label)
		case media.KindAudio:
			label := fmt.Sprintf("[a%d]", len(audios))
			graph = append(graph, fmt.Sprintf("[%d:a]aresample=48000,adelay=%d:all=1%s", i, off.Milliseconds(), label))
			audios = append(audios, label)
		}
	}
	switch len(videos) {
	case 0:
	case 1:
		graph = append(graph, videos[0]+"null[v]")
	default:
		cols := int(math.Ceil(math.Sqrt(float64(len(videos)))))
		layout := make([]string, len(videos))
		for i := range videos {
			layout[i] = fmt.Sprintf("%d_%d", i%cols*mixTileW, i/cols*mixTileH)
		}
		graph = append(graph, fmt.Sprintf("%sxstack=inputs=%d:layout=%s:fill=black[v]",
			strings.Join(videos, ""), len(videos), strings.Join(layout, "|")))
	}
	switch len(audios) {
	case 0:
	case 1:
		graph = append(graph, audios[0]+"anull[a]")
	default:
		graph = append(graph, fmt.Sprintf("%samix=inputs=%d:duration=longest:normalize=0[a]",
			strings.Join(audios, ""), len(audios)))
	}
	args = append(args, "-filter_complex", strings.Join(graph, ";"))
	if len(videos) > 0 {
		args = append(args, "-map", "[v]", "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "2M")
	}
	if len(audios) > 0 {
		args = append(args, "-map", "[a]", "-c:a", "libopus", "-b:a", "96k")
	}
	return append(args, filepath.Join(dir, MixName)), nil
}
