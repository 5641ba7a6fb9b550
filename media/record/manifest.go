package record

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/switchyard/switchyard/media"
)

// ManifestName is the manifest's file name in a recording's directory.
const ManifestName = "manifest.json"

// manifestVersion is bumped when a field changes meaning.
const manifestVersion = 1

// Manifest describes a recording: its room, when it ran, and its files.
type Manifest struct {
	Version int        `json:"version"`
	Room    string     `json:"room"`
	Started time.Time  `json:"started"`
	Ended   *time.Time `json:"ended,omitempty"`
	Files   []FileInfo `json:"files"`
}

// FileInfo describes one track's file. Its time zero (timecode 0) is the
// frame with timestamp FirstRTPTimestamp, which arrived at FirstPacket: a
// file starts FirstPacket minus the earliest FirstPacket after the others.
type FileInfo struct {
	Participant string       `json:"participant"`
	Name        string       `json:"name,omitempty"`
	Source      media.Source `json:"source"`
	Kind        media.Kind   `json:"kind"`
	Codec       string       `json:"codec"` // "VP8" or "opus"
	File        string       `json:"file"`  // relative to the manifest
	ClockRate   uint32       `json:"clock_rate"`
	Added       time.Time    `json:"added"`

	// Set once the first frame is written; a file without it is empty and
	// is not left on disk.
	FirstPacket       *time.Time `json:"first_packet,omitempty"`
	FirstRTPTimestamp *uint32    `json:"first_rtp_timestamp,omitempty"`

	// Set when the track ends.
	Ended    *time.Time `json:"ended,omitempty"`
	Duration float64    `json:"duration_seconds,omitempty"`
	Frames   uint64     `json:"frames,omitempty"`
	Dropped  uint64     `json:"frames_dropped,omitempty"`
	Error    string     `json:"error,omitempty"`
}

// ReadManifest reads a recording's manifest.
func ReadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("record: read manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("record: parse manifest %s: %w", path, err)
	}
	return &m, nil
}

// writeManifest replaces path with m atomically: a reader sees the old or the
// new manifest, whole, and a crash leaves one of them.
func writeManifest(path string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("record: encode manifest: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".manifest-*.tmp")
	if err != nil {
		return fmt.Errorf("record: write manifest: %w", err)
	}
	err = tmp.Chmod(0o644)
	if err == nil {
		_, err = tmp.Write(append(b, '\n'))
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("record: write manifest: %w", err)
	}
	return nil
}
