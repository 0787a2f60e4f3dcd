package tracker

import (
	"errors"

	"github.com/usagering/usagering/usagefile"
)

// Sentinel errors of package tracker. Errors returned by the package wrap one
// of these (test with errors.Is) and add what exactly is wrong.
var (
	// ErrClosed is returned by Record after Close.
	ErrClosed = errors.New("tracker: closed")

	// ErrInvalidRecord is wrapped by Record.Validate; the wrapping error names
	// the field, e.g. "tracker: invalid record: InputTokens: negative (-5)".
	ErrInvalidRecord = errors.New("tracker: invalid record")

	// ErrCorrupt means the usage file is ours but unusable: empty, truncated,
	// unparsable, or one of the five required keys missing or of the wrong
	// type. The trackers recover from it (backup, then archive + fresh; see
	// usagefile.Load). It is usagefile.ErrCorrupt.
	ErrCorrupt = usagefile.ErrCorrupt

	// ErrForeignFile means the file holds valid JSON that is not a usage
	// document (not an object, or an object with none of the five keys).
	// Such a file is never overwritten, archived or recovered from. It is
	// usagefile.ErrForeignFile.
	ErrForeignFile = usagefile.ErrForeignFile

	// ErrFull is returned by the asynchronous tracker when its ring is full
	// and the configured policy is to reject rather than wait.
	ErrFull = errors.New("tracker: ring full")

	// ErrInvalidOption is wrapped by constructors given an invalid option.
	ErrInvalidOption = errors.New("tracker: invalid option")
)
