package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

// Errors of Open. Open returns nothing else but errors wrapping one of
// these or ErrTemporary; in none of these cases has it changed the
// database.
var (
	// ErrInvalidDSN: the DSN does not parse (or an option is invalid).
	ErrInvalidDSN = errors.New("postgres: invalid DSN")
	// ErrAuth: the server refused the connection's credentials (SQLSTATE
	// class 28) or its database does not exist (3D000). Retrying with the
	// same DSN does not help.
	ErrAuth = errors.New("postgres: connection refused by the server")
	// ErrSchemaTooNew: the schema was made or migrated by a newer version of
	// this package. Open leaves it alone; upgrade the program.
	ErrSchemaTooNew = errors.New("postgres: schema made by a newer version")
)

// Errors of Ship that say the batch can never be applied as it is.
// Retrying the same batch returns the same error.
var (
	// ErrInvalidBatch: the batch breaks a rule of usagefile.Batch (a writer
	// id, Seq ≥ 1, rows sorted by key without duplicates, valid days and
	// canonical tags, no negative counts or costs, text without NUL bytes).
	// Nothing was sent to the database.
	ErrInvalidBatch = errors.New("postgres: invalid batch")
	// ErrConflict: a batch with this writer and sequence number was applied
	// before with different content. The resent batch was not applied.
	// Two usage files share a writer id, or a usage file was rewound (for
	// instance restored from a backup) and sealed new batches under numbers
	// it had used.
	ErrConflict = errors.New("postgres: batch differs from the one applied under its number")
	// ErrSeqGap: the batch's number is beyond the writer's next one (the
	// high-water mark + 1, or 1 for a writer the store has never seen), so
	// batches between are missing. Either they were applied to a database
	// that has since lost them (restored from a backup, or a different
	// database), or the writer skipped numbers. See the package
	// documentation for the remedy.
	ErrSeqGap = errors.New("postgres: batch number skips ahead of the writer's next")
	// ErrStaleSeq: the batch's number is older than the digests the store
	// keeps (DigestWindow), so the store cannot tell a resend from new data
	// sealed under an old number. A writer that resends only its unshipped
	// batch never sees this.
	ErrStaleSeq = errors.New("postgres: batch number too old to verify")
	// ErrRejected: the database refused the batch's data (SQLSTATE class 22
	// or 23: for instance a total beyond the range of bigint).
	ErrRejected = errors.New("postgres: database rejected the batch")
)

// Errors that say "retry later".
var (
	// ErrTemporary: the operation failed for a reason outside the request
	// (the database is unreachable or shutting down, a connection was cut,
	// a serialization failure or a lock timeout, the context ended). For
	// Ship: the batch was not applied, or its outcome is unknown; send the
	// same batch again later.
	ErrTemporary = errors.New("postgres: temporary failure, retry later")
	// ErrOutcomeUnknown: the connection failed while COMMIT was in flight,
	// so the batch may or may not have been applied. It always comes with
	// ErrTemporary: resending the same batch is exactly right either way.
	ErrOutcomeUnknown = errors.New("postgres: commit outcome unknown")
)

// ShipError is every error Ship returns: which batch, and whether to retry
// it. errors.Is(err, ErrTemporary) reports the same as Temporary, so a
// caller that does not import this package can test for the method
// interface{ Temporary() bool } instead.
type ShipError struct {
	Writer string
	Seq    uint64
	// Err is the cause: ErrInvalidBatch, ErrConflict, ErrSeqGap,
	// ErrStaleSeq or ErrRejected (each wrapped with detail) when the batch
	// can never be applied; a connection or server error otherwise.
	Err error

	temporary      bool
	outcomeUnknown bool
}

func (e *ShipError) Error() string {
	s := fmt.Sprintf("postgres: ship %q #%d: ", e.Writer, e.Seq)
	switch {
	case e.outcomeUnknown:
		s += "commit outcome unknown, resend the same batch: "
	case e.temporary:
		s += "not applied, retry later: "
	}
	return s + e.Err.Error()
}

func (e *ShipError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrTemporary) and errors.Is(err,
// ErrOutcomeUnknown) report the classification.
func (e *ShipError) Is(target error) bool {
	return (target == ErrTemporary && e.temporary) ||
		(target == ErrOutcomeUnknown && e.outcomeUnknown)
}

// Temporary reports whether the same batch should be sent again later:
// true when it was not applied for a reason outside the batch or when its
// outcome is unknown; false when it can never be applied as it is.
func (e *ShipError) Temporary() bool { return e.temporary }

// OutcomeUnknown reports whether the connection failed while COMMIT was in
// flight. Temporary is then true too.
func (e *ShipError) OutcomeUnknown() bool { return e.outcomeUnknown }

// permanent reports whether err is the database refusing the data itself
// (so resending the same data fails the same way), as opposed to anything
// about the connection, the server's state or the context.
func permanent(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) != 5 {
		return false
	}
	switch pe.Code[:2] {
	case "22": // data exception: overflow, bad value
		return true
	case "23": // integrity constraint; a unique violation is a lost race, retried
		return pe.Code != "23505"
	}
	return false
}

// authError reports whether err is the server refusing the credentials or
// the database name.
func authError(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	return len(pe.Code) == 5 && (pe.Code[:2] == "28" || pe.Code == "3D000")
}
