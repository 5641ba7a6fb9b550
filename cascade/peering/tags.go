package peering

import (
	"github.com/switchyard/switchyard/cascade/relay"
	"github.com/switchyard/switchyard/media"
)

// Relay layer tags name the track and layer a relayed packet carries, so
// that the relay can count bytes per layer and the receiving node knows
// where the packet goes: camera layer i travels as i+1, the microphone as
// tagAudio, screen layer i as tagScreen+i.
const (
	tagAudio  relay.Layer = media.MaxLayers + 1
	tagScreen relay.Layer = tagAudio + 1
	numTags               = int(tagScreen) + media.MaxLayers
)

// tagOf is the relay tag of one layer of a track.
func tagOf(src media.Source, layer int) relay.Layer {
	switch src {
	case media.SourceMic:
		return tagAudio
	case media.SourceScreen:
		return tagScreen + relay.Layer(layer)
	}
	return relay.Layer(layer + 1)
}

// trackOf reads a relay tag: the source and layer it carries, ok false for
// a tag no node sends.
func trackOf(tag relay.Layer) (src media.Source, layer int, ok bool) {
	switch {
	case tag == tagAudio:
		return media.SourceMic, 0, true
	case tag >= 1 && int(tag) <= media.MaxLayers:
		return media.SourceCamera, int(tag) - 1, true
	case tag >= tagScreen && int(tag) < numTags:
		return media.SourceScreen, int(tag - tagScreen), true
	}
	return 0, 0, false
}

// tagName names a tag in snapshots: the layer's RID ("q", "h", "f"), "audio",
// or the screen's layer ("screen-f").
func tagName(tag relay.Layer) string {
	src, layer, ok := trackOf(tag)
	switch {
	case !ok:
		return ""
	case src == media.SourceMic:
		return "audio"
	case src == media.SourceScreen:
		return "screen-" + media.RIDs[layer]
	}
	return media.RIDs[layer]
}
