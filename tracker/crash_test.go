//go:build unix

package tracker

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/usagering/usagering/usagefile"
)

// Environment of TestCrash and of its child processes.
const (
	envCrashSeed  = "USAGERING_CRASH_SEED"  // the kill schedule's seed, to reproduce a run
	envCrashKills = "USAGERING_CRASH_KILLS" // how many children to kill (default 200, 50 with -short)
	envCrashPath  = "USAGERING_CRASH_CHILD_PATH"
	envCrashID    = "USAGERING_CRASH_CHILD_ID"
	envCrashChild = "USAGERING_CRASH_CHILD_SEED"
)

const (
	crashProvider = "crash-test"
	crashSessions = 100 // sessions the file keeps
)

func crashModel(id int) string { return "crash-" + strconv.Itoa(id) }

// crashRecord is record i of child id. Its tokens and cost vary with i, so
// the totals of a prefix of a child's records tell how long the prefix is.
func crashRecord(model string, i int) Record {
	return Record{
		Timestamp:    day0,
		Model:        model,
		Provider:     crashProvider,
		InputTokens:  int64(1 + i%17),
		OutputTokens: int64(i % 5),
		CostUSD:      float64(1+i%11) / 1e6,
	}
}

// crashPrefix is the totals of child id's first n records.
func crashPrefix(id int, n int64) Totals {
	var sum Totals
	model := crashModel(id)
	for i := range int(n) {
		r := crashRecord(model, i)
		sum.Add(totalsOf(r))
	}
	return sum
}

// TestCrashChild is the child of TestCrash. It records its own model at
// full speed into the shared file, with fsync on, and calls Flush every few
// hundred records. It prints "<durable> <limit>" lines: durable is how many
// records were recorded before the latest Flush that returned nil (so they
// are on disk), limit how many it will have recorded before it prints the
// next line (so the file can never hold more). The first line is "0 <limit>".
// It records until it is killed.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(envCrashPath)
	if path == "" {
		t.Skip("child process of TestCrash")
	}
	// Die with the parent, which holds our stdin open.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(3)
	}()
	fail := func(format string, args ...any) {
		fmt.Printf("error: "+format+"\n", args...) // os.Stdout is unbuffered
		os.Exit(2)
	}
	id, err := strconv.Atoi(os.Getenv(envCrashID))
	if err != nil {
		fail("id: %v", err)
	}
	seed, err := strconv.ParseUint(os.Getenv(envCrashChild), 10, 64)
	if err != nil {
		fail("seed: %v", err)
	}
	rng := rand.New(rand.NewPCG(seed, 3))
	// Few sessions keep the file small, so that loading and persisting it
	// under the race detector leave time for many kills; fsync stays on.
	tr, err := New(path, WithLocation(time.UTC), WithClock(fixedClock), WithMaxSessions(crashSessions))
	if err != nil {
		fail("New: %v", err)
	}
	model := crashModel(id)
	n, limit := 0, 100+rng.IntN(401)
	fmt.Printf("0 %d\n", limit)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		for ; n < limit; n++ {
			if err := tr.Record(crashRecord(model, n)); err != nil {
				fail("Record: %v", err)
			}
		}
		if err := tr.Flush(context.Background()); err != nil {
			fail("Flush: %v", err)
		}
		limit = n + 100 + rng.IntN(401)
		fmt.Printf("%d %d\n", n, limit)
	}
	os.Exit(4) // never killed: the parent reports it
}

// crashRun is what the parent learnt from one killed child.
type crashRun struct {
	durable int64 // records on disk: recorded before the last Flush that returned nil
	limit   int64 // records the child could have recorded
	lines   int   // lines read, the first included
}

// runCrashChild starts child id, waits for its first durable line, lets it
// run for delay and SIGKILLs it, then reads what it printed before dying.
func runCrashChild(t *testing.T, id int, path string, seed uint64, delay time.Duration) crashRun {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1", "-test.v=false")
	cmd.Env = append(os.Environ(),
		envCrashPath+"="+path,
		envCrashID+"="+strconv.Itoa(id),
		envCrashChild+"="+strconv.FormatUint(seed, 10),
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A watchdog, not synchronisation: a child that never reports must not
	// hang the test.
	watchdog := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
	defer watchdog.Stop()
	defer func() { _ = stdin.Close() }()

	var run crashRun
	var protoErr error
	out := bufio.NewReader(stdout)
	// readLine reads and checks one line; false at EOF or on a bad line.
	readLine := func() bool {
		line, err := out.ReadString('\n')
		if err != nil {
			// EOF. A line cut short by the kill is ignored: the child
			// writes a line before recording past its limit.
			return false
		}
		var durable, limit int64
		if _, err := fmt.Sscanf(line, "%d %d\n", &durable, &limit); err != nil {
			protoErr = fmt.Errorf("line %q: %v", line, err)
			return false
		}
		// Each line's durable count is the previous line's limit (the
		// first line's is 0), and the next limit lies beyond it.
		if durable != run.limit || limit <= durable {
			protoErr = fmt.Errorf("line %q after limit %d", line, run.limit)
			return false
		}
		run.durable, run.limit = durable, limit
		run.lines++
		return true
	}
	for run.durable == 0 && readLine() { // up to the first durable line
		continue
	}
	if run.durable > 0 {
		// The random delay is the experiment: where the child dies.
		time.Sleep(delay)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	for protoErr == nil && readLine() { // up to EOF: lines written before the kill
		continue
	}
	_, _ = io.Copy(io.Discard, out)
	werr := cmd.Wait()
	if protoErr != nil || run.durable == 0 {
		t.Fatalf("child %d: no durable line (%v; wait: %v); stderr: %s", id, protoErr, werr, stderr.String())
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child %d ended with %v, not by our SIGKILL; stderr: %s", id, cmd.ProcessState, stderr.String())
	}
	return run
}

// crashDoc parses the usage file, which must be complete after any kill
// (it is only ever replaced by a rename), and its backup, which must be
// complete if present and never ahead of the file.
func crashDoc(t *testing.T, kill int, path string) *usagefile.Document {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("kill %d: %v", kill, err)
	}
	doc, err := usagefile.ParseDocument(data)
	if err != nil {
		t.Fatalf("kill %d: the usage file does not load: %v", kill, err)
	}
	data, err = os.ReadFile(usagefile.BackupPath(path))
	if errors.Is(err, fs.ErrNotExist) {
		return doc
	}
	if err != nil {
		t.Fatalf("kill %d: %v", kill, err)
	}
	backup, err := usagefile.ParseDocument(data)
	if err != nil {
		t.Fatalf("kill %d: the backup does not load: %v", kill, err)
	}
	for m, b := range backup.ModelBreakdown {
		if b.Calls > doc.ModelBreakdown[m].Calls {
			t.Fatalf("kill %d: the backup has %d calls of %s, the file %d", kill, b.Calls, m, doc.ModelBreakdown[m].Calls)
		}
	}
	return doc
}

// countTemps counts the temp files of usage.json in dir.
func countTemps(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".usage.json.tmp-") || strings.HasPrefix(e.Name(), ".usage.json.bak-") {
			n++
		}
	}
	return n
}

// TestCrash SIGKILLs processes that record at full speed and Flush often,
// one after the other on the same file, at random moments: before or
// during a persist, between its renames, while it waits for fsync. After
// every kill the file loads, every record whose Flush had returned nil is
// in it, no child's totals exceed what it recorded or are other than the
// totals of a prefix of its records, and what earlier children persisted
// is unchanged.
//
// USAGERING_CRASH_SEED reproduces a kill schedule (timing still varies);
// USAGERING_CRASH_KILLS changes the number of kills.
func TestCrash(t *testing.T) {
	if os.Getenv(envCrashPath) != "" {
		t.Skip("running as a child")
	}
	kills := 200
	if testing.Short() {
		kills = 50
	}
	if s := os.Getenv(envCrashKills); s != "" {
		var err error
		if kills, err = strconv.Atoi(s); err != nil || kills < 1 {
			t.Fatalf("%s=%q: want a positive number", envCrashKills, s)
		}
	}
	seed := testSeed(t, envCrashSeed)
	t.Logf("seed %#x (%s=%#x reproduces the schedule); %d kills", seed, envCrashSeed, seed, kills)
	rng := rand.New(rand.NewPCG(seed, 0xc7a54))

	dir := t.TempDir()
	path := filepath.Join(dir, "usage.json")
	persisted := make([]Totals, 0, kills) // child k's totals in the file after its kill: final
	var total Totals                      // their sum
	var beyond, leftTemps int
	var durableSum int64
	start := time.Now()
	for k := range kills {
		delay := time.Duration(rng.Int64N(int64(30*time.Millisecond) + 1))
		run := runCrashChild(t, k, path, rng.Uint64(), delay)
		durableSum += run.durable
		if countTemps(t, dir) > 0 {
			leftTemps++ // the kill came mid-write; the next open cleans them
		}

		doc := crashDoc(t, k, path)
		for j, want := range persisted {
			if got := doc.ModelBreakdown[crashModel(j)]; got != want {
				t.Fatalf("kill %d: child %d's totals changed from %+v to %+v", k, j, want, got)
			}
		}
		got := doc.ModelBreakdown[crashModel(k)]
		if got.Calls < run.durable || got.Calls > run.limit {
			t.Fatalf("kill %d (after %v): %d records in the file, want %d (flushed) to %d (recorded)", k, delay, got.Calls, run.durable, run.limit)
		}
		if want := crashPrefix(k, got.Calls); got != want {
			t.Fatalf("kill %d: totals %+v are not those of the first %d records, %+v", k, got, got.Calls, want)
		}
		if got.Calls > run.durable {
			beyond++
		}
		persisted = append(persisted, got)
		prev := total
		total.Add(got)
		if total.Calls < prev.Calls+run.durable {
			t.Fatalf("kill %d: %d calls in the file after %d, with %d more flushed", k, total.Calls, prev.Calls, run.durable)
		}
		if d, p := doc.DailyTotals[day0.Format(usagefile.DayLayout)], doc.ProviderBreakdown[crashProvider]; d != total || p != total || len(doc.DailyTotals) != 1 || len(doc.ProviderBreakdown) != 1 {
			t.Fatalf("kill %d: daily %+v, providers %+v; want one bucket of %+v each", k, doc.DailyTotals, doc.ProviderBreakdown, total)
		}
		if len(doc.ModelBreakdown) != k+1 {
			t.Fatalf("kill %d: %d models in the file, want %d", k, len(doc.ModelBreakdown), k+1)
		}
		if n := len(doc.Sessions); n == 0 || n > crashSessions || doc.Sessions[n-1].Model != crashModel(k) {
			t.Fatalf("kill %d: %d sessions, the last not of %s", k, n, crashModel(k))
		}
	}
	elapsed := time.Since(start)

	// A new tracker cleans the temp files the last kill left, and changes
	// nothing.
	tr, err := New(path, WithLocation(time.UTC), WithClock(fixedClock), WithMaxSessions(crashSessions))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if n := countTemps(t, dir); n != 0 {
		t.Fatalf("%d temp files left after a new tracker opened the file", n)
	}
	if got := crashDoc(t, kills, path).DailyTotals[day0.Format(usagefile.DayLayout)]; got != total {
		t.Fatalf("after a final open: %+v, want %+v", got, total)
	}
	t.Logf("%d kills in %v (%v a kill): %d records in the file, %d reported durable; %d kills found records persisted beyond the last reported Flush, %d left temp files",
		kills, elapsed.Round(time.Millisecond), (elapsed / time.Duration(kills)).Round(time.Microsecond), total.Calls, durableSum, beyond, leftTemps)
}
