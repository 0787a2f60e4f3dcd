package capture

// UncapturedError is what WithErrorHandler's handler receives for a
// successful call that was not recorded. errors.Is matches it with the
// sentinel of its Reason (ErrNoUsage, ErrCut, ...) and with its cause.
type UncapturedError struct {
	Reason    Reason
	Operation string // OpChat, OpResponses, OpMessages or OpGenerateContent
	Err       error  // the cause: a read error, a decode error, the Recorder's error; may be nil
}

func newUncapturedError(r Reason, ep endpoint, cause error) *UncapturedError {
	return &UncapturedError{Reason: r, Operation: operations[ep.format], Err: cause}
}

func (e *UncapturedError) Error() string {
	msg := "capture: " + e.Operation + " call not recorded: " + e.Reason.String()
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the reason's sentinel and the cause.
func (e *UncapturedError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Reason.Err()}
	}
	return []error{e.Reason.Err(), e.Err}
}
