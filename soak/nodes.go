package soak

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/node/snapshot"
)

// nodeSpec names one node of the soak's cascade.
type nodeSpec struct{ id, region string }

// defaultNodes are the three cascaded nodes; the last is the one killed.
var defaultNodes = []nodeSpec{{"us", "us"}, {"eu", "eu"}, {"ap", "ap"}}

// nodeProc is a node the soak runs as a child process.
type nodeProc struct {
	nodeSpec
	base      string // http://127.0.0.1:PORT
	ws        string // ws://127.0.0.1:PORT/ws
	mediaPort int
	relayAddr string
	gossip    string
	cmd       *exec.Cmd
	logPath   string
	logFile   *os.File
	done      chan struct{}
	waitErr   error       // set before done is closed
	killed    atomic.Bool // SIGKILLed by the soak
	exit      string      // how it ended, once stop has run
}

func (np *nodeProc) pid() int { return np.cmd.Process.Pid }

func (np *nodeProc) exited() bool {
	select {
	case <-np.done:
		return true
	default:
		return false
	}
}

// live says whether the node runs and was not killed.
func (np *nodeProc) live() bool { return !np.killed.Load() && !np.exited() }

// nodeConfig is a node's configuration file: its addresses on loopback,
// the cascade, and the profiler (for goroutine dumps) on its API address.
func nodeConfig(spec nodeSpec, httpPort, mediaPort, relayPort int, secret string, join []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[node]\nid = %s\nregion = %s\n\n", strconv.Quote(spec.id), strconv.Quote(spec.region))
	fmt.Fprintf(&b, "[http]\naddr = \"127.0.0.1:%d\"\npprof = true\n\n", httpPort)
	fmt.Fprintf(&b, "[media]\nip = \"127.0.0.1\"\nport = %d\n\n", mediaPort)
	b.WriteString("[log]\nlevel = \"info\"\n\n")
	b.WriteString("[cascade]\nenabled = true\n")
	fmt.Fprintf(&b, "secret = %s\n", strconv.Quote(secret))
	fmt.Fprintf(&b, "relay_addr = \"127.0.0.1:%d\"\n", relayPort)
	b.WriteString("gossip_addr = \"127.0.0.1:0\"\n")
	quoted := make([]string, len(join))
	for i, j := range join {
		quoted[i] = strconv.Quote(j)
	}
	fmt.Fprintf(&b, "join = [%s]\n", strings.Join(quoted, ", "))
	// Everyone has left when the soak stops the nodes: nobody to move.
	b.WriteString("drain_timeout = \"2s\"\n")
	return b.String()
}

// newSecret is a cluster secret for one run.
func newSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("soak: cluster secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// freeTCPPort asks the kernel for a free loopback TCP port.
func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("soak: free tcp port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freeUDPPort asks the kernel for a free loopback UDP port; with tcpToo the
// same number must be free for TCP as well (the node's ICE-TCP listener
// takes the media port's number).
func freeUDPPort(tcpToo bool) (int, error) {
	var lastErr error
	for range 20 {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("soak: free udp port: %w", err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		if !tcpToo {
			_ = c.Close()
			return port, nil
		}
		l, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(port))
		_ = c.Close()
		if err == nil {
			_ = l.Close()
			return port, nil
		}
		lastErr = err
	}
	return 0, fmt.Errorf("soak: no port free for both udp and tcp: %w", lastErr)
}

// childEnv is the soak's environment without SWITCHYARD_* variables, so
// that the operator's settings (an API key, other ports) do not change the
// nodes: their configuration file says everything.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SWITCHYARD_") {
			env = append(env, kv)
		}
	}
	return env
}

// startNode writes the node's configuration into dir and runs
// `exe --headless --config FILE`, then waits until its API answers.
func startNode(ctx context.Context, exe, dir string, spec nodeSpec, secret string, join []string) (*nodeProc, error) {
	httpPort, err := freeTCPPort()
	if err != nil {
		return nil, err
	}
	mediaPort, err := freeUDPPort(true)
	if err != nil {
		return nil, err
	}
	relayPort, err := freeUDPPort(false)
	if err != nil {
		return nil, err
	}
	confPath := filepath.Join(dir, spec.id+".toml")
	conf := nodeConfig(spec, httpPort, mediaPort, relayPort, secret, join)
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	logPath := filepath.Join(dir, spec.id+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	cmd := exec.Command(exe, "--headless", "--config", confPath)
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("soak: start node %s: %w", spec.id, err)
	}
	np := &nodeProc{nodeSpec: spec, base: fmt.Sprintf("http://127.0.0.1:%d", httpPort),
		ws: fmt.Sprintf("ws://127.0.0.1:%d/ws", httpPort), cmd: cmd, logPath: logPath, logFile: f,
		done: make(chan struct{})}
	go func() {
		np.waitErr = cmd.Wait()
		close(np.done)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := getNode(ctx, np.base)
		if err == nil {
			if n.Cascade == nil || n.Cascade.GossipAddr == "" || n.Cascade.RelayAddr == "" {
				np.kill()
				np.stop(0)
				return nil, fmt.Errorf("soak: node %s runs without a cascade", spec.id)
			}
			np.mediaPort, np.relayAddr, np.gossip = n.MediaUDPPort, n.Cascade.RelayAddr, n.Cascade.GossipAddr
			return np, nil
		}
		if np.exited() || time.Now().After(deadline) || ctx.Err() != nil {
			np.kill()
			np.stop(0)
			return nil, fmt.Errorf("soak: node %s did not come up on %s: %v: %s", spec.id, np.base, err, np.tail(1500))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startNodes starts the nodes in order, each joining the gossip of those
// before it, and waits until each sees every other one alive on the relay.
func startNodes(ctx context.Context, exe, dir string, specs []nodeSpec) ([]*nodeProc, error) {
	secret, err := newSecret()
	if err != nil {
		return nil, err
	}
	var nodes []*nodeProc
	var join []string
	for _, spec := range specs {
		np, err := startNode(ctx, exe, dir, spec, secret, join)
		if err != nil {
			stopNodes(nodes)
			return nil, err
		}
		nodes = append(nodes, np)
		join = append(join, np.gossip)
	}
	if err := awaitCluster(ctx, nodes, 30*time.Second); err != nil {
		stopNodes(nodes)
		return nil, err
	}
	return nodes, nil
}

// clusterReady says whether every node sees every other one alive on the
// relay with a measured round trip; if not, what is missing.
func clusterReady(states []snapshot.Node) (bool, string) {
	var missing []string
	for _, s := range states {
		for _, o := range states {
			if o.ID == s.ID {
				continue
			}
			i := slices.IndexFunc(s.Peers, func(p snapshot.Peer) bool { return p.ID == o.ID })
			switch {
			case i < 0:
				missing = append(missing, s.ID+" does not know "+o.ID)
			case !s.Peers[i].Alive || !(s.Peers[i].RTTMs > 0):
				missing = append(missing, s.ID+" has no live relay link to "+o.ID)
			}
		}
	}
	return len(missing) == 0, strings.Join(missing, "; ")
}

func awaitCluster(ctx context.Context, nodes []*nodeProc, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	why := "no answer yet"
	for {
		var states []snapshot.Node
		for _, np := range nodes {
			n, err := getNode(ctx, np.base)
			if err != nil {
				why = err.Error()
				break
			}
			states = append(states, n)
		}
		if len(states) == len(nodes) {
			var ok bool
			if ok, why = clusterReady(states); ok {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("soak: cascade did not form in %s: %s", limit, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill ends the node with SIGKILL and waits for it.
func (np *nodeProc) kill() {
	np.killed.Store(true)
	if !np.exited() {
		_ = np.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-np.done
}

// stop asks the node to end (SIGTERM, a drain with nobody to move) and
// kills it after grace. It returns how the process ended; later calls
// return the same.
func (np *nodeProc) stop(grace time.Duration) string {
	if np.exit != "" {
		return np.exit
	}
	switch {
	case np.killed.Load():
		<-np.done
		np.exit = "killed by the soak"
	case np.exited():
		np.exit = exitText(np.waitErr)
	default:
		_ = np.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-np.done:
			np.exit = ExitStopped
			if np.waitErr != nil {
				np.exit = exitText(np.waitErr) + " after SIGTERM"
			}
		case <-time.After(grace):
			_ = np.cmd.Process.Kill()
			<-np.done
			np.exit = fmt.Sprintf("did not stop within %s of SIGTERM; killed", grace)
		}
	}
	_ = np.logFile.Close()
	return np.exit
}

// exitText says how a process ended.
func exitText(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Sprintf("killed by signal %d (%s)", int(ws.Signal()), ws.Signal())
		}
		return fmt.Sprintf("exit status %d", ee.ExitCode())
	}
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// stopNodes stops every node, the live ones at once.
func stopNodes(nodes []*nodeProc) {
	var wg sync.WaitGroup
	for _, np := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			np.stop(10 * time.Second)
		}()
	}
	wg.Wait()
}

// tail is the end of the node's log.
func (np *nodeProc) tail(n int) string {
	data, err := os.ReadFile(np.logPath)
	if err != nil {
		return ""
	}
	if len(data) > n {
		data = data[len(data)-n:]
	}
	return strings.TrimSpace(string(data))
}

// logTrouble scans the node's log for panics, fatal runtime errors and data
// races, and counts its error lines.
func (np *nodeProc) logTrouble() (panics []string, errorLines int) {
	f, err := os.Open(np.logPath)
	if err != nil {
		return nil, 0
	}
	defer f.Close()
	return scanLog(f)
}

// scanLog finds the lines of a node's log that show trouble.
func scanLog(r io.Reader) (panics []string, errorLines int) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "panic:"), strings.HasPrefix(line, "fatal error:"),
			strings.Contains(line, "WARNING: DATA RACE"):
			if len(panics) < 10 {
				panics = append(panics, line)
			}
		case strings.Contains(line, "level=ERROR"):
			errorLines++
		}
	}
	return panics, errorLines
}
