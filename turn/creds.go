package turn

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// maxUserLen bounds the user id in a username; STUN allows 513 bytes in all.
const maxUserLen = 256

var (
	errUsername = errors.New("username is not <unix expiry>:<user id>")
	errExpired  = errors.New("credentials expired")
)

// parseUsername splits a TURN REST username, "<unix expiry>:<user id>"
// (draft-uberti-behave-turn-rest). The expiry is decimal digits only, no
// sign; the user id is what follows the first colon, and not empty.
func parseUsername(s string) (expiry int64, user string, err error) {
	digits, user, ok := strings.Cut(s, ":")
	if !ok || digits == "" || len(digits) > 19 || user == "" || len(user) > maxUserLen {
		return 0, "", errUsername
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, "", errUsername
		}
	}
	expiry, err = strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, "", errUsername
	}
	return expiry, user, nil
}

// restPassword is the password of a TURN REST username:
// base64(HMAC-SHA1(secret, username)).
func restPassword(secret []byte, username string) string {
	m := hmac.New(sha1.New, secret)
	m.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
