package node

import (
	"github.com/pion/webrtc/v4"

	"github.com/switchyard/switchyard/internal/srtpprofile"
)

// setSRTPProfiles makes the node's PeerConnections negotiate
// AEAD_AES_128_GCM, with AES_CM_128_HMAC_SHA1_80 as fallback
// (internal/srtpprofile says why), instead of pion's default, which puts
// AEAD_AES_256_GCM first.
//
// Offering them in that order is not enough: the DTLS server picks the
// profile, by its own preference among those the client offers (RFC 5764
// 4.1.2), and Chromium as the server picks AES_CM_128_HMAC_SHA1_80
// whenever it is offered (it ranks GCM last for its larger tag). So the
// node also answers as the DTLS server (a=setup:passive, which RFC 5763
// 5 allows the answerer): a browser offers setup:actpass, becomes the DTLS
// client and offers all its profiles, and the node's order decides. When
// the node is the offerer, the answerer chooses, and pion and browsers
// answer setup:active, which makes the node the server too.
func setSRTPProfiles(se *webrtc.SettingEngine) {
	srtpprofile.Apply(se)
	// Fails only for a role other than client or server.
	_ = se.SetAnsweringDTLSRole(webrtc.DTLSRoleServer)
}
