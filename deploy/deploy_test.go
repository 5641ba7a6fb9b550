package deploy

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/viper"
)

// The files under test, relative to this package.
const (
	configFile = "config.toml"
	unitFile   = "switchyard.service"
	guideFile  = "../docs/deploy.md"
	mainFile   = "../main.go"
	goModFile  = "../go.mod"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// TestMain removes the binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// binary builds the switchyard binary once for all tests.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "switchyard-deploy-test")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "switchyard")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// run runs the binary with env added to an environment cleared of
// SWITCHYARD_* variables, and returns its output and exit status.
func run(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = t.TempDir()
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SWITCHYARD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("%v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// codeKeys are the configuration keys main.go knows: its viper defaults map
// ("section.key": value), and keys it reads with v.IsSet only (auth.required,
// whose absence means "decided by http.addr").
type codeKeys map[string]bool

var (
	defaultsBlock = regexp.MustCompile(`(?s)defaults := map\[string\]any\{(.*?)\n\t\}`)
	defaultKey    = regexp.MustCompile(`"([a-z_]+(?:\.[a-z_]+)+)":`)
	isSetKey      = regexp.MustCompile(`v\.IsSet\("([a-z_.]+)"\)`)
)

func knownKeys(t *testing.T) codeKeys {
	t.Helper()
	src := read(t, mainFile)
	block := defaultsBlock.FindStringSubmatch(src)
	if block == nil {
		t.Fatal("main.go: no `defaults := map[string]any{` block: the tests must learn where the viper defaults went")
	}
	keys := codeKeys{}
	for _, m := range defaultKey.FindAllStringSubmatch(block[1], -1) {
		keys[m[1]] = true
	}
	for _, m := range isSetKey.FindAllStringSubmatch(src, -1) {
		keys[m[1]] = true
	}
	if len(keys) < 30 || !keys["http.addr"] {
		t.Fatalf("main.go: found only %d keys in the defaults map: the parser is out of date", len(keys))
	}
	return keys
}

// has reports whether key is a configuration key; cascade.links.<node>.*
// tables are free-form by node id.
func (k codeKeys) has(key string) bool {
	return k[key] || strings.HasPrefix(key, "cascade.links.")
}

// table reports whether name is a table holding keys ([console.ssh]).
func (k codeKeys) table(name string) bool {
	for key := range k {
		if strings.HasPrefix(key, name+".") {
			return true
		}
	}
	return false
}

// sections are the keys' first components (node, http, ..., console).
func (k codeKeys) sections() []string {
	var s []string
	for key := range k {
		sec, _, _ := strings.Cut(key, ".")
		if !slices.Contains(s, sec) {
			s = append(s, sec)
		}
	}
	slices.Sort(s)
	return s
}

// envNames maps SWITCHYARD_SECTION_KEY to its key, as viper's
// SetEnvKeyReplacer(".", "_") spells it.
func (k codeKeys) envNames() map[string]string {
	m := make(map[string]string, len(k))
	for key := range k {
		m["SWITCHYARD_"+strings.ToUpper(strings.ReplaceAll(key, ".", "_"))] = key
	}
	return m
}

var commandsBlock = regexp.MustCompile(`(?s)var commands = map\[string\][^{]*\{(.*?)\n\}`)
var commandName = regexp.MustCompile(`"([a-z][a-z-]*)":`)

// subcommands are the keys of main.go's commands map.
func subcommands(t *testing.T) []string {
	t.Helper()
	block := commandsBlock.FindStringSubmatch(read(t, mainFile))
	if block == nil {
		t.Fatal("main.go: no `var commands = map[string]...{` block")
	}
	var names []string
	for _, m := range commandName.FindAllStringSubmatch(block[1], -1) {
		names = append(names, m[1])
	}
	if !slices.Contains(names, "token") {
		t.Fatalf("main.go commands map: found %v, no token: the parser is out of date", names)
	}
	return names
}

// block is a fenced code block of the guide.
type block struct {
	info string // the word after ```
	text string
	line int // of the opening fence
}

// guide is docs/deploy.md split into fenced blocks and the prose around them.
type guide struct {
	text   string
	blocks []block
	prose  string
}

func readGuide(t *testing.T) guide {
	t.Helper()
	g := guide{text: read(t, guideFile)}
	var cur *block
	var prose, body strings.Builder
	for i, l := range strings.SplitAfter(g.text, "\n") {
		fence := strings.HasPrefix(strings.TrimSpace(l), "```")
		switch {
		case fence && cur == nil:
			cur = &block{info: strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "```")), line: i + 1}
			body.Reset()
		case fence:
			cur.text = dedent(body.String())
			g.blocks = append(g.blocks, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(l)
		default:
			prose.WriteString(l)
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: unclosed code block", guideFile, cur.line)
	}
	g.prose = prose.String()
	return g
}

// dedent removes the indentation of a block nested in a list item.
func dedent(s string) string {
	lines := strings.Split(s, "\n")
	indent := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " "))
		if indent < 0 || n < indent {
			indent = n
		}
	}
	for i, l := range lines {
		if len(l) >= indent && indent > 0 {
			lines[i] = l[indent:]
		}
	}
	return strings.Join(lines, "\n")
}

// Kinds of toml block in the guide, told by their first line.
const (
	fullConfigHeader = "# /etc/switchyard/config.toml"
	fragmentHeader   = "# changes to /etc/switchyard/config.toml"
)

func (g guide) tomlBlocks(t *testing.T) (full []block, fragments []block) {
	t.Helper()
	for _, b := range g.blocks {
		if b.info != "toml" {
			continue
		}
		switch {
		case strings.HasPrefix(b.text, fullConfigHeader):
			full = append(full, b)
		case strings.HasPrefix(b.text, fragmentHeader):
			fragments = append(fragments, b)
		default:
			t.Errorf("%s:%d: a toml block must start with %q (the whole file) or %q (keys to merge into it), so that the tests check it",
				guideFile, b.line, fullConfigHeader, fragmentHeader)
		}
	}
	return full, fragments
}

// parseTOML reads a TOML text the way the node does.
func parseTOML(t *testing.T, text string) *viper.Viper {
	t.Helper()
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(text)); err != nil {
		t.Fatalf("toml: %v\n%s", err, text)
	}
	return v
}

// mergedConfig is deploy/config.toml with a fragment's keys merged in,
// written to a file for check-config.
func mergedConfig(t *testing.T, fragment string) (path string, v *viper.Viper) {
	t.Helper()
	v = parseTOML(t, read(t, configFile))
	if err := v.MergeConfig(strings.NewReader(fragment)); err != nil {
		t.Fatalf("merge: %v", err)
	}
	path = filepath.Join(t.TempDir(), "config.toml")
	if err := v.WriteConfigAs(path); err != nil {
		t.Fatal(err)
	}
	return path, v
}

var envAssignment = regexp.MustCompile(`(?m)\b(SWITCHYARD_[A-Z0-9_]+)=`)

// guideEnv is every SWITCHYARD_* variable the guide writes into the
// environment file, each with a made-up value long enough for any secret.
func guideEnv(t *testing.T, g guide) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, b := range g.blocks {
		if b.info != "sh" {
			continue
		}
		for _, m := range envAssignment.FindAllStringSubmatch(b.text, -1) {
			env[m[1]] = strings.Repeat("x", 48)
		}
	}
	if len(env) == 0 {
		t.Fatalf("%s: no SWITCHYARD_*= assignment in a sh block (the environment file)", guideFile)
	}
	return env
}
