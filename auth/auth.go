// Package auth issues and verifies the signed join tokens (HS256 JWTs) that
// admit a participant to a conference.
package auth

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// MinSecretLen is the shortest HMAC secret accepted, in bytes: HS256 keys
// shorter than its 32-byte output are guessable faster than the hash.
const MinSecretLen = 32

// Defaults of a Verifier's zero fields.
const (
	DefaultSkew   = 30 * time.Second
	DefaultMaxLen = 4 << 10
)

// Limits on the claims, in characters; the room limit matches signaling's.
const (
	MaxRoomLen     = 64
	MaxNameLen     = 64
	MaxIdentityLen = 128
)

// Error codes, stable: clients and logs may match on them.
const (
	CodeMissing     = "token-missing"
	CodeInvalid     = "token-invalid"
	CodeExpired     = "token-expired"
	CodeNotYetValid = "token-not-yet-valid"
	CodeWrongRoom   = "token-wrong-room"
	CodeTooLarge    = "token-too-large"
	CodeNoGrants    = "token-no-grants"
	// CodeBadSecret is the verifier's own fault (a missing or short secret),
	// not the client's.
	CodeBadSecret = "secret-too-short"
)

// Error is why a token was refused. Reason is for people and may change;
// Code does not.
type Error struct {
	Code, Reason string
}

func (e *Error) Error() string { return "auth: " + e.Code + ": " + e.Reason }

func fail(code, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// Grants are what a token allows in its room.
type Grants struct {
	Publish   bool `json:"publish,omitempty"`
	Subscribe bool `json:"subscribe,omitempty"`
	Moderator bool `json:"moderator,omitempty"`
}

// Any reports whether at least one grant is set.
func (g Grants) Any() bool { return g.Publish || g.Subscribe || g.Moderator }

// Claims are the payload of a join token. Identity is carried as the JWT
// subject ("sub"); the embedded RegisteredClaims.Subject is not used.
type Claims struct {
	// Room is a conference name, or a pattern where '*' matches any run of
	// characters ("team-*", "*").
	Room     string `json:"room"`
	Name     string `json:"name,omitempty"`
	Identity string `json:"sub,omitempty"`
	Grants   Grants `json:"grants"`
	jwt.RegisteredClaims
}

// CheckSecret reports whether secret is usable for signing and verifying.
func CheckSecret(secret []byte) error {
	if len(secret) < MinSecretLen {
		return fmt.Errorf("auth: secret is %d bytes, need at least %d", len(secret), MinSecretLen)
	}
	return nil
}

// Issue signs c as an HS256 token valid from now for ttl; it sets iat, nbf
// and exp, overriding any in c.
func Issue(secret []byte, c Claims, ttl time.Duration, now time.Time) (string, error) {
	if err := CheckSecret(secret); err != nil {
		return "", err
	}
	if ttl <= 0 {
		return "", fmt.Errorf("auth: ttl %v is not positive", ttl)
	}
	if err := c.check(); err != nil {
		return "", fmt.Errorf("auth: issue: %s", err.Reason)
	}
	now = now.Truncate(time.Second)
	c.IssuedAt = jwt.NewNumericDate(now)
	c.NotBefore = jwt.NewNumericDate(now)
	c.ExpiresAt = jwt.NewNumericDate(now.Add(ttl))
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, &c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	return s, nil
}

// Verifier checks join tokens. The zero values of Skew, Now and MaxLen mean
// DefaultSkew, time.Now and DefaultMaxLen; a negative Skew means none.
type Verifier struct {
	Secret []byte
	Skew   time.Duration
	Now    func() time.Time
	MaxLen int
}

// Verify returns the claims of token if it is a well-formed HS256 token signed
// with v.Secret, currently valid (within Skew), carrying an expiry and at
// least one grant, and admitting room. Every refusal is an *Error.
func (v Verifier) Verify(token, room string) (*Claims, error) {
	if len(v.Secret) < MinSecretLen {
		return nil, fail(CodeBadSecret, "verifier secret is %d bytes, need at least %d", len(v.Secret), MinSecretLen)
	}
	maxLen := v.MaxLen
	if maxLen <= 0 {
		maxLen = DefaultMaxLen
	}
	// Cheapest checks first: nothing is decoded before these.
	if token == "" {
		return nil, fail(CodeMissing, "no token")
	}
	if len(token) > maxLen {
		return nil, fail(CodeTooLarge, "token is %d bytes, limit %d", len(token), maxLen)
	}
	skew := v.Skew
	switch {
	case skew == 0:
		skew = DefaultSkew
	case skew < 0:
		skew = 0
	}
	now := v.Now
	if now == nil {
		now = time.Now
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithLeeway(skew),
		jwt.WithTimeFunc(now),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(),
	)
	var c Claims
	secret := v.Secret
	_, err := p.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		// WithValidMethods has already refused other algorithms; checking
		// the type as well keeps a key from ever meeting a non-HMAC method.
		if _, ok := t.Method.(*jwt.SigningMethodHMAC); !ok {
			return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
		}
		return secret, nil
	})
	if err != nil {
		return nil, classify(err)
	}
	if e := c.check(); e != nil {
		return nil, e
	}
	if !c.AllowsRoom(room) {
		return nil, fail(CodeWrongRoom, "token is for room %q, not %q", c.Room, truncate(room, MaxRoomLen))
	}
	return &c, nil
}

// check validates the claims' own fields (not the times, not the signature).
func (c *Claims) check() *Error {
	if c.Room == "" {
		return fail(CodeInvalid, "no room")
	}
	if utf8.RuneCountInString(c.Room) > MaxRoomLen || !roomPattern(c.Room) {
		return fail(CodeInvalid, "room %q: only letters, digits, '-', '_', '.' and '*', up to %d", truncate(c.Room, MaxRoomLen), MaxRoomLen)
	}
	if err := text("name", c.Name, MaxNameLen); err != nil {
		return err
	}
	if err := text("identity", c.Identity, MaxIdentityLen); err != nil {
		return err
	}
	if !c.Grants.Any() {
		return fail(CodeNoGrants, "token grants nothing")
	}
	return nil
}

func text(field, s string, max int) *Error {
	if !utf8.ValidString(s) {
		return fail(CodeInvalid, "%s: not UTF-8", field)
	}
	if utf8.RuneCountInString(s) > max {
		return fail(CodeInvalid, "%s: longer than %d characters", field, max)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fail(CodeInvalid, "%s: control characters are not allowed", field)
		}
	}
	return nil
}

// classify maps the jwt library's errors onto stable codes.
func classify(err error) *Error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return fail(CodeExpired, "%v", err)
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return fail(CodeNotYetValid, "%v", err)
	default:
		return fail(CodeInvalid, "%v", err)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
