package tracker

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

const (
	envMPPath = "USAGERING_MP_PATH"
	envMPID   = "USAGERING_MP_ID"
	envMPN    = "USAGERING_MP_N"
)

// TestMultiProcessChild is the child of TestMultiProcess: it records
// USAGERING_MP_N records as model "proc-<id>" into the shared file, with a
// Flush now and then, and closes. It does nothing when run directly.
func TestMultiProcessChild(t *testing.T) {
	path := os.Getenv(envMPPath)
	if path == "" {
		return // not a child
	}
	id := os.Getenv(envMPID)
	n, err := strconv.Atoi(os.Getenv(envMPN))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(path, WithFlushInterval(2_000_000), WithCapacity(256))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		r := Record{Model: "proc-" + id, Provider: "test", InputTokens: 3, OutputTokens: int64(i % 5), CostUSD: 0.001, Timestamp: day0}
		if err := tr.Record(r); err != nil {
			t.Fatal(err)
		}
		if i%500 == 499 {
			if err := tr.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMultiProcess: several OS processes record into one file at once; the
// cross-process lock and the re-read before each write make the final
// totals the exact sum of all of them.
func TestMultiProcess(t *testing.T) {
	if os.Getenv(envMPPath) != "" {
		t.Skip("running as a child")
	}
	const procs = 4
	n := 3000
	if testing.Short() {
		n = 600
	}
	path := filepath.Join(t.TempDir(), "usage.json")
	cmds := make([]*exec.Cmd, procs)
	for i := range cmds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMultiProcessChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), envMPPath+"="+path, envMPID+"="+strconv.Itoa(i), envMPN+"="+strconv.Itoa(n))
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
	}
	doc := readDoc(t, path)
	var wantTokens, wantOut int64
	for i := range n {
		wantTokens += 3 + int64(i%5)
		wantOut += int64(i % 5)
	}
	for i := range procs {
		got := doc.ModelBreakdown[fmt.Sprintf("proc-%d", i)]
		if want := (Totals{Tokens: wantTokens, Cost: usd.FromNanos(int64(n) * 1_000_000), Calls: int64(n), InputTokens: 3 * int64(n), OutputTokens: wantOut}); got != want {
			t.Errorf("process %d: %+v, want %+v", i, got, want)
		}
	}
	all := doc.DailyTotals[day0.Format(usagefile.DayLayout)]
	if want := (Totals{Tokens: procs * wantTokens, Cost: usd.FromNanos(procs * int64(n) * 1_000_000), Calls: procs * int64(n), InputTokens: procs * 3 * int64(n), OutputTokens: procs * wantOut}); all != want {
		t.Fatalf("daily total %+v, want %+v", all, want)
	}
	if want := fmt.Sprint(float64(procs*n) / 1000); all.Cost.String() != want {
		t.Fatalf("daily cost %v, want exactly %v", all.Cost, want)
	}
}
