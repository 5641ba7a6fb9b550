package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/at-wat/ebml-go/mkvcore"
	"github.com/at-wat/ebml-go/webm"
)

// file is what a track writes to: an *os.File, or a test's stand-in.
type file interface {
	io.Writer
	io.WriterAt
	io.Closer
	Sync() error
}

func createFile(path string) (file, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
}

// stickyFile stands between ebml-go and the file. ebml-go writes from a
// goroutine of its own, panics on a failed write unless told otherwise and
// then stops reading its input, which would block the next frame forever.
// So the first error is kept here and later writes are dropped, and ebml-go
// always sees success; the track checks Err after each frame and stops.
type stickyFile struct {
	f       file
	written atomic.Int64

	mu sync.Mutex // guards head and err
	// head keeps the first bytes written, the header, where the muxer
	// finds the Duration element to keep up to date.
	head []byte
	err  error
}

func (s *stickyFile) Write(b []byte) (int, error) {
	if s.Err() != nil {
		return len(b), nil
	}
	s.mu.Lock()
	if len(s.head) < headKeep {
		s.head = append(s.head, b[:min(len(b), headKeep-len(s.head))]...)
	}
	s.mu.Unlock()
	n, err := s.f.Write(b)
	s.written.Add(int64(n))
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		s.fail(fmt.Errorf("record: write: %w", err))
	}
	return len(b), nil
}

func (s *stickyFile) WriteAt(b []byte, off int64) (int, error) {
	if s.Err() != nil {
		return len(b), nil
	}
	if _, err := s.f.WriteAt(b, off); err != nil {
		s.fail(fmt.Errorf("record: finalise: %w", err))
	}
	return len(b), nil
}

// Close syncs and closes the file; it reports the first error of the file's
// life, so that a recording that lost data does not close as if it had not.
func (s *stickyFile) Close() error {
	if err := s.f.Sync(); err != nil {
		s.fail(fmt.Errorf("record: sync: %w", err))
	}
	if err := s.f.Close(); err != nil {
		s.fail(fmt.Errorf("record: close: %w", err))
	}
	return s.Err()
}

func (s *stickyFile) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

// Err is the first error writing the file, or nil.
func (s *stickyFile) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// headKeep is how much of the file's start stickyFile keeps: the EBML header,
// SeekHead, Info and Tracks of a one-track file fit well within it.
const headKeep = 1024

// segmentInfo is WebM's Info with a Duration that is always written: 0 until
// ebml-go overwrites it when the file is finalised. (webm.Info would be given
// a placeholder of 5e-324 ms, which a file cut short by a crash would keep;
// 0 reads as unknown, and players scan the clusters instead.)
type segmentInfo struct {
	TimecodeScale uint64    `ebml:"TimecodeScale"`
	MuxingApp     string    `ebml:"MuxingApp"`
	WritingApp    string    `ebml:"WritingApp"`
	Duration      float64   `ebml:"Duration"`
	DateUTC       time.Time `ebml:"DateUTC,omitempty"`
}

// Space reserved after the header for the Cues, written when the file is
// finalised. ebml-go thins the cue points out to fit.
const (
	videoCuesSpace = 64 << 10
	audioCuesSpace = 16 << 10
)

// Cluster lengths, ms: a video cluster starts at the first keyframe at least
// 2 s after the last one started, so that every cue is a keyframe; audio
// clusters are 5 s long.
const (
	videoMinCluster = 2000
	audioCluster    = 5000
	maxCluster      = 0x7fff // a block's timecode is 16 bits from its cluster's
)

// muxer writes one track's frames to a WebM file with ebml-go.
type muxer struct {
	sf *stickyFile
	w  webm.BlockWriteCloser

	fatal   atomic.Pointer[error] // ebml-go's own errors (not the file's)
	started bool
	last    int64

	// durOff is the offset of the Duration's 8-byte value, 0 if not found;
	// durAt is the timecode last written there.
	durOff int64
	durAt  int64
}

// durationEvery is how often the Duration in the header is brought up to
// date while recording, so that a file cut short by a crash still tells
// about how long it is. Finalising writes the exact one.
const durationEvery = 1000 // ms

// trackUID is fixed: each file has one track.
const trackUID = 1

// openMuxer writes the header of a file with one track described by entry.
func openMuxer(sf *stickyFile, entry webm.TrackEntry, start time.Time) (*muxer, error) {
	m := &muxer{sf: sf}
	entry.TrackNumber, entry.TrackUID = 1, trackUID
	cues, minCluster, maxC := audioCuesSpace, int64(audioCluster), int64(audioCluster)
	if entry.TrackType == trackTypeVideo {
		cues, minCluster, maxC = videoCuesSpace, videoMinCluster, maxCluster
	}
	onFatal := func(err error) {
		err = fmt.Errorf("record: webm: %w", err)
		m.fatal.CompareAndSwap(nil, &err)
	}
	ws, err := webm.NewSimpleBlockWriter(sf, []webm.TrackEntry{entry},
		mkvcore.WithSegmentInfo(&segmentInfo{
			TimecodeScale: uint64(time.Millisecond),
			MuxingApp:     "switchyard",
			WritingApp:    "switchyard",
			DateUTC:       start.UTC(),
		}),
		mkvcore.WithSeekHead(true),
		mkvcore.WithCues(cues),
		mkvcore.WithBlockInterceptor(nil), // frames come in order; no need to hold 16
		mkvcore.WithMinMaxClusterDuration(1, minCluster, maxC),
		mkvcore.WithOnFatalHandler(onFatal),
		mkvcore.WithOnErrorHandler(func(error) {}), // frames too old: cannot happen, timecodes never decrease
	)
	if err != nil {
		return nil, fmt.Errorf("record: webm header: %w", err)
	}
	if len(ws) != 1 {
		return nil, errors.New("record: webm: no track writer")
	}
	m.w = ws[0]
	if err := m.Err(); err != nil {
		_ = m.w.Close() // ends ebml-go's goroutines
		return nil, err
	}
	// NewSimpleBlockWriter has written the header. The Duration element is
	// ID 44 89, size 88 (8 bytes), then the float, as ebml-go finds it too.
	sf.mu.Lock()
	i := bytes.Index(sf.head, []byte{0x44, 0x89, 0x88})
	sf.mu.Unlock()
	if i > 0 {
		m.durOff = int64(i) + 3
	}
	return m, nil
}

// write adds one frame at timecode ms, or 1 ms after the last frame if ms is
// not later: two blocks of a track at the same time make players and ffmpeg
// complain (a simulcast switch can put the new layer's keyframe right on the
// old layer's last frame). ebml-go keeps the slice until it has written it:
// the caller must not touch frame after.
func (m *muxer) write(key bool, ms int64, frame []byte) error {
	if err := m.Err(); err != nil {
		return err
	}
	if m.started && ms <= m.last {
		ms = m.last + 1
	}
	m.started, m.last = true, ms
	if _, err := m.w.Write(key, m.last, frame); err != nil {
		return fmt.Errorf("record: webm block: %w", err)
	}
	if m.durOff > 0 && ms-m.durAt >= durationEvery {
		// Timecodes count from the first frame, which is at 0 or later.
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], math.Float64bits(float64(ms)))
		_, _ = m.sf.WriteAt(b[:], m.durOff)
		m.durAt = ms
	}
	return m.Err()
}

// close finalises the file (last cluster, cues, duration) and closes it.
func (m *muxer) close() error {
	if err := m.w.Close(); err != nil {
		return fmt.Errorf("record: webm close: %w", err)
	}
	return m.Err()
}

// Err is the first error of the file or of ebml-go.
func (m *muxer) Err() error {
	if err := m.sf.Err(); err != nil {
		return err
	}
	if p := m.fatal.Load(); p != nil {
		return *p
	}
	return nil
}

// WebM track types.
const (
	trackTypeVideo = 1
	trackTypeAudio = 2
)

// vp8Entry describes a VP8 track of the first keyframe's size.
func vp8Entry(width, height int) webm.TrackEntry {
	return webm.TrackEntry{
		Name:      "video",
		CodecID:   "V_VP8",
		TrackType: trackTypeVideo,
		Video:     &webm.Video{PixelWidth: uint64(width), PixelHeight: uint64(height)},
	}
}

// opusSeekPreRoll is the 80 ms of audio a decoder needs before a seek point.
const opusSeekPreRoll = 80 * time.Millisecond

// opusEntry describes an Opus track; its CodecPrivate is the OpusHead.
func opusEntry(channels int) webm.TrackEntry {
	return webm.TrackEntry{
		Name:         "audio",
		CodecID:      "A_OPUS",
		TrackType:    trackTypeAudio,
		CodecPrivate: opusHead(channels),
		SeekPreRoll:  uint64(opusSeekPreRoll),
		Audio:        &webm.Audio{SamplingFrequency: 48000, Channels: uint64(channels)},
	}
}

// opusHead is the identification header (RFC 7845 section 5.1) for an RTP
// Opus stream: no pre-skip (RTP carries none), 48 kHz, mapping family 0.
func opusHead(channels int) []byte {
	h := make([]byte, 19)
	copy(h, "OpusHead")
	h[8] = 1 // version
	h[9] = byte(channels)
	binary.LittleEndian.PutUint16(h[10:], 0)     // pre-skip
	binary.LittleEndian.PutUint32(h[12:], 48000) // input sample rate
	binary.LittleEndian.PutUint16(h[16:], 0)     // output gain
	h[18] = 0                                    // mapping family: mono or stereo
	return h
}
