package node

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchyard/switchyard/internal/ratelog"
	"github.com/switchyard/switchyard/media"
	"github.com/switchyard/switchyard/media/rtxguard"
)

// metrics are the node's Prometheus series, on a registry of its own so that
// several nodes can run in one process (tests, the demo).
type metrics struct {
	reg          *prometheus.Registry
	participants prometheus.Gauge
	conferences  prometheus.Gauge
	badMessages  prometheus.Counter
	timeouts     *prometheus.CounterVec // by stage: join, offer
	refused      *prometheus.CounterVec // connections and joins refused by reason
	forgedDTLS   prometheus.Counter
	recordings   prometheus.Counter
	forwardDelay prometheus.Histogram

	// Packet totals are true counters: the tracks that ended are summed
	// into retired as they leave live, under one lock, so that a total
	// never falls when someone leaves (rates taken over a window stay right).
	countMu  sync.Mutex
	liveUps  map[*media.UpTrack]struct{}
	liveDown map[*media.DownTrack]struct{}
	retired  packetTotals
}

// packetTotals are the node's media packet counters.
type packetTotals struct {
	in, out, nacks, rtx  uint64
	redRecovered, redBad uint64
	refused              [rtxguard.NumReasons]uint64
}

func (t *packetTotals) addUp(u *media.UpTrack) {
	for _, l := range u.Layers() {
		t.in += l.Received
	}
	t.redBad += u.BadRED.Load()
}

func (t *packetTotals) addDown(d *media.DownTrack) {
	t.out += d.Packets.Load()
	t.nacks += d.NACKed.Load()
	t.rtx += d.Retransmits.Load()
	t.redRecovered += d.Recovered.Load()
	for r := range t.refused {
		t.refused[r] += d.RetransmitsRefused[r].Load()
	}
}

func newMetrics() *metrics {
	m := &metrics{
		reg:      prometheus.NewRegistry(),
		liveUps:  map[*media.UpTrack]struct{}{},
		liveDown: map[*media.DownTrack]struct{}{},
		participants: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchyard_participants", Help: "Participants on this node."}),
		conferences: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchyard_conferences", Help: "Conferences on this node."}),
		badMessages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchyard_signaling_bad_messages_total", Help: "Signaling messages refused (malformed, oversized, rate limited, out of protocol)."}),
		timeouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_signaling_timeouts_total", Help: "Clients dropped for not joining (stage join) or not sending their offer (stage offer) in time."},
			[]string{"stage"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_refused_total", Help: "Connections and joins refused by a per-address limit."},
			[]string{"reason"}),
		recordings: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchyard_recordings_started_total", Help: "Server recordings started."}),
		forgedDTLS: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchyard_media_forged_dtls_total", Help: "Datagrams on the media port dropped as forged DTLS (epoch 0 records no peer sends)."}),
		forwardDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchyard_forward_delay_seconds",
			Help:    "Time from reading a media packet to having written it to every subscriber.",
			Buckets: []float64{5e-6, 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3},
		}),
	}
	m.reg.MustRegister(m.participants, m.conferences, m.badMessages, m.timeouts, m.refused, m.forgedDTLS, m.recordings, m.forwardDelay,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observeForward(d time.Duration) { m.forwardDelay.Observe(d.Seconds()) }

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// packetCounters reports the node's packet totals, summed over its rooms once
// per scrape.
type packetCounters struct {
	n                       *Node
	in, out, nacks, retrans *prometheus.Desc
	refused, logSuppressed  *prometheus.Desc
	redRecovered, redBad    *prometheus.Desc
}

func (n *Node) registerCounters() {
	n.metrics.reg.MustRegister(&packetCounters{
		n:       n,
		in:      prometheus.NewDesc("switchyard_packets_received_total", "Media packets received from publishers (live tracks).", nil, nil),
		out:     prometheus.NewDesc("switchyard_packets_sent_total", "Media packets forwarded to subscribers (live tracks).", nil, nil),
		nacks:   prometheus.NewDesc("switchyard_nacks_received_total", "Sequence numbers receivers asked to be resent (live tracks).", nil, nil),
		retrans: prometheus.NewDesc("switchyard_retransmits_total", "Packets resent from the cache (live tracks).", nil, nil),
		refused: prometheus.NewDesc("switchyard_retransmits_refused_total",
			"NACKed packets not resent, by reason: over the receiver's budget, repeated within a round trip, too old, never sent, no longer cached.",
			[]string{"reason"}, nil),
		redRecovered: prometheus.NewDesc("switchyard_red_recovered_total",
			"Audio packets lost before the node and rebuilt from RED redundancy for receivers without RED.", nil, nil),
		redBad: prometheus.NewDesc("switchyard_red_refused_total",
			"RED payloads refused as malformed (overruns, nesting, foreign payload types).", nil, nil),
		logSuppressed: prometheus.NewDesc("switchyard_log_suppressed_total",
			"Log lines driven by network input (pion, memberlist, forged packets) dropped by rate limiting, process-wide.", nil, nil),
	})
}

func (c *packetCounters) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.in
	ch <- c.out
	ch <- c.nacks
	ch <- c.retrans
	ch <- c.refused
	ch <- c.logSuppressed
	ch <- c.redRecovered
	ch <- c.redBad
}

func (c *packetCounters) Collect(ch chan<- prometheus.Metric) {
	t := c.n.metrics.allTotals()
	for _, m := range []struct {
		d *prometheus.Desc
		v uint64
	}{{c.in, t.in}, {c.out, t.out}, {c.nacks, t.nacks}, {c.retrans, t.rtx}, {c.logSuppressed, ratelog.Suppressed()},
		{c.redRecovered, t.redRecovered}, {c.redBad, t.redBad}} {
		ch <- prometheus.MustNewConstMetric(m.d, prometheus.CounterValue, float64(m.v))
	}
	for r := rtxguard.Unknown; r < rtxguard.NumReasons; r++ {
		ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(t.refused[r]), r.String())
	}
}

// countUp and countDown add a new track to the totals.
func (m *metrics) countUp(u *media.UpTrack) {
	m.countMu.Lock()
	m.liveUps[u] = struct{}{}
	m.countMu.Unlock()
}

func (m *metrics) countDown(d *media.DownTrack) {
	m.countMu.Lock()
	m.liveDown[d] = struct{}{}
	m.countMu.Unlock()
}

// retireUp and retireDown keep an ended track's counts in the totals.
// Retiring twice is harmless.
func (m *metrics) retireUp(u *media.UpTrack) {
	m.countMu.Lock()
	defer m.countMu.Unlock()
	if _, ok := m.liveUps[u]; ok {
		delete(m.liveUps, u)
		m.retired.addUp(u)
	}
}

func (m *metrics) retireDown(d *media.DownTrack) {
	m.countMu.Lock()
	defer m.countMu.Unlock()
	if _, ok := m.liveDown[d]; ok {
		delete(m.liveDown, d)
		m.retired.addDown(d)
	}
}

// totals are the packet counters since the node started.
func (m *metrics) totals() (in, out, nacks, rtx uint64) {
	t := m.allTotals()
	return t.in, t.out, t.nacks, t.rtx
}

func (m *metrics) allTotals() packetTotals {
	m.countMu.Lock()
	defer m.countMu.Unlock()
	t := m.retired
	for u := range m.liveUps {
		t.addUp(u)
	}
	for d := range m.liveDown {
		t.addDown(d)
	}
	return t
}
