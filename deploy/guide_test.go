package deploy

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestGuideKeysExist checks that every configuration key the guide, the
// shipped config and the unit name exists in main.go: keys in toml blocks,
// section.key in prose and comments, and SWITCHYARD_* environment variables.
func TestGuideKeysExist(t *testing.T) {
	keys := knownKeys(t)
	g := readGuide(t)
	found := 0
	check := func(where, key string) {
		found++
		if !keys.has(key) && !keys.table(key) {
			t.Errorf("%s names config key %q, which main.go's viper defaults do not have", where, key)
		}
	}
	for _, b := range g.blocks {
		if b.info == "toml" {
			for _, k := range parseTOML(t, b.text).AllKeys() {
				check(guideFile+" toml block at line "+strconv.Itoa(b.line), k)
			}
		}
	}
	for _, k := range parseTOML(t, read(t, configFile)).AllKeys() {
		check(configFile, k)
	}
	mention := mentionPattern(keys.sections())
	texts := map[string]string{guideFile: g.text, configFile: read(t, configFile), unitFile: read(t, unitFile)}
	for name, text := range texts {
		for _, k := range mentions(mention, text) {
			check(name+" (prose)", k)
		}
	}
	env := keys.envNames()
	envRef := regexp.MustCompile(`SWITCHYARD_[A-Z][A-Z0-9_]*`)
	for name, text := range texts {
		for _, e := range envRef.FindAllString(text, -1) {
			found++
			if _, ok := env[e]; !ok {
				t.Errorf("%s names %s, which is no key's variable (SWITCHYARD_<SECTION>_<KEY> of main.go's defaults)", name, e)
			}
		}
	}
	if found < 40 {
		t.Errorf("found only %d key mentions: the parser is out of date", found)
	}
}

// mentionPattern matches section.key outside words, paths and host names.
func mentionPattern(sections []string) *regexp.Regexp {
	return regexp.MustCompile(`(?:^|[^\w./:@-])((?:` + strings.Join(sections, "|") + `)(?:\.[a-z_]+)+)`)
}

// mentions are the keys named in text; a match followed by more of a name
// (meet.example.org, a path) is not one.
func mentions(re *regexp.Regexp, text string) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatchIndex(text, -1) {
		end := m[3]
		if end < len(text) {
			next := text[end]
			if next == '-' || isWord(next) || next == '.' && end+1 < len(text) && isWord(text[end+1]) {
				continue
			}
		}
		out = append(out, text[m[2]:m[3]])
	}
	return out
}

func isWord(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// invocation matches switchyard run as a command: at the start of a
// command (line, after ; & | ( ` =, sudo or exec), by name or by its
// installed path. "sudo -u switchyard", "chown switchyard:..." and
// "go build -o /usr/local/bin/switchyard" are not invocations.
var invocation = regexp.MustCompile("(?m)(?:^|[;&|(`=][ \\t]*|\\bsudo\\s+|\\bexec\\s+)(?:/usr/local/bin/)?switchyard(?:[ \\t]+([^'\"`;&|)\\n]*))?(?:$|['\"`;&|)\\s])")

// TestGuideCommandsExist checks every switchyard command line in the guide
// and the unit: its subcommand is in main.go's commands map, and each of its
// flags appears in that command's --help.
func TestGuideCommandsExist(t *testing.T) {
	cmds := subcommands(t)
	g := readGuide(t)
	texts := map[string]string{
		guideFile: strings.ReplaceAll(g.text, "\\\n", " "),
		unitFile:  read(t, unitFile),
	}
	help := map[string]string{}
	usage := func(sub string) string {
		if h, ok := help[sub]; ok {
			return h
		}
		args := []string{"--help"}
		if sub != "" {
			args = []string{sub, "--help"}
		}
		out, errOut, code := run(t, nil, args...)
		if code != 0 {
			t.Fatalf("switchyard %v: exit %d\n%s", args, code, errOut)
		}
		help[sub] = out + errOut
		return help[sub]
	}
	var used []string
	for name, text := range texts {
		for _, m := range invocation.FindAllStringSubmatch(text, -1) {
			fields := strings.Fields(m[1])
			sub := ""
			if len(fields) > 0 && regexp.MustCompile(`^[a-z][a-z-]*$`).MatchString(fields[0]) {
				sub, fields = fields[0], fields[1:]
				if !slices.Contains(cmds, sub) {
					t.Errorf("%s: `switchyard %s`: no such subcommand (main.go has %v)", name, sub, cmds)
					continue
				}
			}
			used = append(used, sub)
			for _, f := range fields {
				if !strings.HasPrefix(f, "--") {
					continue
				}
				flag, _, _ := strings.Cut(f, "=")
				if !regexp.MustCompile(regexp.QuoteMeta(flag) + `\b`).MatchString(usage(sub)) {
					t.Errorf("%s: `switchyard %s ... %s`: no such flag in `switchyard %s --help`", name, sub, flag, sub)
				}
			}
		}
	}
	for _, want := range []string{"", "token", "check-config"} {
		if !slices.Contains(used, want) {
			t.Errorf("found no `switchyard %s` command line: the guide lost it, or the parser is out of date", want)
		}
	}
}
