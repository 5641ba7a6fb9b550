package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/node/snapshot"
)

// Series the node exports on /metrics (node/metrics.go).
const (
	metricPacketsOut   = "switchyard_packets_sent_total"
	metricPacketsIn    = "switchyard_packets_received_total"
	metricForwardDelay = "switchyard_forward_delay_seconds"
)

// scrape is one reading of a node's /metrics: plain samples by name, and
// the forwarding-delay histogram's cumulative buckets.
type scrape struct {
	values  map[string]float64
	buckets []bucket // ascending upper bounds, +Inf last
}

type bucket struct {
	le    float64
	count float64 // cumulative
}

// parseMetrics reads the Prometheus text format, keeping unlabelled samples
// and the buckets of histogram. Lines it does not understand are skipped:
// the format may grow series this package does not know.
func parseMetrics(r io.Reader, histogram string) (scrape, error) {
	s := scrape{values: map[string]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	bucketName := histogram + "_bucket{"
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		name, val := line[:sp], line[sp+1:]
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		if strings.HasPrefix(name, bucketName) && strings.HasSuffix(name, "}") {
			le, ok := label(name[len(bucketName):len(name)-1], "le")
			if !ok {
				continue
			}
			bound, err := strconv.ParseFloat(le, 64)
			if err != nil {
				continue
			}
			s.buckets = append(s.buckets, bucket{le: bound, count: v})
			continue
		}
		if !strings.ContainsAny(name, "{} ") {
			s.values[name] = v
		}
	}
	if err := sc.Err(); err != nil {
		return s, fmt.Errorf("bench: read metrics: %w", err)
	}
	sort.Slice(s.buckets, func(i, j int) bool { return s.buckets[i].le < s.buckets[j].le })
	return s, nil
}

// label finds key="value" in a label list.
func label(labels, key string) (string, bool) {
	for _, kv := range strings.Split(labels, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if ok && k == key && len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			return v[1 : len(v)-1], true
		}
	}
	return "", false
}

// bucketDelta subtracts an earlier histogram from a later one, so that a
// quantile describes the measurement window only.
func bucketDelta(before, after []bucket) []bucket {
	prev := map[float64]float64{}
	for _, b := range before {
		prev[b.le] = b.count
	}
	out := make([]bucket, len(after))
	for i, b := range after {
		out[i] = bucket{le: b.le, count: math.Max(b.count-prev[b.le], 0)}
	}
	return out
}

// quantile estimates the q-quantile of cumulative buckets by linear
// interpolation inside the bucket holding it, as Prometheus's
// histogram_quantile does. It returns NaN for an empty histogram, and the
// highest finite bound when the quantile falls in the +Inf bucket.
func quantile(q float64, bs []bucket) float64 {
	if len(bs) == 0 || q < 0 || q > 1 || math.IsNaN(q) {
		return math.NaN()
	}
	total := bs[len(bs)-1].count
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for _, b := range bs {
		if b.count >= rank {
			if math.IsInf(b.le, 1) {
				return lower
			}
			in := b.count - below
			if in <= 0 {
				return b.le
			}
			return lower + (b.le-lower)*(rank-below)/in
		}
		lower, below = b.le, b.count
	}
	return lower
}

// nodeAPI is the slice of /api/v1/node (the snapshot's node part) the bench
// reads; in a cascade, the relay links are its peers.
type nodeAPI struct {
	ID           string            `json:"id"`
	Participants int               `json:"participants"`
	BitrateOut   int64             `json:"bitrate_out"`
	BitrateIn    int64             `json:"bitrate_in"`
	PacketsOut   uint64            `json:"packets_out"`
	PacketsIn    uint64            `json:"packets_in"`
	Peers        []snapshot.Peer   `json:"peers"`
	Cascade      *snapshot.Cascade `json:"cascade"`
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

func getNode(ctx context.Context, base string) (nodeAPI, error) {
	var n nodeAPI
	body, err := get(ctx, base+"/api/v1/node")
	if err != nil {
		return n, err
	}
	defer body.Close()
	if err := json.NewDecoder(body).Decode(&n); err != nil {
		return n, fmt.Errorf("bench: decode %s/api/v1/node: %w", base, err)
	}
	return n, nil
}

func getMetrics(ctx context.Context, base string) (scrape, error) {
	body, err := get(ctx, base+"/metrics")
	if err != nil {
		return scrape{}, err
	}
	defer body.Close()
	s, err := parseMetrics(body, metricForwardDelay)
	if err != nil {
		return s, err
	}
	if _, ok := s.values[metricPacketsOut]; !ok {
		return s, errors.New("bench: node exports no " + metricPacketsOut)
	}
	return s, nil
}

func get(ctx context.Context, url string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("bench: GET %s: %s", url, resp.Status)
	}
	return resp.Body, nil
}
