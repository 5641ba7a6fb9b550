package auth

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify feeds arbitrary strings to Verify, and a valid token with one
// byte replaced: neither may panic, and the altered token must never verify.
func FuzzVerify(f *testing.F) {
	valid, err := Issue(testSecret, Claims{Room: "team-*", Name: "Ada", Identity: "u1", Grants: Grants{Publish: true, Subscribe: true}}, time.Hour, testNow)
	if err != nil {
		f.Fatal(err)
	}
	v := Verifier{Secret: testSecret, Now: func() time.Time { return testNow }}
	if _, err := v.Verify(valid, "team-a"); err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		valid, "", ".", "..", "a.b.c", valid + ".",
		sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims("team-a", pubSub, at(time.Hour))),
		handmade(`{"alg":"HS256"}`, `{"room":"*","grants":{"publish":true},"exp":1e300,"nbf":-1e300}`, testSecret),
		handmade(`{"alg":"HS256"}`, `{"room":"*","grants":{"publish":true},"exp":1700003600,"aud":[1]}`, testSecret),
	} {
		f.Add(s, uint16(0), byte('A'))
	}
	f.Add("", uint16(len(valid)-1), paddingTwin(valid[len(valid)-1]))
	f.Add("", uint16(40), byte('.'))
	f.Fuzz(func(t *testing.T, token string, pos uint16, b byte) {
		c, err := v.Verify(token, "team-a")
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code == "" {
				t.Fatalf("error %v (%T) is not an *Error with a code", err, err)
			}
		} else if c == nil || !c.Grants.Any() || !c.AllowsRoom("team-a") {
			t.Fatalf("accepted %q with claims %+v", token, c)
		}

		i := int(pos) % len(valid)
		if valid[i] == b {
			return
		}
		altered := valid[:i] + string([]byte{b}) + valid[i+1:]
		if c, err := v.Verify(altered, "team-a"); err == nil {
			t.Fatalf("token altered at byte %d to %q verified: %+v", i, b, c)
		}
	})
}
