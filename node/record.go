package node

// A conference's server recording. Every published track the node can read
// goes to a WebM file of its own through media/record, which is a sink on
// the UpTrack like a subscriber's DownTrack: nothing is decoded. While a
// conference is recorded the node asks for the top simulcast layer of every
// video and for every audio, from a peer node too (wants), even if no
// receiver wants them. Encrypted participants are left out, with why.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/switchyard/switchyard/media"
	"github.com/switchyard/switchyard/media/record"
	"github.com/switchyard/switchyard/node/signal"
	"github.com/switchyard/switchyard/node/snapshot"
)

var (
	errNotRecording = errors.New("the conference is not being recorded")
	errRecording    = errors.New("the conference is being recorded already")
)

// reasonEncrypted is why an encrypted participant's tracks are not recorded.
const reasonEncrypted = "end-to-end encrypted: the node cannot read its media"

// confRecording is a recording under way; guarded by Conference.recMu.
type confRecording struct {
	files   *record.Recording
	since   time.Time
	by      string
	tracks  map[*media.UpTrack]*record.Track
	refused map[string]snapshot.RefusedTrack // by participant id
}

// startRecording starts recording the conference; by says who asked
// ("api", "console", or a moderator's name).
func (c *Conference) startRecording(by string) error {
	c.recMu.Lock()
	if c.rec != nil {
		c.recMu.Unlock()
		return errRecording
	}
	files, err := record.NewRecording(c.node.cfg.RecordingDir, c.name, time.Now())
	if err != nil {
		c.recErr = err.Error()
		c.recMu.Unlock()
		c.node.log.Error("recording could not start", "conference", c.name, "err", err)
		return fmt.Errorf("start recording: %w", err)
	}
	c.rec = &confRecording{files: files, since: time.Now(), by: by,
		tracks: map[*media.UpTrack]*record.Track{}, refused: map[string]snapshot.RefusedTrack{}}
	c.recErr = ""
	c.recMu.Unlock()
	c.node.metrics.recordings.Inc()
	for _, m := range c.all() {
		for _, up := range m.upTracks() {
			c.recordTrack(m, up)
		}
	}
	c.node.log.Info("recording started", "conference", c.name, "by", by, "dir", files.Dir())
	c.noticeRecording("")
	return nil
}

// recordTrack adds a published track to the recording under way, if any.
func (c *Conference) recordTrack(m member, up *media.UpTrack) {
	info := m.info()
	c.recMu.Lock()
	defer c.recMu.Unlock()
	r := c.rec
	if r == nil || r.tracks[up] != nil {
		return
	}
	if info.E2EE {
		if _, ok := r.refused[info.ID]; !ok {
			r.refused[info.ID] = snapshot.RefusedTrack{Participant: info.ID, Name: info.Name, Reason: reasonEncrypted}
			c.node.log.Info("recording leaves a participant out", "conference", c.name, "participant", info.ID, "reason", reasonEncrypted)
		}
		return
	}
	t, err := r.files.AddTrack(record.TrackInfo{
		Participant: info.ID, Name: info.Name, Source: up.Source(), Codec: up.Codec(),
		RequestKeyframe: up.RequestKeyframe,
		OnError:         func(err error) { go c.recordingFailed(err) },
	})
	if err != nil {
		r.refused[info.ID] = snapshot.RefusedTrack{Participant: info.ID, Name: info.Name, Reason: err.Error()}
		c.node.log.Warn("recording leaves a track out", "conference", c.name, "participant", info.ID,
			"source", up.Source().String(), "err", err)
		return
	}
	r.tracks[up] = t
	up.AddSink(t)
	if up.Kind() == media.KindVideo {
		up.RequestKeyframe(topLayer(up))
	}
}

// unrecordTrack ends a track's file when its publisher stops sending it.
func (c *Conference) unrecordTrack(up *media.UpTrack) {
	c.recMu.Lock()
	var t *record.Track
	if c.rec != nil {
		t = c.rec.tracks[up]
		delete(c.rec.tracks, up)
	}
	c.recMu.Unlock()
	if t != nil {
		up.RemoveSink(t)
		if err := t.Close(); err != nil {
			c.node.log.Warn("recorded track ended with an error", "conference", c.name, "publisher", up.Publisher(), "err", err)
		}
	}
}

// stopRecording ends the recording: every file is finalised and the
// manifest written. failed, when not nil, is the error that stopped it.
func (c *Conference) stopRecording(why string, failed error) error {
	c.recMu.Lock()
	r := c.rec
	c.rec = nil
	if failed != nil {
		c.recErr = failed.Error()
	}
	c.recMu.Unlock()
	if r == nil {
		return errNotRecording
	}
	for up, t := range r.tracks {
		up.RemoveSink(t)
	}
	err := r.files.Close()
	switch {
	case failed != nil:
		c.node.log.Error("recording stopped on an error", "conference", c.name, "dir", r.files.Dir(), "err", failed)
	case err != nil:
		c.node.log.Error("recording stopped; some files did not close cleanly", "conference", c.name, "dir", r.files.Dir(), "err", err)
	default:
		c.node.log.Info("recording stopped", "conference", c.name, "why", why, "dir", r.files.Dir(),
			"files", len(r.tracks), "after", time.Since(r.since).Round(time.Second))
	}
	reason := ""
	if failed != nil {
		reason = "the recording stopped: " + failed.Error()
	}
	c.noticeRecording(reason)
	return err
}

// recordedAnywhere reports whether this node or, in a cascade, another node
// hosting the conference records it: what its participants are told.
func (c *Conference) recordedAnywhere() bool {
	return c.recording() || (c.node.peers != nil && c.node.peers.RecordedElsewhere(c.name))
}

// noticeRecording tells the local participants when whether the conference
// is recorded (here or on another node) has changed since they were last
// told; reason says why a recording stopped on an error. The node's ticker
// calls it too, for recordings on other nodes.
func (c *Conference) noticeRecording(reason string) {
	on := c.recordedAnywhere()
	c.recMu.Lock()
	changed := on != c.recTold
	c.recTold = on
	c.recMu.Unlock()
	if changed || reason != "" {
		c.broadcast(nil, signal.Message{Type: signal.TypeServerRecording, On: on, Reason: reason})
	}
}

// toldRecording reports what the participants were last told.
func (c *Conference) toldRecording() bool {
	c.recMu.Lock()
	defer c.recMu.Unlock()
	return c.recTold
}

// recordingFailed stops a recording a track could not write (disk full,
// directory gone); the meeting goes on.
func (c *Conference) recordingFailed(err error) {
	_ = c.stopRecording("write error", err)
}

// recording reports whether the conference is being recorded.
func (c *Conference) recording() bool {
	c.recMu.Lock()
	defer c.recMu.Unlock()
	return c.rec != nil
}

// recordingSnapshot describes the recording under way (nil if none) and
// why the last one failed.
func (c *Conference) recordingSnapshot() (*snapshot.Recording, string) {
	c.recMu.Lock()
	defer c.recMu.Unlock()
	r := c.rec
	if r == nil {
		return nil, c.recErr
	}
	s := &snapshot.Recording{Dir: r.files.Dir(), Since: r.since, By: r.by, Files: len(r.tracks)}
	for _, t := range r.tracks {
		s.Bytes += t.Stats().Bytes
	}
	for _, rt := range r.refused {
		s.Refused = append(s.Refused, rt)
	}
	return s, c.recErr
}

// recordingWants adds what the recording needs from other nodes: the top
// layer of each recorded remote video, and each recorded remote audio.
func (c *Conference) recordingWants(need map[*media.UpTrack]media.LayerSet) {
	c.recMu.Lock()
	defer c.recMu.Unlock()
	if c.rec == nil {
		return
	}
	for up := range c.rec.tracks {
		if up.Remote() {
			need[up] = need[up].With(topLayer(up))
		}
	}
}

// topLayer is the highest simulcast layer a publisher sends (0 for audio
// and for video without simulcast).
func topLayer(up *media.UpTrack) int {
	top, any := 0, false
	for _, l := range up.Layers() {
		if l.Active && (!any || l.Index > top) {
			top, any = l.Index, true
		}
	}
	if !any {
		for _, l := range up.Layers() {
			top = max(top, l.Index)
		}
	}
	return top
}

// StartRecording starts the server recording of a conference on this node.
func (n *Node) StartRecording(room, by string) error {
	c, ok := n.conference(room)
	if !ok {
		return fmt.Errorf("no conference %q on this node", room)
	}
	return c.startRecording(by)
}

// StopRecording stops it.
func (n *Node) StopRecording(room string) error {
	c, ok := n.conference(room)
	if !ok {
		return fmt.Errorf("no conference %q on this node", room)
	}
	return c.stopRecording("stopped", nil)
}

// serveStartRecording is POST /api/v1/conferences/{room}/recording: 201
// with the recording, 404 without such a conference on this node, 409 when
// it is recorded already, 500 when the directory cannot be made.
func (n *Node) serveStartRecording(w http.ResponseWriter, r *http.Request) {
	c, ok := n.conference(r.PathValue("room"))
	if !ok {
		http.Error(w, "no such conference on this node", http.StatusNotFound)
		return
	}
	switch err := c.startRecording("api"); {
	case errors.Is(err, errRecording):
		http.Error(w, err.Error(), http.StatusConflict)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	rec, _ := c.recordingSnapshot()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(rec)
}

// serveStopRecording is DELETE /api/v1/conferences/{room}/recording: 204
// once every file is closed, 404 when nothing is recorded.
func (n *Node) serveStopRecording(w http.ResponseWriter, r *http.Request) {
	c, ok := n.conference(r.PathValue("room"))
	if !ok {
		http.Error(w, "no such conference on this node", http.StatusNotFound)
		return
	}
	switch err := c.stopRecording("stopped through the API", nil); {
	case errors.Is(err, errNotRecording):
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	case err != nil:
		http.Error(w, "recording stopped, but: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// serverRecording is a moderator's start or stop from the web client.
func (p *Participant) serverRecording(on bool) error {
	if !p.grants.Moderator {
		return &errJoin{signal.CodeForbidden, "only a moderator may start or stop the recording"}
	}
	var err error
	if on {
		err = p.conf.startRecording(p.name)
	} else {
		err = p.conf.stopRecording("stopped by "+p.name, nil)
	}
	if err != nil && !errors.Is(err, errRecording) && !errors.Is(err, errNotRecording) {
		return &errJoin{signal.CodeRecording, err.Error()}
	}
	return nil
}
