package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable that holds the DSN of the PostgreSQL the
// tests share (each test in its own schema).
const EnvDSN = "USAGERING_POSTGRES_DSN"

// ExampleDSN is the shared server of the project's machines: PostgreSQL at
// 127.0.0.1:5432, trust authentication, user postgres, database test.
const ExampleDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// underCI reports whether the tests run under CI, where a missing
// database fails them rather than skipping them.
func underCI() bool { return os.Getenv("CI") == "true" }

// howTo is the line that says how to run the PostgreSQL tests.
var howTo = fmt.Sprintf("set %s (e.g. %s=%s) to run the PostgreSQL tests; .ci/run does", EnvDSN, EnvDSN, ExampleDSN)

// Main runs a test binary's tests if a PostgreSQL is configured, for use
// as os.Exit(pgtest.Main(m)) in TestMain. Without EnvDSN it prints one
// line saying how to run them and runs nothing, or fails under CI=true.
// With it, the database must answer: if it does not, Main fails without
// running the tests.
func Main(m *testing.M) int {
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		if underCI() {
			fmt.Fprintf(os.Stderr, "FAIL: %s is not set under CI=true: %s\n", EnvDSN, howTo)
			return 1
		}
		fmt.Printf("skipped: %s\n", howTo)
		return 0
	}
	if err := ping(dsn); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %s: %v\n", EnvDSN, err)
		return 1
	}
	return m.Run()
}

// DSN returns the shared database's DSN. Without EnvDSN it skips tb, or
// fails it under CI=true.
func DSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		missing(tb, EnvDSN+" is not set")
	}
	return dsn
}

// missing skips tb for want of a database, or fails it under CI.
func missing(tb testing.TB, why string) {
	tb.Helper()
	if underCI() {
		tb.Fatalf("%s (CI=true: the PostgreSQL tests must run): %s", why, howTo)
	}
	tb.Skipf("%s: %s", why, howTo)
}

func ping(dsn string) error {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}

// Schema returns a schema name of its own for tb (from the test's name and
// a random suffix; the schema is not created) and drops that schema,
// cascading, when the test ends.
func Schema(tb testing.TB, dsn string) string {
	tb.Helper()
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range strings.ToLower(tb.Name()) {
		if b.Len() >= 40 {
			break
		}
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	var suffix [6]byte
	rand.Read(suffix[:])
	name := b.String() + "_" + hex.EncodeToString(suffix[:])
	tb.Cleanup(func() {
		if err := DropSchema(dsn, name); err != nil {
			tb.Errorf("pgtest: dropping schema %s: %v", name, err)
		}
	})
	return name
}

// DropSchema drops a schema and everything in it, if it exists.
func DropSchema(dsn, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE")
	return err
}

// Addr returns the "host:port" a DSN connects to (its first host), for
// NewProxy.
func Addr(tb testing.TB, dsn string) string {
	tb.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
}
