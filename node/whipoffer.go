package node

// What the node reads from a WHIP or WHEP offer before pion applies it.

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/media"
)

// offerInfo describes an offer's audio and video m-lines.
type offerInfo struct {
	sends    bool                // some m-line sends (sendonly or sendrecv)
	receives map[media.Kind]bool // kinds with an m-line that receives (recvonly or sendrecv)
	// ufrag and pwd are the client's ICE credentials.
	ufrag, pwd string
	// ridLayers maps the simulcast RIDs of the first video m-line to
	// layers, when they are numbers; nil otherwise.
	ridLayers map[string]int
}

// inspectOffer reads an offer that signal.CheckSDP accepted.
func inspectOffer(offer string) (offerInfo, error) {
	var s sdp.SessionDescription
	if err := s.UnmarshalString(offer); err != nil {
		return offerInfo{}, fmt.Errorf("unparsable SDP: %w", err)
	}
	info := offerInfo{receives: map[media.Kind]bool{}}
	info.ufrag, _ = s.Attribute("ice-ufrag")
	info.pwd, _ = s.Attribute("ice-pwd")
	simulcast := false
	for _, md := range s.MediaDescriptions {
		if info.ufrag == "" {
			info.ufrag, _ = md.Attribute("ice-ufrag")
		}
		if info.pwd == "" {
			info.pwd, _ = md.Attribute("ice-pwd")
		}
		kind := media.KindOf(webrtc.NewRTPCodecType(md.MediaName.Media))
		if kind == 0 {
			continue
		}
		send, recv := true, true
		for _, a := range md.Attributes {
			switch a.Key {
			case "sendonly":
				send, recv = true, false
			case "recvonly":
				send, recv = false, true
			case "inactive":
				send, recv = false, false
			}
		}
		info.sends = info.sends || send
		if recv {
			info.receives[kind] = true
		}
		if kind == media.KindVideo && send && !simulcast {
			if v, ok := md.Attribute("simulcast"); ok {
				simulcast = true
				info.ridLayers = numberedLayers(v)
			}
		}
	}
	if info.ufrag == "" || info.pwd == "" {
		return info, errors.New("the offer carries no ICE credentials (ice-ufrag, ice-pwd)")
	}
	return info, nil
}

// numberedLayers maps the RIDs of an a=simulcast value ("send 0;1;2") to
// layer indexes when all of them are numbers, as OBS sends them: "0" is its
// highest resolution, so the lowest number becomes the highest layer. A
// fourth layer and beyond, the smallest, are not forwarded (-1). Named RIDs
// (q, h, f) keep media.LayerIndex's meaning: nil.
func numberedLayers(simulcast string) map[string]int {
	fields := strings.Fields(simulcast)
	var list string
	for i := 0; i+1 < len(fields); i++ {
		if fields[i] == "send" {
			list = fields[i+1]
			break
		}
	}
	if list == "" {
		return nil
	}
	type rid struct {
		name string
		n    int
	}
	var rids []rid
	for _, alt := range strings.FieldsFunc(list, func(r rune) bool { return r == ';' || r == ',' }) {
		name := strings.TrimPrefix(alt, "~")
		n, err := strconv.Atoi(name)
		if err != nil || n < 0 || strconv.Itoa(n) != name {
			return nil
		}
		rids = append(rids, rid{name, n})
	}
	if len(rids) == 0 || len(rids) > 16 {
		return nil
	}
	sort.Slice(rids, func(i, j int) bool { return rids[i].n < rids[j].n })
	used := min(len(rids), media.MaxLayers)
	out := make(map[string]int, len(rids))
	for k, r := range rids {
		out[r.name] = -1
		if k < used {
			out[r.name] = used - 1 - k
		}
	}
	return out
}
