package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrInvalidOption: an Option passed to Open is invalid.
var ErrInvalidOption = errors.New("postgres: invalid option")

// Store is a fleet's usage in one PostgreSQL schema: every writer's
// high-water mark and its daily totals. Its methods are safe for
// concurrent use by many goroutines; many stores (in many processes) may
// share one schema.
type Store struct {
	pool   *pgxpool.Pool
	schema string // as given to WithSchema
	sql    statements
}

// statements are the store's SQL texts, with the schema name quoted in.
type statements struct {
	lockWriter   string // $1 writer → seq, digests; locks the writer's row
	insertWriter string // $1 writer, $2 seq, $3 digests
	updateWriter string // $1 writer, $2 seq, $3 digests
	upsertTotals string // $1 writer, $2.. one array per column
	writers      string
	table        string // the quoted daily_totals table, for Report
}

func newStatements(schema string) statements {
	q := pgx.Identifier{schema}.Sanitize()
	return statements{
		lockWriter:   `SELECT seq, digests FROM ` + q + `.writers WHERE writer_id = $1 FOR UPDATE`,
		insertWriter: `INSERT INTO ` + q + `.writers (writer_id, seq, digests) VALUES ($1, $2, $3)`,
		updateWriter: `UPDATE ` + q + `.writers SET seq = $2, digests = $3, updated_at = now() WHERE writer_id = $1`,
		// Rows are inserted in the order of the arrays (Key.Compare): ORDER
		// BY the ordinality fixes the order the executor visits, and so the
		// order in which row locks are taken.
		upsertTotals: `
INSERT INTO ` + q + `.daily_totals AS t (writer_id, day, model, provider, tags,
	calls, tokens, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
	cost, updated_at)
SELECT $1, r.day::date, r.model, r.provider, r.tags,
	r.calls, r.tokens, r.input_tokens, r.output_tokens, r.cache_read_tokens, r.cache_write_tokens, r.reasoning_tokens,
	r.cost::numeric, now()
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[],
	$6::int8[], $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[], $12::int8[],
	$13::text[]) WITH ORDINALITY
	AS r(day, model, provider, tags,
	calls, tokens, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
	cost, ord)
ORDER BY r.ord
ON CONFLICT (writer_id, day, model, provider, tags) DO UPDATE SET
	calls              = t.calls + excluded.calls,
	tokens             = t.tokens + excluded.tokens,
	input_tokens       = t.input_tokens + excluded.input_tokens,
	output_tokens      = t.output_tokens + excluded.output_tokens,
	cache_read_tokens  = t.cache_read_tokens + excluded.cache_read_tokens,
	cache_write_tokens = t.cache_write_tokens + excluded.cache_write_tokens,
	reasoning_tokens   = t.reasoning_tokens + excluded.reasoning_tokens,
	cost               = t.cost + excluded.cost,
	updated_at         = excluded.updated_at`,
		writers: `SELECT writer_id, seq, created_at, updated_at FROM ` + q + `.writers ORDER BY writer_id COLLATE "C"`,
		table:   q + `.daily_totals`,
	}
}

// Option configures Open.
type Option func(*options)

type options struct {
	schema string
}

// WithSchema selects the PostgreSQL schema that holds the store's tables
// (DefaultSchema without it). Open creates it if it does not exist. Stores
// in different schemas are independent.
func WithSchema(name string) Option {
	return func(o *options) { o.schema = name }
}

// Open connects to the database named by dsn (a URL or key=value string,
// as pgx reads it: pool settings such as pool_max_conns included) and
// creates or migrates the store's tables. Many processes may Open the same
// schema at once: migration is serialised by an advisory lock and done
// once.
//
// Open's errors wrap ErrInvalidDSN or ErrInvalidOption (nothing was
// attempted), ErrAuth (the server refused the credentials or the
// database), ErrSchemaTooNew (the schema is newer than SchemaVersion;
// nothing was changed), or ErrTemporary (the server could not be reached or
// the connection failed: try again later); any other is the server
// refusing the migration itself, such as a missing privilege. On error
// nothing stays open.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{schema: DefaultSchema}
	for _, opt := range opts {
		opt(&o)
	}
	if o.schema == "" || len(o.schema) > 63 || strings.ContainsRune(o.schema, 0) {
		return nil, fmt.Errorf("%w: schema name %q (want 1 to 63 bytes, no NUL)", ErrInvalidOption, o.schema)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidDSN, err)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "usagering"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidDSN, err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		pool.Close()
		return nil, openError("connecting", err)
	}
	err = migrate(ctx, conn.Conn(), o.schema)
	conn.Release()
	if err != nil {
		pool.Close()
		if errors.Is(err, ErrSchemaTooNew) {
			return nil, err
		}
		return nil, openError("migrating schema "+pgx.Identifier{o.schema}.Sanitize(), err)
	}
	return &Store{pool: pool, schema: o.schema, sql: newStatements(o.schema)}, nil
}

// openError classifies a failure to connect or migrate.
func openError(op string, err error) error {
	var pe *pgconn.PgError
	switch {
	case authError(err):
		return fmt.Errorf("%w: %s: %w", ErrAuth, op, err)
	case errors.As(err, &pe) && !serverUnavailable(pe):
		return fmt.Errorf("postgres: %s: %w", op, err)
	default:
		return fmt.Errorf("%w: %s: %w", ErrTemporary, op, err)
	}
}

// serverUnavailable reports whether a server error is about the server's
// state rather than the request: too many connections, shutting down,
// starting up, out of resources, serialization failures.
func serverUnavailable(pe *pgconn.PgError) bool {
	if len(pe.Code) != 5 {
		return false
	}
	switch pe.Code[:2] {
	case "08", "40", "53", "57", "58":
		return true
	}
	return pe.Code == "55P03" // lock_not_available
}

// Schema returns the PostgreSQL schema the store works in.
func (s *Store) Schema() string { return s.schema }

// Close closes the store's connections, waiting for those in use to be
// returned. The Store must not be used after.
func (s *Store) Close() { s.pool.Close() }
