package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testSecret  = []byte("0123456789abcdef0123456789abcdef")
	otherSecret = []byte("fedcba9876543210fedcba9876543210")
	testNow     = time.Unix(1_700_000_000, 0)
)

func at(d time.Duration) *jwt.NumericDate { return jwt.NewNumericDate(testNow.Add(d)) }

func claims(room string, g Grants, exp *jwt.NumericDate) Claims {
	return Claims{
		Room: room, Name: "Ada", Identity: "user-1", Grants: g,
		RegisteredClaims: jwt.RegisteredClaims{IssuedAt: at(-time.Minute), NotBefore: at(-time.Minute), ExpiresAt: exp},
	}
}

var pubSub = Grants{Publish: true, Subscribe: true}

// sign signs c with any method and key, bypassing Issue's own checks.
func sign(t testing.TB, m jwt.SigningMethod, key any, c jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// handmade builds header.payload and an HMAC-SHA256 signature over it with
// secret, whatever the header claims the algorithm is.
func handmade(header, payload string, secret []byte) string {
	enc := base64.RawURLEncoding
	text := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(text))
	return text + "." + enc.EncodeToString(mac.Sum(nil))
}

func TestVerify(t *testing.T) {
	good := sign(t, jwt.SigningMethodHS256, testSecret, claims("team-a", pubSub, at(time.Hour)))
	payload := `{"room":"team-a","grants":{"publish":true},"exp":1700003600}`
	tests := []struct {
		name   string
		token  string
		room   string
		v      Verifier // Secret and Now filled in when empty
		code   string   // "" = accepted
		grants Grants
	}{
		{name: "valid", token: good, room: "team-a", grants: pubSub},
		{name: "empty", token: "", room: "team-a", code: CodeMissing},
		{name: "oversized", token: strings.Repeat("a", DefaultMaxLen+1), room: "team-a", code: CodeTooLarge},
		{name: "over custom limit", token: good, room: "team-a", v: Verifier{MaxLen: len(good) - 1}, code: CodeTooLarge},
		{name: "garbage", token: "not a token", room: "team-a", code: CodeInvalid},
		{name: "three empty parts", token: "..", room: "team-a", code: CodeInvalid},
		{name: "four parts", token: good + ".x", room: "team-a", code: CodeInvalid},
		{name: "bad base64", token: "!!!.???.***", room: "team-a", code: CodeInvalid},
		{name: "header not JSON", token: handmade(`alg`, payload, testSecret), room: "team-a", code: CodeInvalid},
		{name: "payload not JSON", token: handmade(`{"alg":"HS256"}`, `[1,2`, testSecret), room: "team-a", code: CodeInvalid},
		{name: "exp a string", token: handmade(`{"alg":"HS256"}`, `{"room":"team-a","grants":{"publish":true},"exp":"soon"}`, testSecret), room: "team-a", code: CodeInvalid},
		{name: "handmade valid", token: handmade(`{"alg":"HS256","typ":"JWT"}`, payload, testSecret), room: "team-a", grants: Grants{Publish: true}},
		{name: "forged signature", token: sign(t, jwt.SigningMethodHS256, otherSecret, claims("team-a", pubSub, at(time.Hour))), room: "team-a", code: CodeInvalid},
		{name: "signature cut", token: good[:strings.LastIndexByte(good, '.')+1], room: "team-a", code: CodeInvalid},
		{name: "signature padding bits changed", token: good[:len(good)-1] + string(paddingTwin(good[len(good)-1])), room: "team-a", code: CodeInvalid},
		{name: "alg none", token: sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims("team-a", pubSub, at(time.Hour))), room: "team-a", code: CodeInvalid},
		{name: "alg none with HMAC signature", token: handmade(`{"alg":"none"}`, payload, testSecret), room: "team-a", code: CodeInvalid},
		{name: "alg missing", token: handmade(`{"typ":"JWT"}`, payload, testSecret), room: "team-a", code: CodeInvalid},
		{name: "RS256 header, HMAC signature", token: handmade(`{"alg":"RS256"}`, payload, testSecret), room: "team-a", code: CodeInvalid},
		{name: "HS512", token: sign(t, jwt.SigningMethodHS512, testSecret, claims("team-a", pubSub, at(time.Hour))), room: "team-a", code: CodeInvalid},
		{name: "HS384", token: sign(t, jwt.SigningMethodHS384, testSecret, claims("team-a", pubSub, at(time.Hour))), room: "team-a", code: CodeInvalid},
		{name: "expired", token: sign(t, jwt.SigningMethodHS256, testSecret, claims("team-a", pubSub, at(-time.Minute))), room: "team-a", code: CodeExpired},
		{name: "expired within skew", token: sign(t, jwt.SigningMethodHS256, testSecret, claims("team-a", pubSub, at(-20*time.Second))), room: "team-a", grants: pubSub},
		{name: "expired just past skew", token: sign(t, jwt.SigningMethodHS256, testSecret, claims("team-a", pubSub, at(-31*time.Second))), room: "team-a", code: CodeExpired},
		{name: "expired within custom skew", token: sign(t, jwt.SigningMethodHS256, testSecret, claims("team-a", pubSub, at(-time.Minute))), room: "team-a", v: Verifier{Skew: 2 * time.Minute}, grants: pubSub},
		{name: "expired, negative skew is none", token: sign(t, jwt.SigningMethodHS256, testSecret, claims("team-a", pubSub, at(-time.Second))), room: "team-a", v: Verifier{Skew: -1}, code: CodeExpired},
		{name: "not yet valid", token: sign(t, jwt.SigningMethodHS256, testSecret, withNbf(claims("team-a", pubSub, at(time.Hour)), at(time.Minute))), room: "team-a", code: CodeNotYetValid},
		{name: "not yet valid within skew", token: sign(t, jwt.SigningMethodHS256, testSecret, withNbf(claims("team-a", pubSub, at(time.Hour)), at(20*time.Second))), room: "team-a", grants: pubSub},
		{name: "issued in the future", token: sign(t, jwt.SigningMethodHS256, testSecret, withIat(claims("team-a", pubSub, at(time.Hour)), at(time.Minute))), room: "team-a", code: CodeNotYetValid},
		{name: "missing exp", token: sign(t, jwt.SigningMethodHS256, testSecret, claims("team-a", pubSub, nil)), room: "team-a", code: CodeInvalid},
		{name: "wrong room", token: good, room: "team-b", code: CodeWrongRoom},
		{name: "room prefix only", token: good, room: "team", code: CodeWrongRoom},
		{name: "empty room asked", token: good, room: "", code: CodeWrongRoom},
		{name: "pattern room", token: sign(t, jwt.SigningMethodHS256, testSecret, claims("team-*", pubSub, at(time.Hour))), room: "team-blue", grants: pubSub},
		{name: "pattern room, other prefix", token: sign(t, jwt.SigningMethodHS256, testSecret, claims("team-*", pubSub, at(time.Hour))), room: "teams", code: CodeWrongRoom},
		{name: "any room", token: sign(t, jwt.SigningMethodHS256, testSecret, claims("*", pubSub, at(time.Hour))), room: "x.y_z-1", grants: pubSub},
		{name: "any room, invalid name asked", token: sign(t, jwt.SigningMethodHS256, testSecret, claims("*", pubSub, at(time.Hour))), room: "a/b", code: CodeWrongRoom},
		{name: "no room claim", token: sign(t, jwt.SigningMethodHS256, testSecret, claims("", pubSub, at(time.Hour))), room: "team-a", code: CodeInvalid},
		{name: "room claim with bad characters", token: sign(t, jwt.SigningMethodHS256, testSecret, claims("team a", pubSub, at(time.Hour))), room: "team a", code: CodeInvalid},
		{name: "name with control character", token: sign(t, jwt.SigningMethodHS256, testSecret, withName(claims("team-a", pubSub, at(time.Hour)), "a\nb")), room: "team-a", code: CodeInvalid},
		{name: "name too long", token: sign(t, jwt.SigningMethodHS256, testSecret, withName(claims("team-a", pubSub, at(time.Hour)), strings.Repeat("é", MaxNameLen+1))), room: "team-a", code: CodeInvalid},
		{name: "no grants", token: sign(t, jwt.SigningMethodHS256, testSecret, claims("team-a", Grants{}, at(time.Hour))), room: "team-a", code: CodeNoGrants},
		{name: "moderator only", token: sign(t, jwt.SigningMethodHS256, testSecret, claims("team-a", Grants{Moderator: true}, at(time.Hour))), room: "team-a", grants: Grants{Moderator: true}},
		{name: "verifier secret short", token: good, room: "team-a", v: Verifier{Secret: testSecret[:MinSecretLen-1]}, code: CodeBadSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.v
			if v.Secret == nil {
				v.Secret = testSecret
			}
			if v.Now == nil {
				v.Now = func() time.Time { return testNow }
			}
			c, err := v.Verify(tt.token, tt.room)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if c.Grants != tt.grants {
					t.Errorf("grants %+v, want %+v", c.Grants, tt.grants)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want *Error with code %s", err, err, tt.code)
			}
			if e.Code != tt.code {
				t.Errorf("code %s (%s), want %s", e.Code, e.Reason, tt.code)
			}
			if c != nil {
				t.Errorf("claims returned with an error: %+v", c)
			}
		})
	}
}

// paddingTwin returns the base64url character that differs from c only in
// its lowest bit. In the last character of a 32-byte signature (43
// characters, 258 bits) that bit is padding, so a lax decoder reads the same
// signature from both.
func paddingTwin(c byte) byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	return alphabet[strings.IndexByte(alphabet, c)^1]
}

func withNbf(c Claims, t *jwt.NumericDate) Claims { c.NotBefore = t; return c }
func withIat(c Claims, t *jwt.NumericDate) Claims { c.IssuedAt = t; return c }
func withName(c Claims, name string) Claims       { c.Name = name; return c }

func TestIssueRoundTrip(t *testing.T) {
	in := Claims{Room: "team-*", Name: "Ada Lovelace", Identity: "u-42", Grants: Grants{Subscribe: true, Moderator: true}}
	tok, err := Issue(testSecret, in, 2*time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	v := Verifier{Secret: testSecret, Now: func() time.Time { return testNow.Add(2*time.Hour - time.Second) }}
	c, err := v.Verify(tok, "team-red")
	if err != nil {
		t.Fatal(err)
	}
	if c.Room != in.Room || c.Name != in.Name || c.Identity != in.Identity || c.Grants != in.Grants {
		t.Errorf("claims %+v, want %+v", c, in)
	}
	if got := c.ExpiresAt.Time; !got.Equal(testNow.Add(2 * time.Hour)) {
		t.Errorf("exp %v, want %v", got, testNow.Add(2*time.Hour))
	}
	if !c.NotBefore.Time.Equal(testNow) || !c.IssuedAt.Time.Equal(testNow) {
		t.Errorf("nbf %v iat %v, want %v", c.NotBefore, c.IssuedAt, testNow)
	}
	// The identity travels as the JWT subject.
	if !strings.Contains(decodePayload(t, tok), `"sub":"u-42"`) {
		t.Errorf("payload %s has no sub", decodePayload(t, tok))
	}
	v.Now = func() time.Time { return testNow.Add(2*time.Hour + DefaultSkew + time.Second) }
	if _, err := v.Verify(tok, "team-red"); err == nil {
		t.Error("verified after ttl + skew")
	}
}

func decodePayload(t *testing.T, tok string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIssueRefuses(t *testing.T) {
	ok := Claims{Room: "r", Grants: Grants{Subscribe: true}}
	tests := []struct {
		name   string
		secret []byte
		c      Claims
		ttl    time.Duration
	}{
		{"short secret", testSecret[:MinSecretLen-1], ok, time.Hour},
		{"nil secret", nil, ok, time.Hour},
		{"zero ttl", testSecret, ok, 0},
		{"negative ttl", testSecret, ok, -time.Hour},
		{"no room", testSecret, Claims{Grants: ok.Grants}, time.Hour},
		{"bad room", testSecret, Claims{Room: "a b", Grants: ok.Grants}, time.Hour},
		{"no grants", testSecret, Claims{Room: "r"}, time.Hour},
		{"control character in identity", testSecret, Claims{Room: "r", Identity: "a\x00", Grants: ok.Grants}, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tok, err := Issue(tt.secret, tt.c, tt.ttl, testNow); err == nil {
				t.Errorf("issued %s", tok)
			}
		})
	}
}

func TestCheckSecret(t *testing.T) {
	if err := CheckSecret(testSecret); err != nil {
		t.Errorf("32-byte secret refused: %v", err)
	}
	for _, s := range [][]byte{nil, {}, testSecret[:MinSecretLen-1]} {
		if CheckSecret(s) == nil {
			t.Errorf("%d-byte secret accepted", len(s))
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	tok, err := Issue(testSecret, Claims{Room: "team-*", Name: "Ada", Grants: pubSub}, time.Hour, testNow)
	if err != nil {
		b.Fatal(err)
	}
	v := Verifier{Secret: testSecret, Now: func() time.Time { return testNow }}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok, "team-a"); err != nil {
			b.Fatal(err)
		}
	}
}
