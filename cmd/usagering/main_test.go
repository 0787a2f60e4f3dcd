package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runCLI runs the command line in process with the fixtures' clock.
func runCLI(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &env{stdout: &out, stderr: &errb, now: func() time.Time { return fixtureNow }})
	return out.String(), errb.String(), code
}

// golden compares got with testdata/golden/name (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update ./cmd/usagering to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update ./cmd/usagering rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestReportGolden(t *testing.T) {
	orig := filepath.Join("testdata", "original.json")
	ours := filepath.Join("testdata", "usagering.json")
	for _, c := range []struct {
		golden string
		args   []string
	}{
		{"original-today.txt", []string{"report", "-file", orig}},
		{"original-all-by-model.txt", []string{"report", "-file", orig, "-all", "-by", "model"}},
		{"original-days-by-day.json", []string{"report", "-file", orig, "-days", "2", "-by", "day", "-json"}},
		{"original-days-by-day-model.csv", []string{"report", "-file", orig, "-days", "2", "-by", "day,model", "-csv"}},
		{"usagering-today-by-model.txt", []string{"report", "-file", ours, "-by", "model"}},
		{"usagering-3days-by-model.txt", []string{"report", "-file", ours, "-days", "3", "-by", "model"}},
		{"usagering-3days-by-day-model.txt", []string{"report", "-file", ours, "-from", "2026-11-24", "-to", "2026-11-26", "-by", "day,model"}},
		{"usagering-3days-by-tag.json", []string{"report", "-file", ours, "-days", "3", "-by", "tag:team", "-json"}},
		{"usagering-all-by-provider.csv", []string{"report", "-file", ours, "-all", "-by", "provider", "-csv"}},
		{"usagering-all-by-day.csv", []string{"report", "-file", ours, "-all", "-by", "day", "-csv"}},
		{"usagering-today.json", []string{"report", "-file", ours, "-json"}},
	} {
		t.Run(c.golden, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, c.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if strings.HasSuffix(c.golden, ".csv") && stderr != "" {
				stdout += "# stderr:\n" + stderr
			}
			golden(t, c.golden, stdout)
		})
	}
}

func TestPricesGolden(t *testing.T) {
	for _, c := range []struct {
		golden string
		args   []string
	}{
		{"prices.txt", []string{"prices", "gpt-4o-2024-08-06", "claude-sonnet-4-5", "gemini-2.5-pro"}},
		{"prices.json", []string{"prices", "-json", "o3", "openai/gpt-4o-mini"}},
		{"prices-file.txt", []string{"prices", "-file", filepath.Join("testdata", "prices.json"), "my-model"}},
		{"prices-file-check.txt", []string{"prices", "-file", filepath.Join("testdata", "prices.json")}},
	} {
		t.Run(c.golden, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, c.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			golden(t, c.golden, stdout)
		})
	}
}

// Bad input: a clear message on stderr and exit status 2, nothing on
// stdout.
func TestBadInputExits2(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "package.json")
	os.WriteFile(foreign, []byte(`{"name": "left-pad", "version": "1.3.0"}`), 0o644)
	corrupt := filepath.Join(dir, "corrupt.json")
	os.WriteFile(corrupt, []byte(`{"sessions": [{"model": "gpt-4"`), 0o644)
	badPrices := filepath.Join(dir, "prices.json")
	os.WriteFile(badPrices, []byte(`{"m": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": "cheap", "output_cost_per_token": 1e-6}}`), 0o644)
	ours := filepath.Join("testdata", "usagering.json")
	for _, c := range []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"report", "-file", filepath.Join(dir, "missing.json")}, "no such file or directory"},
		{[]string{"report", "-file", foreign}, "not a usage document"},
		{[]string{"report", "-file", corrupt}, "corrupt"},
		{[]string{"report", "-file", dir}, "is a directory"},
		{[]string{"report", "-file", ours, "-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"report", "-file", ours, "-by", "week"}, `unknown grouping "week"`},
		{[]string{"report", "-file", ours, "-by", "tag:"}, `unknown grouping "tag:"`},
		{[]string{"report", "-file", ours, "-from", "2026-02-30"}, `-from "2026-02-30": not a date YYYY-MM-DD`},
		{[]string{"report", "-file", ours, "-to", "26/11/2026"}, `-to "26/11/2026": not a date`},
		{[]string{"report", "-file", ours, "-from", "2026-11-26", "-to", "2026-11-01"}, "is after -to"},
		{[]string{"report", "-file", ours, "-days", "3", "-from", "2026-11-01"}, "choose one period"},
		{[]string{"report", "-file", ours, "-days", "-1"}, "want 1 or more"},
		{[]string{"report", "-file", ours, "-json", "-csv"}, "choose one"},
		{[]string{"report", "-file", ours, "extra"}, `unexpected argument "extra"`},
		{[]string{"report", "-file", ours, "-postgres", "postgres://x@127.0.0.1/db"}, "give one source"},
		{[]string{"report", "-postgres", "::not a dsn::"}, "invalid"},
		{[]string{"prices", "-file", badPrices, "m"}, `entry "m", field input_cost_per_token`},
		{[]string{"prices", "-file", filepath.Join(dir, "nope.json")}, "no such file"},
		{[]string{"prices"}, "no model given"},
		{[]string{"serve", "-file", foreign}, "not a usage document"},
		{[]string{"serve", "-file", ours, "-addr", "256.1.1.1:http"}, ""},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{nil, "Usage:"},
	} {
		stdout, stderr, code := runCLI(t, c.args...)
		if code != 2 {
			t.Errorf("%q: exit %d, want 2 (stderr %q)", c.args, code, stderr)
			continue
		}
		if !strings.Contains(stderr, c.want) || (c.want == "" && stderr == "") {
			t.Errorf("%q: stderr %q does not say %q", c.args, stderr, c.want)
		}
		if stdout != "" {
			t.Errorf("%q: stdout %q on bad input", c.args, stdout)
		}
	}
}

func TestUnknownModelExits1(t *testing.T) {
	stdout, stderr, code := runCLI(t, "prices", "gpt-4o", "no-such-model-xyz")
	if code != 1 || !strings.Contains(stderr, "no-such-model-xyz: no price") || !strings.Contains(stdout, "gpt-4o") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestHelpExits0(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"report", "-h"}, {"help", "serve"}} {
		stdout, stderr, code := runCLI(t, args...)
		if code != 0 || stdout+stderr == "" {
			t.Errorf("%q: exit %d", args, code)
		}
	}
}
