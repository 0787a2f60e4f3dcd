package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/usagering/usagering/postgres"
	"github.com/usagering/usagering/postgres/pgtest"
)

// tables lists the tables of a schema, with the version its
// schema_version holds (-1 without one).
func tables(t *testing.T, dsn, schema string) ([]string, int) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	version := -1
	if slices.Contains(names, "schema_version") {
		if err := c.QueryRow(ctx, "SELECT version FROM "+pgx.Identifier{schema, "schema_version"}.Sanitize()).Scan(&version); err != nil {
			t.Fatal(err)
		}
	}
	return names, version
}

var wantTables = []string{"daily_totals", "schema_version", "writers"}

func TestOpenCreatesAndReopens(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	schema := pgtest.Schema(t, dsn)
	s, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	b := randomBatch(seeded(t), "w", 1, 10)
	if err := s.Ship(ctx, b); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got, v := tables(t, dsn, schema); !slices.Equal(got, wantTables) || v != postgres.SchemaVersion {
		t.Fatalf("tables %v at version %d, want %v at %d", got, v, wantTables, postgres.SchemaVersion)
	}
	s, err = postgres.Open(ctx, dsn, postgres.WithSchema(schema))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	want := ledger{}
	want.add(b)
	checkStored(t, dsn, s, want)
	if err := s.Ship(ctx, b); err != nil {
		t.Fatalf("resend after reopen: %v", err)
	}
	checkStored(t, dsn, s, want)
}

// TestOpenConcurrently: many stores open one new schema at once; each
// succeeds and the schema is made once.
func TestOpenConcurrently(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	schema := pgtest.Schema(t, dsn)
	const n = 16
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make(chan error, n)
	)
	for range n {
		wg.Go(func() {
			<-start
			s, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema))
			if err == nil {
				s.Close()
			}
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got, v := tables(t, dsn, schema); !slices.Equal(got, wantTables) || v != postgres.SchemaVersion {
		t.Fatalf("tables %v at version %d, want %v at %d", got, v, wantTables, postgres.SchemaVersion)
	}
}

// TestOpenSchemaTooNew: a schema at a version above SchemaVersion is
// refused, and left exactly as it was.
func TestOpenSchemaTooNew(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)

	t.Run("migrated by a newer version", func(t *testing.T) {
		schema := pgtest.Schema(t, dsn)
		s, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema))
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		q := pgx.Identifier{schema}.Sanitize()
		if _, err := c.Exec(ctx, fmt.Sprintf(`UPDATE %[1]s.schema_version SET version = version + 1;
			ALTER TABLE %[1]s.writers ADD COLUMN from_the_future int`, q)); err != nil {
			t.Fatal(err)
		}
		var before time.Time
		if err := c.QueryRow(ctx, "SELECT migrated_at FROM "+q+".schema_version").Scan(&before); err != nil {
			t.Fatal(err)
		}
		_, err = postgres.Open(ctx, dsn, postgres.WithSchema(schema))
		if !errors.Is(err, postgres.ErrSchemaTooNew) || errors.Is(err, postgres.ErrTemporary) {
			t.Fatalf("Open: %v, want ErrSchemaTooNew", err)
		}
		var after time.Time
		if err := c.QueryRow(ctx, "SELECT migrated_at FROM "+q+".schema_version").Scan(&after); err != nil || !after.Equal(before) {
			t.Fatalf("schema_version touched: migrated_at %v → %v (%v)", before, after, err)
		}
		if got, v := tables(t, dsn, schema); !slices.Equal(got, wantTables) || v != postgres.SchemaVersion+1 {
			t.Fatalf("tables %v at version %d after a refused Open", got, v)
		}
	})
	t.Run("only the version table", func(t *testing.T) {
		schema := pgtest.Schema(t, dsn)
		q := pgx.Identifier{schema}.Sanitize()
		if _, err := c.Exec(ctx, fmt.Sprintf(`CREATE SCHEMA %[1]s;
			CREATE TABLE %[1]s.schema_version (singleton boolean PRIMARY KEY, version integer, migrated_at timestamptz);
			INSERT INTO %[1]s.schema_version VALUES (true, 99, now())`, q)); err != nil {
			t.Fatal(err)
		}
		if _, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema)); !errors.Is(err, postgres.ErrSchemaTooNew) {
			t.Fatalf("Open: %v, want ErrSchemaTooNew", err)
		}
		if got, v := tables(t, dsn, schema); !slices.Equal(got, []string{"schema_version"}) || v != 99 {
			t.Fatalf("tables %v at version %d after a refused Open, want only schema_version at 99", got, v)
		}
	})
}

func TestOpenBadInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := pgtest.DSN(t)

	for _, bad := range []string{"postgres://%zz", "host=localhost port=notaport", "postgres://h/db?sslmode=sometimes"} {
		if _, err := postgres.Open(ctx, bad); !errors.Is(err, postgres.ErrInvalidDSN) || errors.Is(err, postgres.ErrTemporary) {
			t.Errorf("Open(%q): %v, want ErrInvalidDSN", bad, err)
		}
	}
	for _, name := range []string{"", string(make([]byte, 64)), "a\x00b"} {
		if _, err := postgres.Open(ctx, dsn, postgres.WithSchema(name)); !errors.Is(err, postgres.ErrInvalidOption) {
			t.Errorf("WithSchema(%q): %v, want ErrInvalidOption", name, err)
		}
	}

	// Nothing listens: retry later.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if _, err := postgres.Open(ctx, "postgres://postgres@"+closed+"/test?sslmode=disable"); !errors.Is(err, postgres.ErrTemporary) {
		t.Errorf("Open on a closed port: %v, want ErrTemporary", err)
	}

	// No such database: the server refuses, not worth retrying.
	u := pgtest.Addr(t, dsn)
	if _, err := postgres.Open(ctx, "postgres://postgres@"+u+"/no_such_database_here?sslmode=disable"); !errors.Is(err, postgres.ErrAuth) || errors.Is(err, postgres.ErrTemporary) {
		t.Errorf("Open of a missing database: %v, want ErrAuth", err)
	}
}

// TestOpenAuthRefused: a server that wants a password refuses a DSN
// without one or with a wrong one, and Open changes nothing.
func TestOpenAuthRefused(t *testing.T) {
	ctx := context.Background()
	srv := pgtest.Start(t, pgtest.WithPassword("right horse"))
	for _, dsn := range []string{
		"postgres://postgres@" + srv.Addr() + "/postgres?sslmode=disable",
		"postgres://postgres:wrong@" + srv.Addr() + "/postgres?sslmode=disable",
	} {
		_, err := postgres.Open(ctx, dsn, postgres.WithSchema("refused"))
		if !errors.Is(err, postgres.ErrAuth) || errors.Is(err, postgres.ErrTemporary) {
			t.Errorf("Open(%s): %v, want ErrAuth", dsn, err)
		}
	}
	if got, _ := tables(t, srv.DSN(), "refused"); len(got) != 0 {
		t.Fatalf("tables %v made by refused Opens", got)
	}
	s, err := postgres.Open(ctx, srv.DSN(), postgres.WithSchema("refused"))
	if err != nil {
		t.Fatalf("Open with the password: %v", err)
	}
	s.Close()
}
