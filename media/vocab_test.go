package media

import (
	"encoding/json"
	"testing"

	"github.com/pion/webrtc/v4"
)

func TestKindText(t *testing.T) {
	for _, k := range []Kind{KindAudio, KindVideo} {
		b, err := json.Marshal(k)
		if err != nil {
			t.Fatal(err)
		}
		var back Kind
		if err := json.Unmarshal(b, &back); err != nil || back != k {
			t.Fatalf("%v -> %s -> %v, %v", k, b, back, err)
		}
		if KindOf(k.CodecType()) != k {
			t.Fatalf("%v does not survive pion's codec type", k)
		}
	}
	var k Kind
	if err := json.Unmarshal([]byte(`"data"`), &k); err == nil {
		t.Fatal(`"data" accepted as a kind`)
	}
	if _, err := json.Marshal(Kind(0)); err == nil {
		t.Fatal("the zero kind marshalled")
	}
	if KindOf(webrtc.RTPCodecType(0)) != 0 {
		t.Fatal("an unknown codec type has a kind")
	}
}

func TestLayerSet(t *testing.T) {
	var s LayerSet
	s = s.With(0).With(2).With(7).With(-1)
	if !s.Has(0) || s.Has(1) || !s.Has(2) || s.Has(7) || s.Has(-1) {
		t.Fatalf("set %03b", s)
	}
	if !s.Valid() || LayerSet(1<<MaxLayers).Valid() || !AllLayers.Valid() {
		t.Fatal("Valid is wrong")
	}
}

func TestSourceText(t *testing.T) {
	for _, s := range Sources {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back Source
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Fatalf("%v -> %s -> %v, %v", s, b, back, err)
		}
	}
	var s Source
	if err := json.Unmarshal([]byte(`"window"`), &s); err == nil {
		t.Fatal(`"window" accepted as a source`)
	}
	if SourceMic.Kind() != KindAudio || SourceScreen.Kind() != KindVideo || SourceOf(KindVideo) != SourceCamera {
		t.Fatal("source kinds are wrong")
	}
	if Source(0).Valid() || Source(9).Valid() {
		t.Fatal("invalid sources pass")
	}
}
