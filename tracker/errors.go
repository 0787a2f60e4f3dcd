package tracker

import (
	"errors"
	"fmt"

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

	// ErrInvalidArgument is wrapped by query methods given an out-of-range
	// argument.
	ErrInvalidArgument = errors.New("tracker: invalid argument")

	// ErrUnusablePath is wrapped by New and NewSync when the usage file's
	// path can never be written: empty, a directory (or other non-file) at
	// the path, or a directory where no file can be created. The wrapping
	// error says which, and wraps the cause (fs.ErrPermission, say).
	ErrUnusablePath = errors.New("tracker: unusable usage file path")
)

// FallbackError is Close's error when the usage file could not be written:
// Err is the last persist error; Path is the rescue file that holds the
// Records records instead (merged into the usage file by the next tracker
// that opens it), or "" if no file could be written and they were lost.
type FallbackError struct {
	Path    string
	Records int
	Err     error
}

func (e *FallbackError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("tracker: could not persist; %s lost: %v", records(e.Records), e.Err)
	}
	return fmt.Sprintf("tracker: could not persist the usage file (%v); %s saved in %s, to be merged into it when it is next opened", e.Err, records(e.Records), e.Path)
}

func (e *FallbackError) Unwrap() error { return e.Err }
