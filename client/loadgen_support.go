package client

// RIDForHeight names the simulcast layer whose clip has this height ("q",
// "h" or "f"), or "" for a height no layer has; Stream.Height comes from the
// keyframes received, so this tells which layer the node forwards.
func RIDForHeight(height int) string {
	clips, err := loadClips()
	if err != nil || height <= 0 {
		return ""
	}
	for _, v := range clips.video {
		if v.height == height {
			return v.rid
		}
	}
	return ""
}
