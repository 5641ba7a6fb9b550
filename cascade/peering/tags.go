package peering

import (
	"github.com/switchyard/switchyard/cascade/relay"
	"github.com/switchyard/switchyard/media"
)

// Relay layer tags: video layer i travels as i+1, audio as tagAudio, so that
// the relay can count bytes per layer and the receiving node knows which
// layer of which track a packet is.
const (
	tagAudio relay.Layer = media.MaxLayers + 1
	numTags              = int(tagAudio) + 1
)

// tagOf is the relay tag of one layer of a track.
func tagOf(kind media.Kind, layer int) relay.Layer {
	if kind == media.KindAudio {
		return tagAudio
	}
	return relay.Layer(layer + 1)
}

// trackOf reads a relay tag: the kind and layer it carries, ok false for a
// tag no node sends.
func trackOf(tag relay.Layer) (kind media.Kind, layer int, ok bool) {
	switch {
	case tag == tagAudio:
		return media.KindAudio, 0, true
	case tag >= 1 && int(tag) <= media.MaxLayers:
		return media.KindVideo, int(tag) - 1, true
	}
	return 0, 0, false
}

// tagName names a tag in snapshots: the layer's RID, or "audio".
func tagName(tag relay.Layer) string {
	kind, layer, ok := trackOf(tag)
	switch {
	case !ok:
		return ""
	case kind == media.KindAudio:
		return "audio"
	}
	return media.RIDs[layer]
}
