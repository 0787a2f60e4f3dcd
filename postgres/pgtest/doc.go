// Package pgtest is test support for code that talks to PostgreSQL, as
// net/http/httptest is for HTTP: the shared test database (EnvDSN, one
// schema per test), throwaway servers to stop, crash and restart
// (Instance), and a TCP proxy that fails the network on cue (Proxy:
// refuse connections, drop them all, cut one exactly at COMMIT).
//
// A test package that needs PostgreSQL calls Main from its TestMain: with
// no database configured it prints one line saying how to run the tests
// and skips them, except under CI=true, where that is a failure.
//
// Tests may run as root; the server refuses to, so Instance runs it as the
// OS user postgres. Packages' tests run in parallel (go test ./...): a test
// that stops or breaks a server must use its own Instance, never the
// shared database.
package pgtest
