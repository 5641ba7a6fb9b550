// Package bench measures what a node costs per forwarded packet, per participant and per second of delay, against a bare SRTP reflector on the same machine.
package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/switchyard/switchyard/bench/quality"
	"github.com/switchyard/switchyard/internal/wait"
	"github.com/switchyard/switchyard/loadgen"
)

// Options are the settings of one `switchyard bench` invocation.
type Options struct {
	Exe       string        // the switchyard binary to run as node, load and reflector
	Scenarios []Scenario    // run in order
	OutDir    string        // JSON per run, the table and the plot
	Warmup    time.Duration // after everyone joined, before measuring
	Window    time.Duration // the measurement
	JoinRate  float64       // joins per second
	Reflector bool          // also run the bare reflector for each scenario
	Log       io.Writer     // progress lines
}

// Main is `switchyard bench` (args without the command name). It returns 0
// when every scenario ran, 1 when one failed and 2 on bad usage.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "reflector" {
		// Hidden: the bare reflector as its own process, so that /proc
		// counts its CPU alone.
		if err := reflectorMain(os.Stdin, stdout); err != nil {
			fmt.Fprintf(stderr, "switchyard bench reflector: %v\n", err)
			return 1
		}
		return 0
	}
	if len(args) > 0 && args[0] == "quality" {
		return quality.Main(ctx, args[1:], stdout, stderr)
	}
	opts := Options{Log: stderr}
	fs := pflag.NewFlagSet("switchyard bench", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: switchyard bench [flags]\n\n"+
			"Runs a node and the load generator as separate processes for each scenario,\n"+
			"measures the node from outside (/proc) and inside (/metrics), runs a bare SRTP\n"+
			"reflector with the same traffic, and prints a markdown table.\n\n"+
			"Scenarios: %s (default set), any PxS (one room), all.\n"+
			"`switchyard bench quality --help` measures call quality on emulated networks instead.\n\n", DefaultScenarios)
		fs.PrintDefaults()
	}
	fs.StringVar(&opts.Exe, "exe", "", "switchyard binary to run (default: this executable)")
	list := fs.String("scenarios", DefaultScenarios, "comma-separated scenarios")
	fs.StringVar(&opts.OutDir, "out", "bench-results", "directory for JSON, table and plot")
	fs.DurationVar(&opts.Warmup, "warmup", 2*time.Second, "settling time after the last join")
	fs.DurationVar(&opts.Window, "window", 6*time.Second, "measurement window")
	fs.Float64Var(&opts.JoinRate, "join-rate", 20, "joins per second")
	fs.BoolVar(&opts.Reflector, "reflector", true, "also measure the bare reflector")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "switchyard bench: %v\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "switchyard bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var err error
	if opts.Scenarios, err = lookupScenarios(*list); err != nil {
		fmt.Fprintf(stderr, "switchyard bench: %v\n", err)
		return 2
	}
	if opts.Warmup < 0 || opts.Window < time.Second || !(opts.JoinRate > 0) || opts.OutDir == "" {
		fmt.Fprintf(stderr, "switchyard bench: need --warmup >= 0, --window >= 1s, --join-rate > 0 and --out\n")
		return 2
	}
	if opts.Exe == "" {
		if opts.Exe, err = os.Executable(); err != nil {
			fmt.Fprintf(stderr, "switchyard bench: find this executable: %v (use --exe)\n", err)
			return 2
		}
	}
	if st, err := os.Stat(opts.Exe); err != nil || st.IsDir() {
		fmt.Fprintf(stderr, "switchyard bench: --exe %s is not a file\n", opts.Exe)
		return 2
	}
	results, err := Run(ctx, opts)
	if len(results) > 0 {
		fmt.Fprint(stdout, Table(results))
	}
	if err != nil {
		fmt.Fprintf(stderr, "switchyard bench: %v\n", err)
		return 1
	}
	return 0
}

// Run runs the scenarios and writes their JSON, the table and the plot into
// OutDir. A failed scenario is recorded (its Error set) and the others run;
// the error then names every failure.
func Run(ctx context.Context, opts Options) ([]Result, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	work, err := os.MkdirTemp("", "switchyard-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(work)
	m := machine()
	var results []Result
	var errs []error
	for _, sc := range opts.Scenarios {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		fmt.Fprintf(opts.Log, "bench: %s: %d participants\n", sc.Name, sc.participants())
		res, err := runScenario(ctx, opts, sc, filepath.Join(work, sc.Name))
		res.Machine = m
		if err != nil {
			res.Error = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", sc.Name, err))
			fmt.Fprintf(opts.Log, "bench: %s failed: %v\n", sc.Name, err)
		} else if res.Cascade != nil {
			fmt.Fprintf(opts.Log, "bench: %s: %d nodes %.1f%% CPU together, %.2f µs/packet, %d relay links\n",
				sc.Name, len(res.Cascade.Nodes), res.Node.CPUPercent, res.Node.CPUPerPacketUs, len(res.Cascade.Links))
		} else {
			fmt.Fprintf(opts.Log, "bench: %s: node %.1f%% CPU, %.2f µs/packet (reflector %.2f, ratio %.2f)\n",
				sc.Name, res.Node.CPUPercent, res.Node.CPUPerPacketUs, res.reflectorUs(), res.Ratio)
		}
		results = append(results, res)
		if werr := writeResult(opts.OutDir, res); werr != nil {
			errs = append(errs, werr)
		}
	}
	if err := writeSummary(opts.OutDir, results); err != nil {
		errs = append(errs, err)
	}
	return results, errors.Join(errs...)
}

// Result is one scenario's figures.
type Result struct {
	Scenario  Scenario          `json:"scenario"`
	Started   time.Time         `json:"started"`
	Machine   Machine           `json:"machine"`
	Node      NodeFigures       `json:"node"`
	Load      LoadFigures       `json:"load"`
	Reflector *ReflectorFigures `json:"reflector,omitempty"`
	// Ratio is the node's CPU per forwarded packet over the reflector's.
	// A cascade has none: the reflector models one node.
	Ratio float64 `json:"cpu_per_packet_ratio,omitempty"`
	// Cascade is set for a scenario of several nodes; Node is then the
	// sum over them (CPU, packets, memory, the delay histograms pooled).
	Cascade *CascadeFigures `json:"cascade,omitempty"`
	Error   string          `json:"error,omitempty"`
}

func (r Result) reflectorUs() float64 {
	if r.Reflector == nil {
		return 0
	}
	return r.Reflector.CPUPerPacketUs
}

// NodeFigures are measured on the node process, over the window.
type NodeFigures struct {
	WindowSec      float64 `json:"window_sec"`
	CPUSec         float64 `json:"cpu_sec"`     // user+system, /proc/PID/stat
	CPUPercent     float64 `json:"cpu_percent"` // of one core
	PacketsIn      uint64  `json:"packets_in"`
	PacketsOut     uint64  `json:"packets_out"` // forwarded to subscribers
	IngressPPS     float64 `json:"ingress_pps"`
	EgressPPS      float64 `json:"egress_pps"`
	IngressMbps    float64 `json:"ingress_mbps"` // the node's bitrate_in, averaged
	EgressMbps     float64 `json:"egress_mbps"`  // the node's bitrate_out, averaged
	CPUPerPacketUs float64 `json:"cpu_per_packet_us"`
	CPUPerMbitMs   float64 `json:"cpu_per_mbit_ms"` // CPU ms per forwarded megabit
	BaselineRSSMB  float64 `json:"baseline_rss_mb"` // before anyone joined
	PeakRSSMB      float64 `json:"peak_rss_mb"`     // VmHWM at the end of the window
	// MemPerParticipantKB is (peak - baseline) / participants.
	MemPerParticipantKB float64 `json:"mem_per_participant_kb"`
	Participants        int     `json:"participants"`
	// Forwarding delay (read to written to every subscriber) from the
	// node's histogram, window only, interpolated inside buckets.
	ForwardDelayP50Us   float64 `json:"forward_delay_p50_us"`
	ForwardDelayP99Us   float64 `json:"forward_delay_p99_us"`
	ForwardDelaySamples uint64  `json:"forward_delay_samples"`
	// ForwardDelayP99AboveBuckets says the p99 lies beyond the histogram's
	// highest finite bucket, which ForwardDelayP99Us then is: a lower bound.
	ForwardDelayP99AboveBuckets bool `json:"forward_delay_p99_above_buckets,omitempty"`
}

// LoadFigures come from the load generator's report.
type LoadFigures struct {
	JoinP50Ms       float64        `json:"join_p50_ms"`
	JoinP95Ms       float64        `json:"join_p95_ms"`
	FirstFrameP50Ms float64        `json:"first_frame_p50_ms"`
	FirstFrameP95Ms float64        `json:"first_frame_p95_ms"`
	NoMedia         int            `json:"no_media"`
	JoinFailures    int            `json:"join_failures"`
	LossPct         float64        `json:"loss_pct"`
	ReceivedMbps    float64        `json:"received_mbps"`
	RTTP50Ms        float64        `json:"rtt_p50_ms"`
	Layers          map[string]int `json:"layers"`
	// GeneratorCPUPercent is the load generator's own CPU over the window
	// (% of one core): near the machine's cores, the load is the bottleneck.
	GeneratorCPUPercent float64         `json:"generator_cpu_percent"`
	Report              *loadgen.Report `json:"report"`
}

// ReflectorFigures are the bare reflector's, with the same traffic.
type ReflectorFigures struct {
	Model          streamModel `json:"model"` // per publisher
	WindowSec      float64     `json:"window_sec"`
	CPUSec         float64     `json:"cpu_sec"`
	CPUPercent     float64     `json:"cpu_percent"`
	Forwarded      uint64      `json:"forwarded"`
	EgressPPS      float64     `json:"egress_pps"`
	CPUPerPacketUs float64     `json:"cpu_per_packet_us"`
	Dropped        uint64      `json:"dropped"`
	SinkReceived   uint64      `json:"sink_received"`
}

// nodeProc is a running node child.
type nodeProc struct {
	*child
	base string // http://127.0.0.1:PORT
}

// startNode runs `<exe> --headless …` with conf as its configuration file
// (empty but for a cascade), so that a config.toml in the working directory
// does not change the figures.
func startNode(ctx context.Context, opts Options, sc Scenario, spec NodeSpec, dir, conf string) (*nodeProc, error) {
	httpPort, err := freePort("tcp")
	if err != nil {
		return nil, err
	}
	mediaPort, err := freePort("udp")
	if err != nil {
		return nil, err
	}
	confPath := filepath.Join(dir, spec.ID+".toml")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	cmd := exec.Command(opts.Exe, "--headless", "--config", confPath,
		"--http", fmt.Sprintf("127.0.0.1:%d", httpPort), "--media-port", strconv.Itoa(mediaPort),
		"--id", spec.ID, "--region", spec.Region)
	n := sc.participants()
	cmd.Env = append(os.Environ(),
		"SWITCHYARD_LOG_LEVEL=warn",
		fmt.Sprintf("SWITCHYARD_LIMITS_MAX_ROOM_SIZE=%d", max(50, sc.Publishers+sc.Subscribers+10)),
		fmt.Sprintf("SWITCHYARD_LIMITS_MAX_PARTICIPANTS=%d", max(500, n+10)),
		fmt.Sprintf("SWITCHYARD_LIMITS_MAX_ROOMS=%d", max(100, sc.Rooms+10)),
		// Joins at the bench's rate make every client send a burst of
		// constraints; the signaling limit is not what is measured here.
		"SWITCHYARD_LIMITS_MESSAGE_RATE=1000",
		"SWITCHYARD_LIMITS_MESSAGE_BURST=2000",
	)
	cmd.Env = append(cmd.Env, spec.Env...)
	c, err := startChild("node "+spec.ID, cmd, filepath.Join(dir, spec.ID+".log"))
	if err != nil {
		return nil, err
	}
	np := &nodeProc{child: c, base: fmt.Sprintf("http://127.0.0.1:%d", httpPort)}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := getNode(ctx, np.base); err == nil {
			return np, nil
		}
		if c.exited() || time.Now().After(deadline) || ctx.Err() != nil {
			_ = c.stop(time.Second)
			return nil, fmt.Errorf("bench: node %s did not come up on %s (exit %d): %s",
				spec.ID, np.base, exitCode(c.err), c.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sample is one reading of a node at an instant.
type sample struct {
	at      time.Time
	cpu     float64
	metrics scrape
	api     nodeAPI
}

func takeSample(ctx context.Context, np *nodeProc) (sample, error) {
	m, err := getMetrics(ctx, np.base)
	if err != nil {
		return sample{}, err
	}
	cpu, err := cpuSeconds(np.pid())
	if err != nil {
		return sample{}, err
	}
	at := time.Now()
	api, err := getNode(ctx, np.base)
	if err != nil {
		return sample{}, err
	}
	return sample{at: at, cpu: cpu, metrics: m, api: api}, nil
}

func sampleAll(ctx context.Context, nodes []*nodeProc) ([]sample, error) {
	out := make([]sample, len(nodes))
	for i, np := range nodes {
		var err error
		if out[i], err = takeSample(ctx, np); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// startNodes starts the scenario's nodes in order. In a cascade each joins
// the gossip of those before it, and all share a secret made for the run.
func startNodes(ctx context.Context, opts Options, sc Scenario, dir string) ([]*nodeProc, error) {
	specs := sc.nodes()
	var secret string
	var ids, join []string
	if sc.Cascade != nil {
		var err error
		if secret, err = newSecret(); err != nil {
			return nil, err
		}
		for _, spec := range specs {
			ids = append(ids, spec.ID)
		}
	}
	var nodes []*nodeProc
	for _, spec := range specs {
		conf := ""
		if sc.Cascade != nil {
			conf = cascadeTOML(spec.ID, ids, sc.Cascade, secret, join)
		}
		np, err := startNode(ctx, opts, sc, spec, dir, conf)
		if err != nil {
			return nodes, err
		}
		nodes = append(nodes, np)
		if sc.Cascade == nil {
			continue
		}
		n, err := getNode(ctx, np.base)
		if err != nil {
			return nodes, err
		}
		if n.Cascade == nil || n.Cascade.GossipAddr == "" {
			return nodes, fmt.Errorf("bench: node %s runs without a cascade: %s", spec.ID, lastLines(np.tail(), 3))
		}
		join = append(join, n.Cascade.GossipAddr)
	}
	return nodes, nil
}

func runScenario(ctx context.Context, opts Options, sc Scenario, dir string) (Result, error) {
	res := Result{Scenario: sc, Started: time.Now()}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	var nodes []*nodeProc
	defer func() {
		for _, np := range nodes {
			_ = np.stop(5 * time.Second)
		}
	}()
	nodes, err := startNodes(ctx, opts, sc, dir)
	if err != nil {
		return res, err
	}
	node := nodes[0]
	var baseRSS uint64
	bases := make([]uint64, len(nodes))
	for i, np := range nodes {
		if bases[i], _, err = memoryKB(np.pid()); err != nil {
			return res, err
		}
		baseRSS += bases[i]
	}
	if sc.Cascade != nil {
		if err := awaitCluster(ctx, nodes, 20*time.Second); err != nil {
			return res, err
		}
	}

	hold := opts.Warmup + opts.Window + time.Second
	loadJSON := filepath.Join(dir, "load.json")
	cmd := exec.Command(opts.Exe, loadArgs(opts, sc, node.base, hold, loadJSON)...)
	load, err := startChild("load", cmd, filepath.Join(dir, "load.log"))
	if err != nil {
		return res, err
	}
	defer func() { _ = load.stop(10 * time.Second) }()

	// In a cascade the participants end up on every node: count them all.
	want := sc.participants()
	joinBy := time.Now().Add(time.Duration(float64(want)/opts.JoinRate*float64(time.Second)) + 20*time.Second)
	seen := 0
	for {
		total, err := participantsOn(ctx, nodes)
		if err == nil && total >= want {
			break
		}
		if err == nil {
			seen = total
		}
		if load.exited() {
			return res, fmt.Errorf("bench: load generator exited (status %d) before everyone joined: %s",
				exitCode(load.err), lastLines(load.tail(), 3))
		}
		if time.Now().After(joinBy) || ctx.Err() != nil {
			if err != nil {
				// A node that stops answering its API mid-join is usually stuck.
				return res, fmt.Errorf("bench: node API not answering after %d of %d joined: %w", seen, want, err)
			}
			return res, fmt.Errorf("bench: %d of %d participants joined in time: %s", seen, want, lastLines(load.tail(), 3))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !wait.Sleep(ctx, opts.Warmup) {
		return res, ctx.Err()
	}

	s0, err := sampleAll(ctx, nodes)
	if err != nil {
		return res, err
	}
	// The generator shares the machine: when it runs out of CPU, loss and
	// delays are its own, and the figure says so.
	gen0, genErr := cpuSeconds(load.pid())
	rates := make([][]nodeAPI, len(nodes)) // per node
	var sumRates []nodeAPI
	deadline := s0[0].at.Add(opts.Window)
	for time.Until(deadline) > 0 {
		if !wait.Sleep(ctx, min(time.Second, time.Until(deadline))) {
			return res, ctx.Err()
		}
		var tick []nodeAPI
		for _, np := range nodes {
			if n, err := getNode(ctx, np.base); err == nil {
				tick = append(tick, n)
			}
		}
		if len(tick) < len(nodes) {
			continue // a sum with a node missing would understate the rate
		}
		var sum nodeAPI
		for i, n := range tick {
			rates[i] = append(rates[i], n)
			sum.BitrateIn += n.BitrateIn
			sum.BitrateOut += n.BitrateOut
		}
		sumRates = append(sumRates, sum)
	}
	s1, err := sampleAll(ctx, nodes)
	if err != nil {
		return res, err
	}
	var peak uint64
	peaks := make([]uint64, len(nodes))
	for i, np := range nodes {
		if _, peaks[i], err = memoryKB(np.pid()); err != nil {
			return res, err
		}
		peak += peaks[i]
	}
	res.Node = nodeFigures(sumSamples(s0), sumSamples(s1), sumRates, baseRSS, peak, want)
	var genCPU float64
	if gen1, err := cpuSeconds(load.pid()); err == nil && genErr == nil {
		genCPU = round(100*(gen1-gen0)/s1[0].at.Sub(s0[0].at).Seconds(), 1)
	}

	if err := load.wait(hold + 60*time.Second); err != nil {
		return res, fmt.Errorf("bench: load generator: %w: %s", err, load.tail())
	}
	rep, err := readLoad(loadJSON)
	if err != nil {
		return res, err
	}
	res.Load = loadFigures(rep)
	res.Load.GeneratorCPUPercent = genCPU
	for _, np := range nodes {
		_ = np.stop(5 * time.Second)
	}
	nodes = nil

	if sc.Cascade != nil {
		res.Cascade = cascadeFigures(sc, s0, s1, rates, bases, peaks, rep)
		// The reflector models one node forwarding; three nodes relaying
		// to each other have no counterpart there.
		return res, nil
	}
	if !opts.Reflector {
		return res, nil
	}
	model, err := trafficModel(sc, res.Node, rep)
	if err != nil {
		return res, err
	}
	rf, err := runReflector(ctx, opts, sc, model, dir)
	if err != nil {
		return res, err
	}
	res.Reflector = &rf
	if rf.CPUPerPacketUs > 0 {
		res.Ratio = round(res.Node.CPUPerPacketUs/rf.CPUPerPacketUs, 2)
	}
	return res, nil
}

// participantsOn counts the participants on all the nodes.
func participantsOn(ctx context.Context, nodes []*nodeProc) (int, error) {
	total := 0
	for _, np := range nodes {
		n, err := getNode(ctx, np.base)
		if err != nil {
			return 0, err
		}
		total += n.Participants
	}
	return total, nil
}

// loadArgs is the load generator's command line for a scenario.
func loadArgs(opts Options, sc Scenario, url string, hold time.Duration, jsonPath string) []string {
	args := []string{"load", "--url", url, "--room", "bench",
		"--rooms", strconv.Itoa(sc.Rooms), "--publishers", strconv.Itoa(sc.Publishers),
		"--subscribers", strconv.Itoa(sc.Subscribers),
		"--audio=" + strconv.FormatBool(sc.Audio), "--video=" + strconv.FormatBool(sc.Video),
		"--audio-only-subscribers=" + strconv.FormatBool(sc.AudioOnlySubscribers),
		"--duration", hold.String(), "--join-rate", strconv.FormatFloat(opts.JoinRate, 'g', -1, 64),
		"--log-level", "warn", "--json", jsonPath}
	if sc.Cascade != nil {
		// Pings split by pair of nodes need more samples than one pooled
		// figure: a few dozen per pair over the window.
		args = append(args, "--regions", strings.Join(sc.Cascade.Regions, ","), "--ping-interval", "40ms")
	}
	return args
}

// cascadeFigures are a cascade's figures per node, relay link and pair.
// A node's participants are its own (its region's); its memory per
// participant also carries what it holds for the remote ones.
func cascadeFigures(sc Scenario, s0, s1 []sample, rates [][]nodeAPI, bases, peaks []uint64, rep *loadgen.Report) *CascadeFigures {
	cf := &CascadeFigures{Redirected: rep.Redirected}
	specs := sc.nodes()
	ids := make([]string, len(specs))
	for i, spec := range specs {
		ids[i] = spec.ID
		f := nodeFigures(s0[i], s1[i], rates[i], bases[i], peaks[i], s1[i].api.Participants)
		cf.Nodes = append(cf.Nodes, CascadeNodeFigures{ID: spec.ID, Region: spec.Region, NodeFigures: f})
	}
	cf.Links = linkFigures(s0, s1, sc.Cascade)
	cf.Pairs = pairFigures(ids, cf.Links, rep, sc.Cascade)
	return cf
}

func nodeFigures(s0, s1 sample, rates []nodeAPI, baseKB, peakKB uint64, participants int) NodeFigures {
	win := s1.at.Sub(s0.at).Seconds()
	f := NodeFigures{
		WindowSec: round(win, 3), CPUSec: round(s1.cpu-s0.cpu, 3), Participants: participants,
		PacketsIn:     uint64(math.Max(s1.metrics.values[metricPacketsIn]-s0.metrics.values[metricPacketsIn], 0)),
		PacketsOut:    uint64(math.Max(s1.metrics.values[metricPacketsOut]-s0.metrics.values[metricPacketsOut], 0)),
		BaselineRSSMB: round(float64(baseKB)/1024, 1),
		PeakRSSMB:     round(float64(peakKB)/1024, 1),
	}
	f.CPUPercent = round(100*f.CPUSec/win, 2)
	f.IngressPPS = round(float64(f.PacketsIn)/win, 1)
	f.EgressPPS = round(float64(f.PacketsOut)/win, 1)
	if f.PacketsOut > 0 {
		f.CPUPerPacketUs = round(f.CPUSec*1e6/float64(f.PacketsOut), 3)
	}
	var in, out float64
	for _, r := range rates {
		in += float64(r.BitrateIn)
		out += float64(r.BitrateOut)
	}
	if len(rates) > 0 {
		f.IngressMbps = round(in/float64(len(rates))/1e6, 3)
		f.EgressMbps = round(out/float64(len(rates))/1e6, 3)
	}
	if mbit := f.EgressMbps * win; mbit > 0 {
		f.CPUPerMbitMs = round(f.CPUSec*1000/mbit, 3)
	}
	if participants > 0 && peakKB > baseKB {
		f.MemPerParticipantKB = round(float64(peakKB-baseKB)/float64(participants), 1)
	}
	d := bucketDelta(s0.metrics.buckets, s1.metrics.buckets)
	if len(d) > 0 {
		f.ForwardDelaySamples = uint64(d[len(d)-1].count)
	}
	if p := quantile(0.5, d); !math.IsNaN(p) {
		f.ForwardDelayP50Us = round(p*1e6, 2)
	}
	if p := quantile(0.99, d); !math.IsNaN(p) {
		f.ForwardDelayP99Us = round(p*1e6, 2)
		f.ForwardDelayP99AboveBuckets = len(d) > 1 && d[len(d)-2].count < 0.99*d[len(d)-1].count
	}
	return f
}

func readLoad(path string) (*loadgen.Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bench: load report: %w", err)
	}
	var rep loadgen.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("bench: load report %s: %w", path, err)
	}
	return &rep, nil
}

func loadFigures(rep *loadgen.Report) LoadFigures {
	return LoadFigures{
		JoinP50Ms: rep.JoinMs.P50, JoinP95Ms: rep.JoinMs.P95,
		FirstFrameP50Ms: rep.FirstFrameMs.P50, FirstFrameP95Ms: rep.FirstFrameMs.P95,
		NoMedia: rep.NoMedia, JoinFailures: rep.JoinFailures,
		LossPct: rep.Received.LossPct, ReceivedMbps: rep.Received.Mbps, RTTP50Ms: rep.RTTMs.P50,
		Layers: rep.Layers, Report: rep,
	}
}

// trafficModel gives the reflector the node's packet rates and the
// receivers' packet sizes. Per publisher: forwarded ingress = egress /
// fan-out, split between audio and video as the receivers counted them;
// whatever else the node received (simulcast layers nobody was sent) is
// replayed too, to be decrypted and dropped.
func trafficModel(sc Scenario, node NodeFigures, rep *loadgen.Report) (streamModel, error) {
	var m streamModel
	rx := rep.Received
	total := float64(rx.AudioPackets + rx.VideoPackets)
	if node.EgressPPS <= 0 || total == 0 {
		return m, errors.New("bench: the node forwarded nothing; no traffic to replay on the reflector")
	}
	pubs := float64(sc.Rooms * sc.Publishers)
	audioFan := float64(sc.Publishers - 1 + sc.Subscribers)
	videoFan := float64(sc.Publishers - 1)
	if !sc.AudioOnlySubscribers {
		videoFan += float64(sc.Subscribers)
	}
	if rx.AudioPackets > 0 && audioFan > 0 {
		m.AudioPPS = round(node.EgressPPS*float64(rx.AudioPackets)/total/audioFan/pubs, 2)
		m.AudioPayload = int(rx.AudioBytes / rx.AudioPackets)
	}
	if rx.VideoPackets > 0 && videoFan > 0 {
		m.VideoPPS = round(node.EgressPPS*float64(rx.VideoPackets)/total/videoFan/pubs, 2)
		m.VideoPayload = int(rx.VideoBytes / rx.VideoPackets)
	}
	if extra := node.IngressPPS/pubs - m.AudioPPS - m.VideoPPS; extra >= 1 {
		m.UnforwardedPPS = round(extra, 2)
		bytes := node.IngressMbps*1e6/8/pubs - m.AudioPPS*float64(m.AudioPayload) - m.VideoPPS*float64(m.VideoPayload)
		m.UnforwardedPayload = min(max(int(bytes/extra), 1), 1200)
	}
	return m, nil
}

// runReflector measures the bare reflector as a child process fed by a
// sender in this process, over the same window.
func runReflector(ctx context.Context, opts Options, sc Scenario, model streamModel, dir string) (ReflectorFigures, error) {
	f := ReflectorFigures{Model: model}
	sk, err := openSinks(sc.participants())
	if err != nil {
		return f, err
	}
	defer sk.close()
	cmd := exec.Command(opts.Exe, "bench", "reflector")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return f, fmt.Errorf("bench: reflector stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return f, fmt.Errorf("bench: reflector stdout: %w", err)
	}
	rc, err := startChild("reflector", cmd, filepath.Join(dir, "reflector.log"))
	if err != nil {
		return f, err
	}
	defer func() {
		// Closing stdin is the reflector's signal to exit.
		_ = stdin.Close()
		_ = rc.wait(5 * time.Second)
		_ = rc.stop(time.Second)
	}()
	cfg := reflectorConfig{Rooms: sc.Rooms, Publishers: sc.Publishers, Subscribers: sc.Subscribers,
		VideoToSubscribers: !sc.AudioOnlySubscribers, Sinks: sk.addrs()}
	line, _ := json.Marshal(cfg)
	if _, err := stdin.Write(append(line, '\n')); err != nil {
		return f, fmt.Errorf("bench: configure reflector: %w", err)
	}
	client := &reflectorClient{w: stdin, r: bufio.NewReader(stdout)}
	ready, err := client.r.ReadString('\n')
	if err != nil {
		return f, fmt.Errorf("bench: reflector did not start: %w: %s", err, rc.tail())
	}
	port, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(ready, "ready ")))
	if err != nil {
		return f, fmt.Errorf("bench: reflector said %q", ready)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return f, fmt.Errorf("bench: sender socket: %w", err)
	}
	defer conn.Close()
	_ = conn.SetWriteBuffer(4 << 20)
	sctx, stopSend := context.WithCancel(ctx)
	sent := make(chan error, 1)
	go func() {
		sent <- sendStreams(sctx, conn, netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(port)),
			sc.Rooms*sc.Publishers, model)
	}()
	defer func() { stopSend(); <-sent }()

	if !wait.Sleep(ctx, min(opts.Warmup, time.Second)) {
		return f, ctx.Err()
	}
	st0, err := client.stats()
	if err != nil {
		return f, err
	}
	c0, err := cpuSeconds(rc.pid())
	if err != nil {
		return f, err
	}
	t0 := time.Now()
	if !wait.Sleep(ctx, opts.Window) {
		return f, ctx.Err()
	}
	st1, err := client.stats()
	if err != nil {
		return f, err
	}
	c1, err := cpuSeconds(rc.pid())
	if err != nil {
		return f, err
	}
	win := time.Since(t0).Seconds()
	f.WindowSec = round(win, 3)
	f.CPUSec = round(c1-c0, 3)
	f.CPUPercent = round(100*f.CPUSec/win, 2)
	f.Forwarded = st1.Forwarded - st0.Forwarded
	f.Dropped = st1.Dropped - st0.Dropped
	f.EgressPPS = round(float64(f.Forwarded)/win, 1)
	f.SinkReceived = sk.received.Load()
	if f.Forwarded == 0 {
		return f, fmt.Errorf("bench: the reflector forwarded nothing (%d dropped): %s", f.Dropped, rc.tail())
	}
	f.CPUPerPacketUs = round(f.CPUSec*1e6/float64(f.Forwarded), 3)
	return f, nil
}

// lastLines keeps the end of a log for an error message.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}
