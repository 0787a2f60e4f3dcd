package pgtest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/usagering/usagering/postgres/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func TestInstanceStopStart(t *testing.T) {
	ctx := context.Background()
	in := pgtest.Start(t)
	c := connect(t, in.DSN())
	if _, err := c.Exec(ctx, "CREATE TABLE survives (v int); INSERT INTO survives VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	if err := in.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := pgx.Connect(ctx, in.DSN()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("connect to a stopped server: %v, want connection refused", err)
	}
	if err := in.Start(); err != nil {
		t.Fatal(err)
	}
	if err := in.Crash(); err != nil {
		t.Fatal(err)
	}
	if err := in.Restart(); err != nil { // Stop of a stopped server is a no-op
		t.Fatal(err)
	}
	var v int
	if err := connect(t, in.DSN()).QueryRow(ctx, "SELECT v FROM survives").Scan(&v); err != nil || v != 42 {
		t.Fatalf("after stop, crash and restarts: %d, %v; want 42", v, err)
	}
}

func TestInstancePassword(t *testing.T) {
	ctx := context.Background()
	in := pgtest.Start(t, pgtest.WithPassword("s3cret"))
	connect(t, in.DSN()) // with the password
	for _, dsn := range []string{
		"postgres://postgres@" + in.Addr() + "/postgres?sslmode=disable",
		"postgres://postgres:wrong@" + in.Addr() + "/postgres?sslmode=disable",
	} {
		_, err := pgx.Connect(ctx, dsn)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "28P01" {
			t.Errorf("connect %s: %v, want SQLSTATE 28P01 (invalid_password)", dsn, err)
		}
	}
}

// commitThrough runs a transaction through the proxy that inserts v, and
// commits with the simple or the extended protocol.
func commitThrough(ctx context.Context, dsn, table string, v int, extended bool) error {
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	tx, err := c.Begin(ctx)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "INSERT INTO "+table+" VALUES ($1)", v); err != nil {
		return err
	}
	if !extended {
		return tx.Commit(ctx) // pgx sends Query "commit"
	}
	_, err = c.PgConn().ExecParams(ctx, "COMMIT", nil, nil, nil, nil).Close()
	return err
}

func TestProxyCutsAtCommit(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	schema := pgtest.Schema(t, dsn)
	direct := connect(t, dsn)
	table := pgx.Identifier{schema, "t"}.Sanitize()
	if _, err := direct.Exec(ctx, fmt.Sprintf("CREATE SCHEMA %s; CREATE TABLE %s (v int)",
		pgx.Identifier{schema}.Sanitize(), table)); err != nil {
		t.Fatal(err)
	}
	p := pgtest.NewProxy(t, pgtest.Addr(t, dsn))
	u := p.DSN(dsn)

	has := func(v int) bool {
		var n int
		if err := direct.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE v = $1", v).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	v := 0
	for _, extended := range []bool{false, true} {
		// Not armed: commits pass.
		v++
		if err := commitThrough(ctx, u, table, v, extended); err != nil || !has(v) {
			t.Fatalf("extended=%v: unarmed commit: %v, row there: %v", extended, err, has(v))
		}
		for _, mode := range []pgtest.CommitCut{pgtest.CutBeforeCommit, pgtest.CutAfterCommit} {
			v++
			done := p.CutNextCommit(mode)
			err := commitThrough(ctx, u, table, v, extended)
			if err == nil {
				t.Fatalf("extended=%v %v: commit succeeded, want the connection cut", extended, mode)
			}
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatalf("extended=%v %v: the client saw %v but the proxy did not cut", extended, mode, err)
			}
			if got, want := has(v), mode == pgtest.CutAfterCommit; got != want {
				t.Fatalf("extended=%v %v: row committed = %v, want %v (client saw %v)", extended, mode, got, want, err)
			}
		}
	}
}

func TestProxyRefuseAndDrop(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	p := pgtest.NewProxy(t, pgtest.Addr(t, dsn))
	u := p.DSN(dsn)
	c := connect(t, u)
	p.Refuse()
	if _, err := pgx.Connect(ctx, u); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("connect while refusing: %v, want connection refused", err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("a connection made before Refuse: %v", err)
	}
	if err := p.Accept(); err != nil {
		t.Fatal(err)
	}
	c2 := connect(t, u)
	if n := p.DropAll(); n != 2 {
		t.Fatalf("DropAll closed %d connections, want 2", n)
	}
	for _, c := range []*pgx.Conn{c, c2} {
		if err := c.Ping(ctx); err == nil {
			t.Fatal("ping on a dropped connection succeeded")
		}
	}
	if got := p.Accepted(); got != 2 {
		t.Fatalf("Accepted = %d, want 2", got)
	}
}
