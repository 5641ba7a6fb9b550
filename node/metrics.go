package node

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the node's Prometheus series, on a registry of its own so that
// several nodes can run in one process (tests, the demo).
type metrics struct {
	reg          *prometheus.Registry
	participants prometheus.Gauge
	conferences  prometheus.Gauge
	badMessages  prometheus.Counter
	forwardDelay prometheus.Histogram
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		participants: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchyard_participants", Help: "Participants on this node."}),
		conferences: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchyard_conferences", Help: "Conferences on this node."}),
		badMessages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchyard_signaling_bad_messages_total", Help: "Signaling messages refused (malformed, oversized, rate limited, out of protocol)."}),
		forwardDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchyard_forward_delay_seconds",
			Help:    "Time from reading a media packet to having written it to every subscriber.",
			Buckets: []float64{5e-6, 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3},
		}),
	}
	m.reg.MustRegister(m.participants, m.conferences, m.badMessages, m.forwardDelay,
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
}

func (n *Node) registerCounters() {
	n.metrics.reg.MustRegister(&packetCounters{
		n:       n,
		in:      prometheus.NewDesc("switchyard_packets_received_total", "Media packets received from publishers (live tracks).", nil, nil),
		out:     prometheus.NewDesc("switchyard_packets_sent_total", "Media packets forwarded to subscribers (live tracks).", nil, nil),
		nacks:   prometheus.NewDesc("switchyard_nacks_received_total", "Sequence numbers receivers asked to be resent (live tracks).", nil, nil),
		retrans: prometheus.NewDesc("switchyard_retransmits_total", "Packets resent from the cache (live tracks).", nil, nil),
	})
}

func (c *packetCounters) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.in
	ch <- c.out
	ch <- c.nacks
	ch <- c.retrans
}

func (c *packetCounters) Collect(ch chan<- prometheus.Metric) {
	in, out, nacks, rtx := c.n.metrics.totals(c.n.roomList())
	for _, m := range []struct {
		d *prometheus.Desc
		v uint64
	}{{c.in, in}, {c.out, out}, {c.nacks, nacks}, {c.retrans, rtx}} {
		ch <- prometheus.MustNewConstMetric(m.d, prometheus.CounterValue, float64(m.v))
	}
}

// totals sums packet counters over the live tracks of rooms.
func (m *metrics) totals(rooms []*Room) (in, out, nacks, rtx uint64) {
	for _, r := range rooms {
		for _, p := range r.members() {
			for _, u := range p.upTracks() {
				for _, l := range u.Layers() {
					in += l.Received
				}
			}
			p.mu.Lock()
			for _, s := range p.downs {
				out += s.down.Packets.Load()
				nacks += s.down.NACKed.Load()
				rtx += s.down.Retransmits.Load()
			}
			p.mu.Unlock()
		}
	}
	return in, out, nacks, rtx
}
