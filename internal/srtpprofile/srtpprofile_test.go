package srtpprofile

import (
	"testing"

	"github.com/pion/dtls/v3"
	"github.com/pion/srtp/v3"
)

func TestOrder(t *testing.T) {
	got := Profiles()
	want := []dtls.SRTPProtectionProfile{dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80}
	if len(got) != len(want) {
		t.Fatalf("Profiles() = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Profiles()[%d] = %s, want %s", i, Name(uint16(got[i])), Name(uint16(want[i])))
		}
	}
	// The DTLS and SRTP libraries number profiles alike (the IANA registry).
	if uint16(got[0]) != uint16(Preferred) {
		t.Errorf("Preferred is %s, the first profile %s", Name(uint16(Preferred)), Name(uint16(got[0])))
	}
	got[0] = dtls.SRTP_NULL_HMAC_SHA1_80
	if Profiles()[0] != dtls.SRTP_AEAD_AES_128_GCM {
		t.Error("changing the returned slice changed the preference")
	}
}

func TestName(t *testing.T) {
	for _, tt := range []struct {
		id   uint16
		want string
	}{
		{uint16(srtp.ProtectionProfileAeadAes128Gcm), "AEAD_AES_128_GCM"},
		{uint16(srtp.ProtectionProfileAeadAes256Gcm), "AEAD_AES_256_GCM"},
		{uint16(srtp.ProtectionProfileAes128CmHmacSha1_80), "AES_CM_128_HMAC_SHA1_80"},
		{uint16(dtls.SRTP_AES128_CM_HMAC_SHA1_32), "AES_CM_128_HMAC_SHA1_32"},
		{0x4242, "0x4242"},
	} {
		if got := Name(tt.id); got != tt.want {
			t.Errorf("Name(%#04x) = %q, want %q", tt.id, got, tt.want)
		}
	}
}
