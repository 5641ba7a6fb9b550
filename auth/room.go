package auth

// AllowsRoom reports whether the token's Room admits the conference room: an
// exact match, or a glob match where each '*' in Room stands for any run of
// characters (possibly empty). room itself must be a valid name (letters,
// digits, '-', '_', '.'), so a literal '*' in it never matches anything.
func (c *Claims) AllowsRoom(room string) bool {
	if c == nil || c.Room == "" || room == "" || len(room) > MaxRoomLen || !roomName(room) {
		return false
	}
	return glob(c.Room, room)
}

// glob matches s against pattern where '*' matches any run of bytes. On a
// mismatch it backtracks only to the last '*', so the cost is at most
// len(pattern)*len(s), with no recursion.
func glob(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0 // last '*' seen in pattern, and where s stood then
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			mark++
			p, i = star+1, mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// roomName is signaling's rule for a conference name.
func roomName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i]) {
			return false
		}
	}
	return true
}

// roomPattern is roomName plus '*'.
func roomPattern(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '*' && !nameByte(s[i]) {
			return false
		}
	}
	return true
}

func nameByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.'
}
