package browsertest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Report is one summary POSTed by the web client's test hook (see
// node/web/static/report.js); fields the page leaves out stay zero.
type Report struct {
	Browser          string            `json:"browser"`
	UserAgent        string            `json:"userAgent"`
	ID               string            `json:"id"`
	Room             string            `json:"room"`
	Time             float64           `json:"time"`      // ms since the epoch
	SinceLoad        float64           `json:"sinceLoad"` // ms since the page's navigation started
	Signaling        string            `json:"signaling"`
	Connection       string            `json:"connection"`
	ICE              string            `json:"ice"`
	Dominant         string            `json:"dominant"`
	Remotes          map[string]Remote `json:"remotes"`
	Outbound         []Outbound        `json:"outbound"`
	RemoteInbound    []RemoteInbound   `json:"remoteInbound"`
	CandidatePairRTT *float64          `json:"candidatePairRtt"`
	SelectedPair     *CandidatePair    `json:"selectedPair"`
	Constraints      map[string]int    `json:"constraints"`
	Errors           []string          `json:"errors"`
	Call             *Call             `json:"call"`
	// Timeline is when the page first reached each step of joining, ms
	// since its navigation started: joinSent, joined, offerSent (its
	// offer), answer (the node's), nodeOffer (the node's offer of the
	// others' tracks), connected (the PeerConnection).
	Timeline map[string]float64 `json:"timeline"`
}

// Call is the page's own call state (node/web/static/testhooks.js callState).
type Call struct {
	Local        *ParticipantFlags           `json:"local"`
	View         string                      `json:"view"` // speaker or grid
	Main         string                      `json:"main"` // the large tile's key in the speaker view
	CanShare     bool                        `json:"canShare"`
	Participants map[string]ParticipantFlags `json:"participants"` // what the page knows of the others, by id
	// Tiles is what the page shows, by tile key (a participant id, or
	// "<id>/screen" for a share).
	Tiles         map[string]Tile `json:"tiles"`
	Recordings    int             `json:"recordings"` // local recordings finished
	LastRecording *struct {
		Size int    `json:"size"`
		Type string `json:"type"`
	} `json:"lastRecording"`
	// E2EE is end-to-end encryption as the page runs it.
	E2EE E2EE `json:"e2ee"`
	// ServerRecording: the page shows that the node records the conference
	// (node/web/static/serverrec.js), not a participant's local recording.
	ServerRecording bool `json:"serverRecording"`
	// ServerRecordingReason is why the last server recording stopped, when
	// it stopped on an error.
	ServerRecordingReason string `json:"serverRecordingReason"`
	// ServerRecordingBanner is the banner's text while it shows ("● Recording
	// — ...", or why the recording stopped, for a while), else empty.
	ServerRecordingBanner string `json:"serverRecordingBanner"`
	// ServerRecordingControl: the page shows a moderator's start/stop button.
	ServerRecordingControl bool `json:"serverRecordingControl"`
	// ServerRecordingPending is "start" or "stop" while the page waits for
	// the node to answer its moderator's request.
	ServerRecordingPending string `json:"serverRecordingPending"`
	// ServerRecordingError is the node's refusal of the last request.
	ServerRecordingError string `json:"serverRecordingError"`
}

// E2EE is a page's end-to-end encryption (testhooks.js e2eeState); all but
// On stay zero when the call is not encrypted.
type E2EE struct {
	On    bool   `json:"on"`
	API   string `json:"api"`   // how frames reach the worker: script or streams
	Badge bool   `json:"badge"` // the header's "End-to-end encrypted" badge shows
	// Codecs is the first negotiated codec of each sending source (mic,
	// camera, screen): audio/opus without RED and video/VP8 when encrypted.
	Codecs    map[string]string `json:"codecs"`
	Encrypted int64             `json:"encrypted"` // frames encrypted and sent
	Decrypted int64             `json:"decrypted"` // frames received and decrypted
	Dropped   int64             `json:"dropped"`   // frames dropped, sending or receiving
	// Reasons counts the dropped frames by direction and reason
	// ("recv bad tag", ...).
	Reasons map[string]int64 `json:"reasons"`
}

// ParticipantFlags are the switches a participant shows the others.
type ParticipantFlags struct {
	MicOff    bool `json:"mic_off"`
	CameraOff bool `json:"camera_off"`
	Sharing   bool `json:"sharing"`
	Recording bool `json:"recording"` // records the meeting locally
	E2EE      bool `json:"e2ee"`      // encrypts end to end (others only; Call.E2EE is the page's own)
}

// Tile is one tile as the page draws it.
type Tile struct {
	NoVideo   bool `json:"noVideo"`   // the avatar shows instead of video
	MicOff    bool `json:"micOff"`    // the muted-microphone mark shows
	Recording bool `json:"recording"` // the REC mark shows
	Locked    bool `json:"locked"`    // the end-to-end encryption lock shows
	// CannotDecrypt is the tile's encryption notice ("cannot decrypt NAME",
	// or "NAME is end-to-end encrypted" on a page without the passphrase);
	// empty when none shows.
	CannotDecrypt string `json:"cannotDecrypt"`
	Role          string `json:"role"`  // main, pip, strip, grid or hidden
	Width         int    `json:"width"` // CSS pixels
	Height        int    `json:"height"`
}

// Remote is what a page receives from one other participant.
type Remote struct {
	E2ERTT *float64    `json:"e2eRtt"` // ms, ping/pong through the node
	Video  *VideoStats `json:"video"`
	Audio  *AudioStats `json:"audio"`
	Screen *VideoStats `json:"screen"` // the participant's shared screen
}

// VideoStats is the inbound-rtp video of one remote participant.
type VideoStats struct {
	FramesDecoded   int64   `json:"framesDecoded"`
	FrameWidth      int     `json:"frameWidth"`
	FrameHeight     int     `json:"frameHeight"`
	PacketsLost     int64   `json:"packetsLost"`
	PacketsReceived int64   `json:"packetsReceived"`
	BytesReceived   int64   `json:"bytesReceived"`
	FramesPerSecond float64 `json:"framesPerSecond"`
	// FirstFrameMs and FirstPacketMs are when the page first saw a frame
	// decoded and a packet received, in ms since its navigation started
	// (polled every 100 ms, or as often as the page's ?framepoll=MS says).
	FirstFrameMs  *float64 `json:"firstFrameMs"`
	FirstPacketMs *float64 `json:"firstPacketMs"`
}

// CandidatePair is the ICE candidate pair a page's connection uses.
type CandidatePair struct {
	State  string     `json:"state"`
	Local  *Candidate `json:"local"`
	Remote *Candidate `json:"remote"`
}

// Candidate is one side of a candidate pair, from its getStats() entry.
type Candidate struct {
	CandidateType string `json:"candidateType"` // host, srflx, prflx or relay
	Protocol      string `json:"protocol"`      // udp or tcp
	RelayProtocol string `json:"relayProtocol"` // for a relay: udp, tcp or tls to the TURN server
	Address       string `json:"address"`
	Port          int    `json:"port"`
}

// AudioStats is the inbound-rtp audio of one remote participant.
type AudioStats struct {
	TotalSamplesReceived int64   `json:"totalSamplesReceived"`
	TotalAudioEnergy     float64 `json:"totalAudioEnergy"`
	ConcealedSamples     int64   `json:"concealedSamples"`
	PacketsLost          int64   `json:"packetsLost"`
	PacketsReceived      int64   `json:"packetsReceived"`
}

// Outbound is one outbound-rtp stream (a simulcast layer for video).
type Outbound struct {
	Kind                    string  `json:"kind"`
	RID                     string  `json:"rid"`
	BytesSent               int64   `json:"bytesSent"`
	FramesEncoded           *int64  `json:"framesEncoded"`
	FrameHeight             *int    `json:"frameHeight"`
	QualityLimitationReason *string `json:"qualityLimitationReason"`
}

// RemoteInbound is the node's view of one stream the page sends, from its
// receiver reports.
type RemoteInbound struct {
	Kind          string   `json:"kind"`
	RoundTripTime *float64 `json:"roundTripTime"`
}

// maxReportSize bounds a POSTed summary; a page with many peers stays far below.
const maxReportSize = 1 << 20

// maxRecordingSize bounds a POSTed recording: a minute at the web client's
// 2.5 Mbit/s stays below it.
const maxRecordingSize = 64 << 20

// Reporter is an HTTP server on 127.0.0.1 that collects the summaries pages
// POST to it. Each page gets its own URL (by tag) so reports are told apart
// before the page knows its participant id.
type Reporter struct {
	srv *httptest.Server

	mu     sync.Mutex
	latest map[string]Report          // by tag; guarded by mu
	raw    map[string]json.RawMessage // by tag; guarded by mu
	count  map[string]int             // by tag; guarded by mu
	bad    []string                   // undecodable posts; guarded by mu
	// recordings holds the last recording each page POSTed to
	// /report/<tag>/recording; guarded by mu.
	recordings map[string][]byte
}

// NewReporter starts a Reporter that is closed when the test ends.
func NewReporter(t testing.TB) *Reporter {
	t.Helper()
	r := &Reporter{
		latest: make(map[string]Report),
		raw:    make(map[string]json.RawMessage),
		count:  make(map[string]int),

		recordings: make(map[string][]byte),
	}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// URL is where the page tagged tag should POST its reports.
func (r *Reporter) URL(tag string) string {
	return r.srv.URL + "/report/" + tag
}

func (r *Reporter) serve(w http.ResponseWriter, req *http.Request) {
	tag, ok := strings.CutPrefix(req.URL.Path, "/report/")
	if req.Method != http.MethodPost || !ok || tag == "" {
		http.NotFound(w, req)
		return
	}
	if tag, ok := strings.CutSuffix(tag, "/recording"); ok && tag != "" && !strings.Contains(tag, "/") {
		r.serveRecording(w, req, tag)
		return
	}
	if strings.Contains(tag, "/") {
		http.NotFound(w, req)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxReportSize))
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	var rep Report
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := json.Unmarshal(body, &rep); err != nil {
		r.bad = append(r.bad, fmt.Sprintf("%s: %v", tag, err))
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.latest[tag] = rep
	r.raw[tag] = body
	r.count[tag]++
	w.WriteHeader(http.StatusNoContent)
}

// serveRecording keeps the recording a page POSTs (test hooks: the web
// client's local recording, as soon as it stops).
func (r *Reporter) serveRecording(w http.ResponseWriter, req *http.Request, tag string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxRecordingSize))
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	r.mu.Lock()
	r.recordings[tag] = body
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// Recording returns the last recording the page tagged tag POSTed, or nil.
func (r *Reporter) Recording(tag string) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recordings[tag]
}

// Latest returns the most recent report of every tag that has reported.
func (r *Reporter) Latest() map[string]Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.latest)
}

// Dump renders the latest raw reports for a failure message.
func (r *Reporter) Dump() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, tag := range slices.Sorted(maps.Keys(r.raw)) {
		fmt.Fprintf(&b, "--- %s (%d reports):\n%s\n", tag, r.count[tag], r.raw[tag])
	}
	if len(r.raw) == 0 {
		b.WriteString("(no reports received)\n")
	}
	for _, s := range r.bad {
		fmt.Fprintf(&b, "undecodable report: %s\n", s)
	}
	return b.String()
}

// ErrPending is what a condition returns while it is not yet met but may be.
var ErrPending = errors.New("not yet")

// WaitFor polls the latest reports until cond returns nil, and fails the test
// with cond's last complaint and every page's latest report when timeout
// passes first or one of the watched browsers exits.
func (r *Reporter) WaitFor(t testing.TB, timeout time.Duration, what string, cond func(map[string]Report) error, watch ...*Browser) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if last = cond(r.Latest()); last == nil {
			return
		}
		for _, b := range watch {
			if gone, err := b.Exited(); gone {
				t.Fatalf("waiting for %s: %s exited early (%v); last reports:\n%s", what, b.Name, err, r.Dump())
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not reached within %v: %v; last reports:\n%s", what, timeout, last, r.Dump())
		}
		time.Sleep(250 * time.Millisecond)
	}
}
