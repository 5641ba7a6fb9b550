package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/switchyard/switchyard/linkemu"
)

// The strict loader. Viper alone reads whatever it is given: a misspelt key
// is ignored, GetInt("ten thousand") is 0 (a random media port) and
// GetDuration(4) is 4 ns. Here every value of every source (file,
// SWITCHYARD_* variables, flags) is checked against the type of the key's
// default before viper sees it, and every message names the key, its flag
// and its variable, whichever of them the mistake was made in.

// envPrefix starts every configuration variable: SWITCHYARD_<SECTION>_<KEY>.
const envPrefix = "SWITCHYARD_"

// nonConfigEnv are SWITCHYARD_* variables that tests and tools read; they
// are not configuration and are not refused as unknown.
var nonConfigEnv = []string{"SWITCHYARD_TEST_LOG", "SWITCHYARD_REQUIRE_BROWSERS", "SWITCHYARD_REQUIRE_TMUX", "SWITCHYARD_BENCH_EXE"}

// secretKeys are never printed.
var secretKeys = []string{"auth.secret", "cascade.secret", "turn.secret", "http.api_key"}

// linkParams are the keys of a [cascade.links.<node>] table.
var linkParams = map[string]valueKind{"delay": kindDuration, "jitter": kindDuration, "loss": kindFloat, "rate": kindInt}

// Where a value came from, lowest precedence first.
const (
	fromDefault = "default"
	fromFile    = "file"
	fromEnv     = "env"
	fromFlag    = "flag"
)

// origin is where a key's value came from: the source and the file,
// variable or flag.
type origin struct{ source, where string }

func (o origin) String() string {
	if o.where == "" {
		return o.source
	}
	return o.source + " " + o.where
}

// loadedConfig is a configuration every value of which was checked.
type loadedConfig struct {
	v        *viper.Viper // every key, typed as its default; auth.required only when set
	links    map[string]linkemu.Params
	values   map[string]any    // the effective value of every key set anywhere, links' parameters included
	origins  map[string]origin // of every key in values
	path     string            // the configuration file named
	found    bool              // and read
	headless bool
}

// schema is what the loader accepts: the keys, their types and flags.
type schema struct {
	kinds    map[string]valueKind
	defaults map[string]any    // keys without one (auth.required) are unset unless given
	flags    map[string]string // key -> flag name
	env      map[string]string // variable -> key
}

func newSchema(defaults, optional map[string]any, flags map[string]string) (*schema, error) {
	s := &schema{kinds: map[string]valueKind{}, defaults: defaults, flags: flags, env: map[string]string{}}
	for _, m := range []map[string]any{defaults, optional} {
		for key, def := range m {
			k, err := kindOf(def)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			s.kinds[key] = k
			s.env[envName(key)] = key
		}
	}
	return s, nil
}

// envName is SWITCHYARD_<SECTION>_<KEY>.
func envName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// label names a key in every way it can be set.
func (s *schema) label(key string) string {
	var ways []string
	if f := s.flags[key]; f != "" {
		ways = append(ways, "--"+f)
	}
	ways = append(ways, envName(key))
	return key + " (" + strings.Join(ways, ", ") + ")"
}

// section reports whether name holds keys: [media], [console.ssh].
func (s *schema) section(name string) bool {
	for key := range s.kinds {
		if strings.HasPrefix(key, name+".") {
			return true
		}
	}
	return false
}

func (s *schema) sections() []string {
	var secs []string
	for key := range s.kinds {
		for i, c := range key {
			if c == '.' && !slices.Contains(secs, key[:i]) {
				secs = append(secs, key[:i])
			}
		}
	}
	return append(secs, "cascade.links")
}

// loader gathers every mistake of one load, so that an operator fixes
// them in one pass.
type loader struct {
	s       *schema
	errs    []error
	file    map[string]any // key -> typed value, per source
	env     map[string]any
	flag    map[string]any
	envVars map[string]string // key -> the variable it came from
	links   map[string]linkemu.Params
	linkSet map[string]any // cascade.links.<node>.<param> -> typed value
}

func (l *loader) fail(format string, a ...any) {
	l.errs = append(l.errs, fmt.Errorf(format, a...))
}

// readConfig is the one loader of the node and of `switchyard config`:
// the file at path (a missing one is fine unless explicit), then env
// (os.Environ's form), then the flags that were given.
func readConfig(s *schema, path string, explicit bool, env []string, flags *pflag.FlagSet) (*loadedConfig, error) {
	l := &loader{s: s, file: map[string]any{}, env: map[string]any{}, flag: map[string]any{},
		envVars: map[string]string{}, links: map[string]linkemu.Params{}, linkSet: map[string]any{}}
	c := &loadedConfig{path: path}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		c.found = true
		tree := map[string]any{}
		if err := toml.Unmarshal(data, &tree); err != nil {
			var derr *toml.DecodeError
			if errors.As(err, &derr) {
				row, col := derr.Position()
				return nil, fmt.Errorf("config %s:%d:%d: %v", path, row, col, derr)
			}
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		l.walkFile(path, "", tree)
	case errors.Is(err, fs.ErrNotExist) && !explicit:
	default:
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	l.readEnv(env)
	l.readFlags(flags)
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}

	c.v = viper.New()
	c.values = map[string]any{}
	c.origins = map[string]origin{}
	for key, def := range s.defaults {
		c.v.SetDefault(key, def)
		c.values[key], c.origins[key] = def, origin{source: fromDefault}
	}
	for _, src := range []struct {
		vals map[string]any
		from string
	}{{l.file, fromFile}, {l.env, fromEnv}, {l.flag, fromFlag}} {
		for key, val := range src.vals {
			c.v.Set(key, val)
			c.values[key] = val
			switch src.from {
			case fromFile:
				c.origins[key] = origin{fromFile, path}
			case fromEnv:
				c.origins[key] = origin{fromEnv, l.envVars[key]}
			case fromFlag:
				c.origins[key] = origin{fromFlag, "--" + s.flags[key]}
			}
		}
	}
	for key, val := range l.linkSet {
		c.values[key], c.origins[key] = val, origin{fromFile, path}
	}
	c.links = l.links
	return c, nil
}

// walkFile checks the keys of one table of the file; prefix is its name.
func (l *loader) walkFile(path, prefix string, table map[string]any) {
	for _, name := range slices.Sorted(maps.Keys(table)) {
		raw := table[name]
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		_, known := l.s.kinds[key]
		sub, isTable := raw.(map[string]any)
		switch {
		case key == "cascade.links":
			l.cascadeLinks(path, raw)
		case known:
			val, err := l.s.kinds[key].fromTOML(raw)
			if err == nil {
				err = checkValue(key, val)
			}
			if err != nil {
				l.fail("%s: %v (in %s)", l.s.label(key), err, path)
				continue
			}
			l.file[key] = val
		case l.s.section(key):
			if !isTable {
				l.fail("%s: is a section, not a value: write [%s] and its keys under it (in %s)", key, key, path)
				continue
			}
			l.walkFile(path, key, sub)
		case isTable:
			near := closest(key, l.s.sections())
			if near != "" {
				near = "[" + near + "]"
			}
			l.fail("[%s]: unknown section%s (in %s)", key, didYouMean(near), path)
		default:
			l.fail("%s: unknown key%s (in %s)", key, didYouMean(closest(key, slices.Collect(maps.Keys(l.s.kinds)))), path)
		}
	}
}

// cascadeLinks reads [cascade.links.<node>] tables: emulated delay, jitter,
// loss and rate towards another node, for demos and tests on one machine.
// Node ids are free-form, so these are the one set of keys not in the
// defaults; they come from the file only.
func (l *loader) cascadeLinks(path string, raw any) {
	peers, ok := raw.(map[string]any)
	if !ok {
		l.fail("cascade.links: %s is not a table: write one [cascade.links.<node>] table per node (in %s)", tomlText(raw), path)
		return
	}
	for _, peer := range slices.Sorted(maps.Keys(peers)) {
		params, ok := peers[peer].(map[string]any)
		if !ok {
			l.fail("cascade.links.%s: %s is not a table of delay, jitter, loss, rate (in %s)", peer, tomlText(peers[peer]), path)
			continue
		}
		var p linkemu.Params
		for _, name := range slices.Sorted(maps.Keys(params)) {
			key := "cascade.links." + peer + "." + name
			kind, ok := linkParams[name]
			if !ok {
				near := closest(name, slices.Collect(maps.Keys(linkParams)))
				if near != "" {
					near = "cascade.links." + peer + "." + near
				}
				l.fail("%s: unknown link parameter%s (delay, jitter, loss, rate; in %s)", key, didYouMean(near), path)
				continue
			}
			val, err := kind.fromTOML(params[name])
			if err == nil {
				err = checkValue(key, val)
			}
			if err != nil {
				l.fail("%s: %v (in %s)", key, err, path)
				continue
			}
			switch name {
			case "delay":
				p.Delay = val.(time.Duration)
			case "jitter":
				p.Jitter = val.(time.Duration)
			case "loss":
				p.Loss = val.(float64)
			case "rate":
				p.RateBitsPerSec = int64(val.(int))
			}
			l.linkSet[key] = val
		}
		l.links[peer] = p
	}
}

// readEnv checks every SWITCHYARD_* variable. An empty one is unset (as
// viper had it: an environment file may leave a secret blank).
func (l *loader) readEnv(env []string) {
	slices.Sort(env)
	for _, kv := range env {
		name, text, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) || slices.Contains(nonConfigEnv, name) {
			continue
		}
		key, ok := l.s.env[name]
		if !ok {
			var names []string
			for n := range l.s.env {
				names = append(names, strings.TrimPrefix(n, envPrefix))
			}
			near := closest(strings.TrimPrefix(name, envPrefix), names)
			if near != "" {
				near = envPrefix + near + " (" + l.s.env[envPrefix+near] + ")"
			}
			l.fail("%s: unknown environment variable%s", name, didYouMean(near))
			continue
		}
		if text == "" {
			continue
		}
		val, err := l.s.kinds[key].fromText(text)
		if err == nil {
			err = checkValue(key, val)
		}
		if err != nil {
			l.fail("%s: %v (in the environment)", l.s.label(key), err)
			continue
		}
		l.env[key], l.envVars[key] = val, name
	}
}

// readFlags checks the flags that were given.
func (l *loader) readFlags(fs *pflag.FlagSet) {
	for _, key := range slices.Sorted(maps.Keys(l.s.flags)) {
		f := fs.Lookup(l.s.flags[key])
		if f == nil || !f.Changed {
			continue
		}
		val, err := l.s.kinds[key].fromText(f.Value.(*flagValue).texts...)
		if err == nil {
			err = checkValue(key, val)
		}
		if err != nil {
			l.fail("%s: %v (on the command line)", l.s.label(key), err)
			continue
		}
		l.flag[key] = val
	}
}

// flagValue keeps a flag's text for the loader, so that a bad flag gets the
// same check and message as a bad file or variable.
type flagValue struct {
	kind  valueKind
	def   string
	texts []string
}

func newFlagValue(kind valueKind, def any) *flagValue {
	f := &flagValue{kind: kind}
	switch d := def.(type) {
	case []string:
		f.def = strings.Join(d, ",")
	case bool:
		if d {
			f.def = "true"
		}
	default:
		f.def = fmt.Sprint(def)
	}
	return f
}

func (f *flagValue) String() string {
	if len(f.texts) == 0 {
		return f.def
	}
	return strings.Join(f.texts, ",")
}

func (f *flagValue) Set(s string) error {
	if f.kind != kindList {
		f.texts = f.texts[:0]
	}
	f.texts = append(f.texts, s)
	return nil
}

func (f *flagValue) Type() string { return f.kind.String() }

// addFlag registers the flag of key on fs.
func addFlag(fs *pflag.FlagSet, s *schema, key, name, usage string) {
	f := fs.VarPF(newFlagValue(s.kinds[key], s.defaults[key]), name, "", usage)
	if s.kinds[key] == kindBool {
		f.NoOptDefVal = "true"
	}
	s.flags[key] = name
}

// closest is the candidate nearest to s by edit distance, or "" when none
// is near enough to be a misspelling. A key is also compared by its last
// part, so [http] port finds media.port.
func closest(s string, candidates []string) string {
	slices.Sort(candidates)
	best, bestDist := "", math.MaxInt
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		si, ci := strings.LastIndexByte(s, '.'), strings.LastIndexByte(c, '.')
		if si >= 0 && ci >= 0 {
			d = min(d, editDistance(s[si+1:], c[ci+1:])+1)
		}
		if d < bestDist {
			best, bestDist = c, d
		}
	}
	if bestDist > max(2, len(s)/3) {
		return ""
	}
	return best
}

// didYouMean is "; did you mean X?", or "" without a near candidate.
func didYouMean(near string) string {
	if near == "" {
		return ""
	}
	return "; did you mean " + near + "?"
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of neighbours (acme_domian) cost 1.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

func logLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log.level %q: %w", s, err)
	}
	return l, nil
}
