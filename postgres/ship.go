package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/usagering/usagering/usagefile"
)

// DigestWindow is how many of a writer's last applied batches the store
// keeps a digest of. A resent batch within the window is checked against
// the digest; one older than that is refused (ErrStaleSeq).
const DigestWindow = 16

// MaxKeyBytes bounds the bytes of a row's key (writer id, model, provider
// and tags together): a row beyond it could not be indexed.
const MaxKeyBytes = 2000

// Ship applies a batch exactly once. In one transaction it locks the
// writer's row, checks the batch's number against the writer's high-water
// mark, and then either
//
//   - applies it, when Seq is the writer's next (high-water mark + 1; 1 for
//     a writer never seen): the mark advances to Seq, the batch's digest is
//     kept, and each row is added to the writer's own row for its key, in
//     the batch's (Key.Compare) order. Ship returns nil once committed;
//   - ignores it, when Seq is at or below the mark and its content has the
//     digest of the batch applied under that number: it is a resend. Ship
//     returns nil, so the caller marks it shipped;
//   - refuses it, with ErrConflict when the content differs from what was
//     applied under Seq, ErrStaleSeq when Seq is more than DigestWindow
//     batches old, ErrSeqGap when Seq is beyond the next number.
//
// A batch that breaks a rule of usagefile.Batch is refused before anything
// is sent (ErrInvalidBatch). Every error is a *ShipError: errors.Is(err,
// ErrTemporary) means the batch was not applied or may have been
// (ErrOutcomeUnknown), so send the same batch again later; otherwise the
// batch can never be applied as it is.
//
// Writers never wait on each other: a transaction locks only its own
// writer's rows. Two Ships of one writer serialise on the writer's row.
func (s *Store) Ship(ctx context.Context, b usagefile.Batch) error {
	if err := validate(b); err != nil {
		return &ShipError{Writer: b.Writer, Seq: b.Seq, Err: err}
	}
	committing, err := s.ship(ctx, b, digest(b))
	if err == nil {
		return nil
	}
	e := &ShipError{Writer: b.Writer, Seq: b.Seq, Err: err}
	var pe *pgconn.PgError
	switch {
	case errors.Is(err, ErrConflict), errors.Is(err, ErrSeqGap), errors.Is(err, ErrStaleSeq):
	case permanent(err):
		e.Err = fmt.Errorf("%w: %w", ErrRejected, err)
	default:
		e.temporary = true
		// A server error in reply to COMMIT means it did not commit; any
		// other failure there (a cut connection, the context ending) leaves
		// the outcome unknown.
		e.outcomeUnknown = committing && !errors.As(err, &pe) && !errors.Is(err, pgx.ErrTxCommitRollback)
	}
	return e
}

// ship runs Ship's transaction. committing reports whether the error came
// from COMMIT.
func (s *Store) ship(ctx context.Context, b usagefile.Batch, d []byte) (committing bool, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx) // a no-op after Commit

	seq := int64(b.Seq)
	var (
		hw      int64
		digests [][]byte
		known   = true
	)
	err = tx.QueryRow(ctx, s.sql.lockWriter, b.Writer).Scan(&hw, &digests)
	if errors.Is(err, pgx.ErrNoRows) {
		known, err = false, nil
	}
	if err != nil {
		return false, err
	}
	if seq <= hw {
		back := hw - seq // 0: the last batch applied
		if back >= int64(len(digests)) {
			return false, fmt.Errorf("%w: the writer is at %d and the store keeps the last %d digests", ErrStaleSeq, hw, len(digests))
		}
		if applied := digests[int64(len(digests))-1-back]; !bytes.Equal(applied, d) {
			return false, fmt.Errorf("%w: applied digest %x, resent %x", ErrConflict, applied[:8], d[:8])
		}
		return false, nil // a resend of an applied batch
	}
	if seq > hw+1 {
		return false, fmt.Errorf("%w: the writer's next batch is %d", ErrSeqGap, hw+1)
	}

	digests = append(digests, d)
	if n := len(digests); n > DigestWindow {
		digests = digests[n-DigestWindow:]
	}
	var q pgx.Batch
	if known {
		q.Queue(s.sql.updateWriter, b.Writer, seq, digests)
	} else {
		q.Queue(s.sql.insertWriter, b.Writer, seq, digests)
	}
	if len(b.Rows) > 0 {
		q.Queue(s.sql.upsertTotals, upsertArgs(b)...)
	}
	if err := tx.SendBatch(ctx, &q).Close(); err != nil {
		return false, err
	}
	return true, tx.Commit(ctx)
}

// upsertArgs returns the writer and one array per column of the batch's
// rows, in the rows' order.
func upsertArgs(b usagefile.Batch) []any {
	n := len(b.Rows)
	var (
		day, model, provider, tags, cost   = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		calls, tokens, in, out, cr, cw, re = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	)
	for i, r := range b.Rows {
		day[i], model[i], provider[i], tags[i] = r.Day, r.Model, r.Provider, r.Tags
		calls[i], tokens[i], in[i], out[i] = r.Calls, r.Tokens, r.InputTokens, r.OutputTokens
		cr[i], cw[i], re[i] = r.CacheReadTokens, r.CacheWriteTokens, r.ReasoningTokens
		cost[i] = r.Cost.String()
	}
	return []any{b.Writer, day, model, provider, tags, calls, tokens, in, out, cr, cw, re, cost}
}

// validate checks a batch against the rules of usagefile.Batch and what
// the tables can hold. Its errors wrap ErrInvalidBatch.
func validate(b usagefile.Batch) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidBatch}, args...)...)
	}
	switch {
	case b.Writer == "":
		return bad("empty writer id")
	case !validText(b.Writer):
		return bad("writer id %q is not UTF-8 text without NUL", b.Writer)
	case b.Seq == 0:
		return bad("sequence number 0 (they start at 1)")
	case b.Seq > math.MaxInt64:
		return bad("sequence number %d beyond the range of bigint", b.Seq)
	}
	for i, r := range b.Rows {
		if i > 0 && b.Rows[i-1].Key.Compare(r.Key) >= 0 {
			return bad("row %d: key %+v not after the previous row's %+v (rows must be sorted by Key.Compare, keys unique)", i, r.Key, b.Rows[i-1].Key)
		}
		if err := validRow(b.Writer, r); err != nil {
			return bad("row %d (%+v): %s", i, r.Key, err)
		}
	}
	return nil
}

func validRow(writer string, r usagefile.Row) error {
	if d, err := time.Parse(time.DateOnly, r.Day); err != nil || d.Format(time.DateOnly) != r.Day || d.Year() < 1 {
		return fmt.Errorf("day %q is not a YYYY-MM-DD date", r.Day)
	}
	for _, s := range [...]string{r.Model, r.Provider, r.Tags} {
		if !validText(s) {
			return fmt.Errorf("%q is not UTF-8 text without NUL", s)
		}
	}
	if n := len(writer) + len(r.Model) + len(r.Provider) + len(r.Tags); n > MaxKeyBytes {
		return fmt.Errorf("key of %d bytes, more than MaxKeyBytes", n)
	}
	if r.Tags != "" {
		m, err := usagefile.DecodeTags(r.Tags)
		if err != nil || usagefile.EncodeTags(m) != r.Tags {
			return fmt.Errorf("tags %q not in canonical form (usagefile.EncodeTags)", r.Tags)
		}
	}
	t := r.Totals
	for _, c := range [...]struct {
		name string
		v    int64
	}{
		{"tokens", t.Tokens}, {"calls", t.Calls}, {"input tokens", t.InputTokens},
		{"output tokens", t.OutputTokens}, {"cache read tokens", t.CacheReadTokens},
		{"cache write tokens", t.CacheWriteTokens}, {"reasoning tokens", t.ReasoningTokens},
	} {
		if c.v < 0 {
			return fmt.Errorf("negative %s: %d", c.name, c.v)
		}
	}
	if t.Cost.Sign() < 0 {
		return fmt.Errorf("negative cost %s", t.Cost)
	}
	return nil
}

// validText reports whether s can be stored in a text column: UTF-8
// without NUL.
func validText(s string) bool {
	return utf8.ValidString(s) && !bytes.ContainsRune([]byte(s), 0)
}

// digest is the SHA-256 of a batch's content in a fixed, unambiguous
// encoding: every string length-prefixed, every count in a fixed order,
// costs as exact decimals.
func digest(b usagefile.Batch) []byte {
	h := sha256.New()
	var buf []byte
	str := func(s string) {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	str("usagering batch v1")
	str(b.Writer)
	buf = binary.AppendUvarint(buf, b.Seq)
	buf = binary.AppendUvarint(buf, uint64(len(b.Rows)))
	for _, r := range b.Rows {
		str(r.Day)
		str(r.Model)
		str(r.Provider)
		str(r.Tags)
		for _, v := range [...]int64{r.Tokens, r.Calls, r.InputTokens, r.OutputTokens,
			r.CacheReadTokens, r.CacheWriteTokens, r.ReasoningTokens} {
			buf = binary.AppendVarint(buf, v)
		}
		str(r.Cost.String())
		if len(buf) > 4096 {
			h.Write(buf)
			buf = buf[:0]
		}
	}
	h.Write(buf)
	return h.Sum(nil)
}
