package bench

import (
	"strings"
	"testing"
)

// TestSRTPLine: the summary names the profile the reflector runs, which is
// the one the node and its clients list first.
func TestSRTPLine(t *testing.T) {
	got := srtpLine()
	if strings.Count(got, "AEAD_AES_128_GCM") != 2 {
		t.Errorf("srtpLine() = %q, want AEAD_AES_128_GCM for the node and for the reflector", got)
	}
}
