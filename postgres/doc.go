// Package postgres keeps a fleet's usage in PostgreSQL, exactly once:
// every writer (a usage file, see usagefile.Batch) ships numbered batches
// of aggregates, and Report sums them over all writers.
//
// # Tables
//
// Open creates three tables in one schema (DefaultSchema or WithSchema)
// and migrates them under an advisory lock, recording SchemaVersion:
//
//   - writers: per writer, its high-water mark (the number of the last
//     batch applied) and the digests of its last DigestWindow batches;
//   - daily_totals: per writer, day, model, provider and tag set, the calls,
//     tokens by kind and exact cost (numeric(48,24)) of everything it
//     shipped;
//   - schema_version.
//
// # Exactly once
//
// Ship applies a batch in one transaction: it locks the writer's row,
// checks the batch's number against the high-water mark, advances the mark
// and adds each row to the writer's own row for that key. So a batch is
// applied entirely or not at all, and at most once: a resent batch (same
// writer and number) finds the mark at or past its number and is
// acknowledged without being applied again. A caller that sends a batch,
// loses the connection while COMMIT is in flight and sends the same batch
// again gets the right totals whether the first COMMIT happened or not.
//
// The rules for numbers, for a writer at high-water mark h:
//
//   - h+1 is applied;
//   - h−DigestWindow+1 … h is a resend: acknowledged if its content's
//     digest equals the applied batch's, ErrConflict if not (two usage
//     files share a writer id, or one was rewound and reused numbers: new
//     usage under an old number would otherwise be dropped silently);
//   - anything older: ErrStaleSeq, since the content cannot be checked;
//   - above h+1: ErrSeqGap. Batches are missing in between, and applying
//     this one would make the loss silent. A writer unknown to the store
//     has h = 0, so its first batch must be 1. If the missing batches are
//     known to be lost (the database was restored from a backup, or the
//     writer shipped to another database before), an operator accepts the
//     gap by setting the writer's mark to the batch's number − 1 in the
//     writers table (inserting the row, writer_id and seq, for an unknown
//     writer).
//
// # No waiting between writers
//
// Rows are keyed by writer, so a transaction locks only its own writer's
// rows: writers never wait on each other, however many share a key, and
// two transactions of one writer serialise on the writer's row before
// touching any other. Rows are upserted in the batch's Key.Compare order
// all the same.
//
// # Errors
//
// Every error of Ship is a *ShipError. errors.Is(err, ErrTemporary) (or
// the method Temporary) says "send the same batch again later": the
// database was unreachable, the connection was cut, the server was
// shutting down or the context ended; ErrOutcomeUnknown adds that the cut
// came while COMMIT was in flight. Anything else can never be applied as
// it is: ErrInvalidBatch (checked before anything is sent), ErrConflict,
// ErrStaleSeq, ErrSeqGap, ErrRejected.
//
// # Reports
//
// Report sums the daily rows of a range of days over every writer, grouped
// by any of day, model, provider and the value of one tag, in a fixed
// order. Its cost grows with writers × models × providers × tag sets ×
// days, not with calls.
package postgres
