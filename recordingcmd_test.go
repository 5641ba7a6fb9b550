package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

func TestRecordingMixUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"mux"}, {"mix"}, {"mix", "a", "b"}} {
		var out, errOut bytes.Buffer
		if code := recordingMain(t.Context(), args, &out, &errOut); code != 2 {
			t.Errorf("recording %q: status %d, want 2", args, code)
		}
	}
	var out, errOut bytes.Buffer
	if code := recordingMain(t.Context(), []string{"mix", t.TempDir()}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "manifest") {
		t.Errorf("a directory without a manifest: status %d, %q", code, errOut.String())
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"-i": "-i", "a b": "'a b'", "": "''", "it's": `'it'\''s'`, "[0:v]scale=640:360[v0]": "'[0:v]scale=640:360[v0]'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
		if _, err := exec.LookPath("sh"); err == nil && in != "" {
			echo, err := exec.Command("sh", "-c", "printf %s "+shellQuote(in)).Output()
			if err != nil || string(echo) != in {
				t.Errorf("sh reads %s as %q (%v)", shellQuote(in), echo, err)
			}
		}
	}
}
