// Package srtpprofile is the SRTP protection profiles Switchyard offers and
// answers with in the DTLS handshake, in order of preference. The node, the
// Go client and the bench's bare reflector share them, so that what the
// bench compares pays for the same cipher.
//
// AEAD_AES_128_GCM (RFC 7714) comes first: it encrypts and authenticates
// in one pass on AES-NI and carry-less multiply, where
// AES_CM_128_HMAC_SHA1_80 adds an HMAC-SHA1 over every packet, and its
// 128-bit key takes 10 AES rounds to AEAD_AES_256_GCM's 14 (pion's default
// puts AEAD_AES_256_GCM first). AES_CM_128_HMAC_SHA1_80 stays as the
// fallback every WebRTC endpoint implements (RFC 8827).
package srtpprofile

import (
	"fmt"

	"github.com/pion/dtls/v3"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// order is the preference, most preferred first.
var order = [...]dtls.SRTPProtectionProfile{
	dtls.SRTP_AEAD_AES_128_GCM,
	dtls.SRTP_AES128_CM_HMAC_SHA1_80,
}

// Preferred is the first profile, as the SRTP library names it: what two
// Switchyard endpoints negotiate.
const Preferred = srtp.ProtectionProfileAeadAes128Gcm

// Profiles returns the profiles in order of preference, most preferred
// first; the caller may keep or change the slice.
func Profiles() []dtls.SRTPProtectionProfile {
	out := make([]dtls.SRTPProtectionProfile, len(order))
	copy(out, order[:])
	return out
}

// Apply makes a PeerConnection built with se offer (as DTLS client) and
// choose (as DTLS server) the profiles in this order.
func Apply(se *webrtc.SettingEngine) {
	se.SetSRTPProtectionProfiles(Profiles()...)
}

// Name is a profile's name as RFC 5764 and RFC 7714 spell it, which is also
// how browsers name it in getStats() (RTCTransportStats.srtpCipher); a
// profile without a name is shown as its number.
func Name(id uint16) string {
	switch id {
	case 0x0001:
		return "AES_CM_128_HMAC_SHA1_80"
	case 0x0002:
		return "AES_CM_128_HMAC_SHA1_32"
	case 0x0005:
		return "NULL_HMAC_SHA1_80"
	case 0x0006:
		return "NULL_HMAC_SHA1_32"
	case 0x0007:
		return "AEAD_AES_128_GCM"
	case 0x0008:
		return "AEAD_AES_256_GCM"
	}
	return fmt.Sprintf("0x%04x", id)
}
