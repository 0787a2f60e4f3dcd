package usagefile

import "errors"

// Sentinel errors of package usagefile. Errors returned by the package wrap
// one of these (test with errors.Is) and add what exactly is wrong.
var (
	// ErrCorrupt means the usage file is ours but unusable: empty,
	// truncated, unparsable, or one of the five required keys missing or of
	// the wrong type. Load recovers from it (backup, then archive + fresh).
	ErrCorrupt = errors.New("usagefile: usage file is corrupt")

	// ErrForeignFile means the file holds valid JSON that is not a usage
	// document (not an object, or an object with none of the five keys).
	// Such a file is never overwritten, archived or recovered from.
	ErrForeignFile = errors.New("usagefile: file is not a usage document")
)
