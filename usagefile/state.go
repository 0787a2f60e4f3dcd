package usagefile

import (
	"fmt"
	"slices"

	json "github.com/goccy/go-json"
)

// keyState is the top-level key under which usagering keeps its own state
// in a usage file. The original tool ignores it and keeps it.
const keyState = "usagering"

// State is what usagering's writers keep in a usage file beside the
// original's five keys, under "usagering". Every writer of the file reads
// and writes it under the file's lock.
type State struct {
	// Rescued lists the rescue files (by RescueInfo.ID) merged into this
	// file whose removal is not yet confirmed. A writer that finds one of
	// them again removes it instead of merging it twice: a crash between
	// the merged write and the removal costs nothing and counts nothing
	// twice.
	Rescued []string `json:"rescued,omitempty"`
	// Rescue is set in a rescue file, and only there: what the file is.
	Rescue *RescueInfo `json:"rescue,omitempty"`
}

// RescueInfo describes a rescue file: records a writer accepted but could
// not write to the usage file at Close, kept apart until a writer of that
// file merges them (see RescuePath).
type RescueInfo struct {
	ID      string `json:"id"`      // unique; also in the file's name
	For     string `json:"for"`     // absolute path of the usage file the records belong to
	Records int64  `json:"records"` // how many records the file holds
	Created string `json:"created"` // when it was written, RFC 3339
	Reason  string `json:"reason"`  // why the usage file could not be written
}

// IsZero reports whether s holds nothing (and is then not written).
func (s *State) IsZero() bool { return len(s.Rescued) == 0 && s.Rescue == nil }

func (s State) clone() State {
	c := State{Rescued: slices.Clone(s.Rescued)}
	if s.Rescue != nil {
		r := *s.Rescue
		c.Rescue = &r
	}
	return c
}

func parseState(raw []byte) (State, error) {
	var s State
	if err := json.Unmarshal(raw, &s); err != nil {
		return State{}, fmt.Errorf("%w: %q: %v", ErrCorrupt, keyState, err)
	}
	return s, nil
}
