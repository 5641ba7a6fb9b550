package signal

import (
	"errors"
	"fmt"

	"github.com/pion/sdp/v3"
)

// MaxMediaSections bounds the m-lines of one SDP.
const MaxMediaSections = 64

// CheckSDP parses an SDP from a client before pion sees it, so that hostile
// input gets a clear error.
func CheckSDP(text string) error {
	var s sdp.SessionDescription
	if err := s.UnmarshalString(text); err != nil {
		return fmt.Errorf("unparsable SDP: %w", err)
	}
	if len(s.MediaDescriptions) == 0 {
		return errors.New("SDP has no media sections")
	}
	if len(s.MediaDescriptions) > MaxMediaSections {
		return fmt.Errorf("SDP has more than %d media sections", MaxMediaSections)
	}
	return nil
}
