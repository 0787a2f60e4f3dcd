package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/usagering/usagering/postgres/pgtest"
)

// TestFleetScenario runs the fleet scenario, short, with 2 writer
// processes against the shared database (skipped without one, except
// under CI=true): the results' keys, figures that must be there, and the
// honesty checks of every file and of the database, all OK. Latency ratios
// and lag are not asserted: the machine may be shared, and the writers run
// under the race detector.
func TestFleetScenario(t *testing.T) {
	dsn := pgtest.DSN(t)
	stdout, doc := runScenario(t, "-scenarios", "fleet", "-quick", "-writers", "2", "-fleet-duration", "2s",
		"-litellm-calls", "400", "-postgres", dsn)
	doc2, ok := doc["fleet"].(map[string]any)
	if !ok {
		t.Fatalf("fleet: %v, want an object", doc["fleet"])
	}
	fleet := func(path string) float64 {
		t.Helper()
		v, ok := field(doc2, path).(float64)
		if !ok {
			t.Fatalf("fleet.%s: %v (%T), want a number", path, field(doc2, path), field(doc2, path))
		}
		return v
	}
	if fleet("writers") != 2 || fleet("flush_interval_ms") != 100 || fleet("writer_rate") != 5000 {
		t.Errorf("fleet: writers %v, flush %v ms, rate %v", doc2["writers"], doc2["flush_interval_ms"], doc2["writer_rate"])
	}

	phases, _ := doc2["phases"].([]any)
	if len(phases) != 3 {
		t.Fatalf("fleet.phases: %d, want 3", len(phases))
	}
	for i, name := range []string{"paced", "paced/10", "full speed"} {
		p := phases[i].(map[string]any)
		if p["name"] != name {
			t.Errorf("phase %d: %v, want %s", i, p["name"], name)
		}
		pn := func(path string) float64 {
			t.Helper()
			v, ok := field(p, path).(float64)
			if !ok {
				t.Fatalf("phase %s: %s: %v, want a number", name, path, field(p, path))
			}
			return v
		}
		for _, side := range []string{"ship", "plain"} {
			if pn(side+".records") <= 0 || pn(side+".records_per_second_per_writer") <= 0 || pn(side+".latency.count") != pn(side+".records") {
				t.Errorf("phase %s, %s: %v", name, side, p[side])
			}
			for _, f := range []string{"latency.median_ms", "latency.p99_ms", "latency.p999_ms", "latency.max_ms", "persists_per_second_per_writer", "min_records_per_second_per_writer"} {
				pn(side + "." + f)
			}
		}
		for _, f := range []string{"ratio.p50", "ratio.p99", "ratio.p999", "transactions_per_second_per_writer",
			"transactions_per_writer_per_flush_interval", "rows_written_per_second", "rows_per_transaction", "records_per_transaction", "transactions_per_million_records"} {
			pn(f)
		}
		if pn("transactions") <= 0 || pn("rows_written") < pn("transactions") {
			t.Errorf("phase %s: %v transactions, %v rows written", name, p["transactions"], p["rows_written"])
		}
		if name == "paced" && (pn("rate_per_writer") != 5000 || pn("ship.records_per_second_per_writer") < 4000) {
			t.Errorf("paced phase: rate %v, ship side %v records/s per writer", p["rate_per_writer"], field(p, "ship.records_per_second_per_writer"))
		}
	}
	for _, f := range []string{"record_ratio.p50", "record_ratio.p99", "record_ratio.p999", "lag.p50_ms", "lag.p99_ms", "lag.max_ms"} {
		if fleet(f) <= 0 {
			t.Errorf("fleet.%s = %v, want > 0", f, fleet(f))
		}
	}
	if fleet("lag.markers") <= 0 || fleet("lag.missing") != 0 || fleet("lag.target_p99_ms") != 300 {
		t.Errorf("fleet.lag: %v", doc2["lag"])
	}

	// The database: every batch counted once, every call there.
	if fleet("database.transactions") <= 0 || fleet("database.transactions") != fleet("database.writers_seq_sum") || fleet("database.writers") != 2 {
		t.Errorf("fleet.database: %v", doc2["database"])
	}
	if fleet("database.calls") <= 0 || fleet("database.rows_stored") <= 0 || fleet("database.bytes") <= 0 {
		t.Errorf("fleet.database: %v", doc2["database"])
	}
	if fleet("litellm.calls") != 400 || fleet("litellm.transactions") != 4 || fleet("litellm.rows") < 400 || fleet("litellm.bytes") <= 0 {
		t.Errorf("fleet.litellm: %v", doc2["litellm"])
	}
	for _, way := range []string{"usagering", "litellm"} {
		for _, f := range []string{"rows", "bytes", "transactions"} {
			if fleet("per_million_calls."+way+"."+f) <= 0 {
				t.Errorf("fleet.per_million_calls.%s.%s is not positive", way, f)
			}
		}
	}
	if got, want := fleet("per_million_calls.litellm.transactions"), 1e6/fleetSpendPerTx; got != want {
		t.Errorf("LiteLLM's way: %v transactions per million calls, want %v", got, want)
	}

	// Honesty: both files of each writer, and the database, all OK.
	sides := map[string]bool{}
	for _, h := range doc["honesty"].([]any) {
		m := h.(map[string]any)
		if m["scenario"] != "fleet" {
			continue
		}
		side, _ := m["side"].(string)
		sides[side] = true
		if m["ok"] != true {
			t.Errorf("honesty check %s: %v", side, m)
		}
		if side == "database" && (field(m, "persisted.calls") != field(m, "recorded.calls") || field(m, "recorded.calls") != doc2["database"].(map[string]any)["calls"]) {
			t.Errorf("database check: %v, fleet.database %v", m, doc2["database"])
		}
	}
	for _, s := range []string{"ship, writer 0", "plain, writer 0", "ship, writer 1", "plain, writer 1", "database"} {
		if !sides[s] {
			t.Errorf("no honesty check %q (have %v)", s, sides)
		}
	}
	if doc2["zero_loss"] != true || criterionResult(doc, "fleet_zero_loss") != "PASS" {
		t.Errorf("zero loss %v, criterion %s", doc2["zero_loss"], criterionResult(doc, "fleet_zero_loss"))
	}
	for _, c := range []string{"fleet_record_p50_ratio", "fleet_record_p99_ratio", "fleet_record_p999_ratio", "fleet_tx_per_flush", "fleet_lag_p99"} {
		if r := criterionResult(doc, c); r != "PASS" && r != "FAIL" {
			t.Errorf("criterion %s: %q", c, r)
		}
	}
	for _, s := range []string{"9. Fleet", "ship/plain", "end-to-end lag", "LiteLLM's way", "per million calls", "7. Fleet"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("stdout lacks %q", s)
		}
	}

	// The run's schema is gone.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", doc2["schema"]).Scan(&n); err != nil || n != 0 {
		t.Errorf("schema %v: %d left (%v)", doc2["schema"], n, err)
	}
}

// TestFleetWithoutDatabase: with no DSN the fleet says how to run it on
// one line and is SKIP, not an error.
func TestFleetWithoutDatabase(t *testing.T) {
	t.Setenv(envPostgresDSN, "")
	stdout, doc := runScenario(t, "-scenarios", "fleet")
	if n := strings.Count(stdout, "fleet: skipped: no database: set "+envPostgresDSN+" or -postgres"); n != 1 {
		t.Errorf("%d skip lines, want 1:\n%s", n, stdout)
	}
	if doc["fleet"] != nil {
		t.Errorf("fleet: %v, want null", doc["fleet"])
	}
	for _, c := range []string{"fleet_record_p50_ratio", "fleet_record_p99_ratio", "fleet_record_p999_ratio", "fleet_tx_per_flush", "fleet_lag_p99", "fleet_zero_loss"} {
		if r := criterionResult(doc, c); r != "SKIP" {
			t.Errorf("criterion %s: %q, want SKIP", c, r)
		}
	}
}

func TestFleetFlags(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		d        time.Duration
		litellm  int
		writers  int
		rate     float64
		postgres string
	}{
		{nil, 10 * time.Second, 20_000, 4, 5000, ""},
		{[]string{"-quick"}, 4 * time.Second, 2_000, 4, 5000, ""},
		{[]string{"-quick", "-fleet-duration", "30s", "-litellm-calls", "7", "-writers", "8", "-writer-rate", "100", "-postgres", "x"}, 30 * time.Second, 7, 8, 100, "x"},
	} {
		c, err := parseFlags(tc.args, &bytes.Buffer{})
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if c.fleetDuration != tc.d || c.litellmCalls != tc.litellm || c.writers != tc.writers || c.writerRate != tc.rate || c.postgres != tc.postgres {
			t.Errorf("%q: %v, %d calls, %d writers, %v/s, %q", tc.args, c.fleetDuration, c.litellmCalls, c.writers, c.writerRate, c.postgres)
		}
		if c.fleetFlush != 100*time.Millisecond {
			t.Errorf("%q: flush %v", tc.args, c.fleetFlush)
		}
	}
	for _, args := range [][]string{
		{"-writers", "0"}, {"-writer-rate", "0"}, {"-writer-rate", "-1"}, {"-writer-rate", "NaN"},
		{"-fleet-duration", "0s"}, {"-fleet-flush", "-1ms"}, {"-litellm-calls", "0"},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
	// The plan: a warm-up and three measured phases of an even number of
	// slices, at least four, back to back with a settle between them.
	c, _ := parseFlags(nil, &bytes.Buffer{})
	plan := fleetPlan(c)
	if len(plan) != 4 || plan[0].Measured || !plan[1].Probe || !plan[2].Probe || plan[3].Probe || plan[3].Rate != 0 || plan[2].Rate != 500 {
		t.Fatalf("plan: %+v", plan)
	}
	for i, p := range plan {
		if p.Slices%2 != 0 || p.Measured && p.Slices < 4 || i > 0 && p.Start != plan[i-1].end()+plan[i-1].Settle {
			t.Errorf("phase %d: %+v", i, p)
		}
	}
}

// TestWithAppName: both DSN forms get the run's application_name, and pgx
// reads it.
func TestWithAppName(t *testing.T) {
	for _, dsn := range []string{exampleDSN, "host=127.0.0.1 user=postgres dbname=test", "postgresql://u@h/db?application_name=old"} {
		d, err := withAppName(dsn, "bench-x")
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := pgx.ParseConfig(d)
		if err != nil {
			t.Fatalf("%q: %v", d, err)
		}
		if got := cfg.RuntimeParams["application_name"]; got != "bench-x" {
			t.Errorf("%q: application_name %q", d, got)
		}
	}
}
