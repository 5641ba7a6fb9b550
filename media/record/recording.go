package record

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/media"
)

// ErrRecordingClosed is returned by AddTrack after Close.
var ErrRecordingClosed = errors.New("record: recording closed")

// Recording is one room's recording: a directory with a file per track and
// the manifest. Its methods are safe for concurrent use.
type Recording struct {
	dir    string
	log    *slog.Logger
	clock  func() time.Time
	manMu  sync.Mutex // serialises manifest writes, held without mu
	mu     sync.Mutex // guards what follows
	man    Manifest
	tracks []*Track
	names  map[string]bool
	closed bool
}

// TrackInfo describes a published track to record.
type TrackInfo struct {
	Participant string // participant id
	Name        string // display name, for the manifest
	Source      media.Source
	Codec       webrtc.RTPCodecParameters
	// RequestKeyframe asks the publisher for a keyframe (UpTrack.RequestKeyframe).
	RequestKeyframe func(layer int)
	// OnError is told if the track's recording stops on an error.
	OnError func(error)
	// Config tunes the track; its Codec, RequestKeyframe and OnError are
	// taken from the fields above.
	Config TrackConfig
}

// timeFormat names recording directories: UTC, sortable, no colons.
const timeFormat = "20060102T150405Z"

// NewRecording creates <dir>/<room>-<now in UTC>/ (with a suffix if that
// exists) and writes its first manifest.
func NewRecording(dir, room string, now time.Time) (*Recording, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("record: recordings directory: %w", err)
	}
	base := filepath.Join(dir, safeName(room, "room")+"-"+now.UTC().Format(timeFormat))
	path := base
	for i := 2; ; i++ {
		err := os.Mkdir(path, 0o755)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || i > 100 {
			return nil, fmt.Errorf("record: recording directory: %w", err)
		}
		path = fmt.Sprintf("%s-%d", base, i)
	}
	r := &Recording{
		dir:   path,
		log:   slog.Default(),
		clock: time.Now,
		man:   Manifest{Version: manifestVersion, Room: room, Started: now.UTC(), Files: []FileInfo{}},
		names: map[string]bool{},
	}
	if err := r.saveManifest(); err != nil {
		_ = os.RemoveAll(path)
		return nil, err
	}
	return r, nil
}

// Dir is the recording's directory.
func (r *Recording) Dir() string { return r.dir }

// ManifestPath is the path of manifest.json.
func (r *Recording) ManifestPath() string { return filepath.Join(r.dir, ManifestName) }

// Manifest returns a copy of the manifest as it stands.
func (r *Recording) Manifest() Manifest {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.man
	m.Files = append([]FileInfo(nil), r.man.Files...)
	return m
}

// AddTrack creates a track's file and returns the Track to add to the
// UpTrack as a sink. Close the track when the publisher unpublishes it.
func (r *Recording) AddTrack(info TrackInfo) (*Track, error) {
	cfg := info.Config
	cfg.Codec, cfg.RequestKeyframe, cfg.OnError = info.Codec, info.RequestKeyframe, info.OnError
	probe := &Track{}
	if err := probe.setCodec(info.Codec); err != nil {
		return nil, err
	}
	kind, codecName := media.KindAudio, "opus"
	if probe.video {
		kind, codecName = media.KindVideo, "VP8"
	}
	src := info.Source
	if !src.Valid() {
		src = media.SourceOf(kind)
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrRecordingClosed
	}
	name := r.fileName(info.Participant, src)
	idx := len(r.man.Files)
	r.man.Files = append(r.man.Files, FileInfo{
		Participant: info.Participant,
		Name:        info.Name,
		Source:      src,
		Kind:        kind,
		Codec:       codecName,
		File:        name,
		ClockRate:   probe.clockRate,
		Added:       r.clock().UTC(),
	})
	r.mu.Unlock()

	cfg.onStart = func(s Start) { r.trackStarted(idx, s) }
	cfg.onEnd = func(st Stats, err error) { r.trackEnded(idx, st, err) }
	t, err := NewTrack(filepath.Join(r.dir, name), cfg)
	r.mu.Lock()
	if err != nil {
		r.man.Files[idx].Error = err.Error()
		now := r.clock().UTC()
		r.man.Files[idx].Ended = &now
	} else if r.closed {
		// Close ran while the file was being created.
		r.mu.Unlock()
		_ = t.Close()
		return nil, ErrRecordingClosed
	} else {
		r.tracks = append(r.tracks, t)
	}
	r.mu.Unlock()
	if merr := r.saveManifest(); merr != nil && err == nil {
		r.log.Warn("record: manifest", "dir", r.dir, "err", merr)
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// fileName picks an unused file name for a participant's source. Called
// with mu held.
func (r *Recording) fileName(participant string, src media.Source) string {
	base := safeName(participant, "participant") + "-" + src.String()
	name := base + ".webm"
	for i := 2; r.names[name]; i++ {
		name = fmt.Sprintf("%s-%d.webm", base, i)
	}
	r.names[name] = true
	return name
}

func (r *Recording) trackStarted(idx int, s Start) {
	r.mu.Lock()
	wall, ts := s.Wall.UTC(), s.RTPTimestamp
	r.man.Files[idx].FirstPacket = &wall
	r.man.Files[idx].FirstRTPTimestamp = &ts
	r.mu.Unlock()
	if err := r.saveManifest(); err != nil {
		r.log.Warn("record: manifest", "dir", r.dir, "err", err)
	}
}

func (r *Recording) trackEnded(idx int, st Stats, err error) {
	r.mu.Lock()
	f := &r.man.Files[idx]
	now := r.clock().UTC()
	f.Ended = &now
	f.Frames, f.Dropped, f.Duration = st.Frames, st.FramesDropped, st.Duration.Seconds()
	if err != nil {
		f.Error = err.Error()
	}
	closing := r.closed
	r.mu.Unlock()
	if closing {
		return // Close writes the manifest once all tracks are done
	}
	if err := r.saveManifest(); err != nil {
		r.log.Warn("record: manifest", "dir", r.dir, "err", err)
	}
}

// Close closes every track, which finalises its file, and writes the
// manifest with the end time. It returns the tracks' and the manifest's
// errors, joined.
func (r *Recording) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	tracks := r.tracks
	r.mu.Unlock()

	errs := make([]error, len(tracks))
	var wg sync.WaitGroup
	for i, t := range tracks {
		wg.Go(func() { errs[i] = t.Close() })
	}
	wg.Wait()
	r.mu.Lock()
	end := r.clock().UTC()
	r.man.Ended = &end
	r.mu.Unlock()
	errs = append(errs, r.saveManifest())
	return errors.Join(errs...)
}

// saveManifest writes the manifest as it stands.
func (r *Recording) saveManifest() error {
	r.manMu.Lock()
	defer r.manMu.Unlock()
	m := r.Manifest()
	return writeManifest(r.ManifestPath(), &m)
}

// safeName keeps letters, digits, '-', '_' and '.' of s (others become '_'),
// at most 64 bytes, never a dot first; empty gives def.
func safeName(s, def string) string {
	var b strings.Builder
	for _, c := range s {
		if b.Len() >= 64 {
			break
		}
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			b.WriteRune(c)
		case c == '.' && b.Len() > 0:
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return def
	}
	return b.String()
}
