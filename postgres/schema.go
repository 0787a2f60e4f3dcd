package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/jackc/pgx/v5"
)

// SchemaVersion is the version of the tables this package creates and
// reads. Open migrates an older schema up to it and refuses a newer one
// (ErrSchemaTooNew).
const SchemaVersion = 1

// DefaultSchema is the PostgreSQL schema Open uses without WithSchema.
const DefaultSchema = "usagering"

// migrations[i] takes the schema from version i to version i+1. Each runs
// in Open's migration transaction, under the advisory lock, with %[1]s the
// quoted schema name. Append only: a released migration never changes.
var migrations = []string{
	// 0 → 1: the version table, the writers' high-water marks, the
	// per-writer daily totals.
	`
CREATE TABLE %[1]s.schema_version (
	singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	version     integer NOT NULL,
	migrated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE %[1]s.writers (
	writer_id  text PRIMARY KEY,
	-- the high-water mark: the last batch applied
	seq        bigint NOT NULL CHECK (seq >= 0),
	-- SHA-256 digests of the last applied batches, oldest first: the last
	-- element is batch seq's
	digests    bytea[] NOT NULL DEFAULT '{}',
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE %[1]s.daily_totals (
	writer_id          text NOT NULL,
	day                date NOT NULL,
	model              text NOT NULL,
	provider           text NOT NULL,
	tags               text NOT NULL,
	calls              bigint NOT NULL CHECK (calls >= 0),
	tokens             bigint NOT NULL CHECK (tokens >= 0),
	input_tokens       bigint NOT NULL CHECK (input_tokens >= 0),
	output_tokens      bigint NOT NULL CHECK (output_tokens >= 0),
	cache_read_tokens  bigint NOT NULL CHECK (cache_read_tokens >= 0),
	cache_write_tokens bigint NOT NULL CHECK (cache_write_tokens >= 0),
	reasoning_tokens   bigint NOT NULL CHECK (reasoning_tokens >= 0),
	cost               numeric(48, 24) NOT NULL CHECK (cost >= 0),
	updated_at         timestamptz NOT NULL,
	PRIMARY KEY (writer_id, day, model, provider, tags)
);

CREATE INDEX daily_totals_day ON %[1]s.daily_totals (day);
`,
}

// migrate brings the schema to SchemaVersion. It runs in one transaction
// holding an advisory lock keyed by the schema name, so concurrent Opens
// migrate one at a time and the later ones find the work done. It reads
// the version before changing anything: a newer schema is left untouched.
func migrate(ctx context.Context, conn *pgx.Conn, schema string) error {
	q := pgx.Identifier{schema}.Sanitize()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) // a no-op after Commit

	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(schema)); err != nil {
		return err
	}
	version := 0
	var table *string
	if err := tx.QueryRow(ctx, "SELECT to_regclass($1)::text", q+".schema_version").Scan(&table); err != nil {
		return err
	}
	if table != nil {
		err := tx.QueryRow(ctx, fmt.Sprintf("SELECT version FROM %s.schema_version", q)).Scan(&version)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
	}
	switch {
	case version > SchemaVersion:
		return fmt.Errorf("%w: schema %s is at version %d, this program knows %d", ErrSchemaTooNew, q, version, SchemaVersion)
	case version == SchemaVersion:
		return tx.Commit(ctx)
	}
	if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+q); err != nil {
		return err
	}
	for _, m := range migrations[version:] {
		if _, err := tx.Exec(ctx, fmt.Sprintf(m, q)); err != nil {
			return fmt.Errorf("migrating to version %d: %w", SchemaVersion, err)
		}
	}
	_, err = tx.Exec(ctx, fmt.Sprintf(`
INSERT INTO %s.schema_version (version) VALUES ($1)
ON CONFLICT (singleton) DO UPDATE SET version = excluded.version, migrated_at = now()`, q), SchemaVersion)
	if err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// lockKey is the advisory lock key of a schema's migration: a hash of a
// fixed prefix and the schema name, so stores in different schemas do not
// wait for each other.
func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("usagering/postgres migrate\x00"))
	h.Write([]byte(schema))
	return int64(h.Sum64())
}
