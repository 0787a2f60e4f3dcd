//go:build unix

package tracker

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/usagering/usagering/usagefile"
)

// rescueTmp points the rescue files' temporary directory (os.TempDir) at a
// directory of the test's own, for the trackers it then makes and for the
// child processes it starts.
func rescueTmp(t *testing.T) string {
	t.Helper()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	return tmp
}

// rescueFiles lists the rescue files of path, beside it and in tmp.
func rescueFiles(t *testing.T, path, tmp string) []string {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	files, err := usagefile.RescueFiles(abs, tmp)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// recordAll records recs into tr.
func recordAll(t *testing.T, tr *Tracker, recs []Record) {
	t.Helper()
	for _, r := range recs {
		if err := tr.Record(r); err != nil {
			t.Fatal(err)
		}
	}
}

// reopen opens path with a new tracker and closes it: what a normal run
// of a program does to the file.
func reopen(t *testing.T, path string) Stats {
	t.Helper()
	tr := newTracker(t, path)
	if err := tr.Close(); err != nil {
		t.Fatalf("normal run on %s: %v", path, err)
	}
	return tr.Stats()
}

// TestCloseRescues: when the usage file cannot be written at Close, the
// records go to a rescue file beside it (or in the temporary directory if
// that directory is gone), Close's error names it, and the next tracker
// that opens the path merges it exactly once.
func TestCloseRescues(t *testing.T) {
	t.Run("beside the file", func(t *testing.T) {
		tmp := rescueTmp(t)
		dir := t.TempDir()
		path := filepath.Join(dir, "usage.json")
		ffs := newFaultFS()
		tr := newTracker(t, path, WithFS(ffs), WithCloseRetries(1), WithFlushInterval(time.Hour)) // no persist before Close
		want := newExpect()
		for i := range 20 {
			r := mkRecord(2, i)
			want.add(r)
			recordAll(t, tr, []Record{r})
		}
		ffs.err.Store(syscall.EIO)
		err := tr.Close()
		var fe *FallbackError
		if !errors.As(err, &fe) || !errors.Is(err, syscall.EIO) {
			t.Fatalf("Close = %v, want a *FallbackError wrapping EIO", err)
		}
		if filepath.Dir(fe.Path) != dir || !strings.HasPrefix(filepath.Base(fe.Path), "usage.rescue.") || fe.Records != 20 {
			t.Fatalf("rescued %d records to %q, want 20 in %s/usage.rescue.<id>.json", fe.Records, fe.Path, dir)
		}
		if !strings.Contains(err.Error(), fe.Path) || !strings.Contains(err.Error(), "20 records saved") {
			t.Fatalf("error %q does not say where the 20 records are", err)
		}
		want.check(t, readDoc(t, fe.Path)) // exactly the unpersisted records
		if st := tr.Stats(); st.FallbackWrites != 1 || st.LostRecords != 0 {
			t.Fatalf("stats: %+v", st)
		}
		if err2 := tr.Close(); err2 != err {
			t.Fatalf("second Close = %v, want the same error", err2)
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("the usage file exists: %v", err)
		}

		// The next run merges it, once; later runs do not merge it again.
		st := reopen(t, path)
		if st.RecoveredRecords != 20 || st.RecoveredFiles != 1 {
			t.Fatalf("recovery stats: %+v", st)
		}
		want.check(t, readDoc(t, path))
		if files := rescueFiles(t, path, tmp); len(files) != 0 {
			t.Fatalf("rescue files left after recovery: %v", files)
		}
		for range 2 {
			if st := reopen(t, path); st.RecoveredRecords != 0 {
				t.Fatalf("recovered again: %+v", st)
			}
			want.check(t, readDoc(t, path))
		}
	})
	t.Run("in the temporary directory", func(t *testing.T) {
		tmp := rescueTmp(t)
		path := filepath.Join(t.TempDir(), "data", "usage.json")
		tr := newTracker(t, path, WithCloseRetries(0), WithFlushInterval(time.Hour))
		recordAll(t, tr, []Record{{Model: "gpt-4", InputTokens: 7, Timestamp: day0}})
		if err := os.RemoveAll(filepath.Dir(path)); err != nil { // the directory disappears
			t.Fatal(err)
		}
		err := tr.Close()
		var fe *FallbackError
		if !errors.As(err, &fe) || filepath.Dir(fe.Path) != tmp || fe.Records != 1 {
			t.Fatalf("Close = %v, want 1 record rescued in %s", err, tmp)
		}
		if !strings.Contains(err.Error(), "1 record saved in "+fe.Path) {
			t.Fatalf("error %q", err)
		}
		if got := readDoc(t, fe.Path).ModelBreakdown["gpt-4"].Tokens; got != 7 {
			t.Fatalf("rescue file holds %d tokens, want 7", got)
		}
		// New recreates the directory and merges the rescue file.
		if st := reopen(t, path); st.RecoveredRecords != 1 {
			t.Fatalf("recovery stats: %+v", st)
		}
		if got := readDoc(t, path).ModelBreakdown["gpt-4"]; got.Tokens != 7 || got.Calls != 1 {
			t.Fatalf("after recovery: %+v", got)
		}
		if files := rescueFiles(t, path, tmp); len(files) != 0 {
			t.Fatalf("rescue files left: %v", files)
		}
	})
}

// TestRescueFilesNeverOverwrite: eight trackers, two per usage file,
// whose directories vanish close at the same moment; each writes its own
// rescue file (unique names, created exclusively), and each path recovers
// the records of both its trackers, once.
func TestRescueFilesNeverOverwrite(t *testing.T) {
	tmp := rescueTmp(t)
	const n = 8
	paths := make([]string, n/2)
	for p := range paths {
		paths[p] = filepath.Join(t.TempDir(), "gone", "usage.json")
	}
	trs := make([]*Tracker, n)
	for i := range n {
		trs[i] = newTracker(t, paths[i/2], WithCloseRetries(0), WithFlushInterval(time.Hour))
		recordAll(t, trs[i], []Record{{Model: fmt.Sprintf("model-%d", i/2), InputTokens: int64(100 + i), Timestamp: day0}})
	}
	for _, path := range paths {
		if err := os.RemoveAll(filepath.Dir(path)); err != nil {
			t.Fatal(err)
		}
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = trs[i].Close() }()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, err := range errs {
		var fe *FallbackError
		if !errors.As(err, &fe) || fe.Path == "" || fe.Records != 1 {
			t.Fatalf("tracker %d: Close = %v, want 1 record rescued", i, err)
		}
		if seen[fe.Path] {
			t.Fatalf("two trackers rescued to %s", fe.Path)
		}
		seen[fe.Path] = true
	}
	for run := range 2 {
		for p, path := range paths {
			st := reopen(t, path)
			if want := int64(2 * (1 - run)); st.RecoveredRecords != want {
				t.Fatalf("run %d, path %d: recovered %d records, want %d", run, p, st.RecoveredRecords, want)
			}
			doc := readDoc(t, path)
			want := Totals{Tokens: 100 + 2*int64(p) + 101 + 2*int64(p), InputTokens: 100 + 2*int64(p) + 101 + 2*int64(p), Calls: 2}
			if got := doc.ModelBreakdown[fmt.Sprintf("model-%d", p)]; got != want || len(doc.ModelBreakdown) != 1 {
				t.Fatalf("run %d, path %d: %+v, want only model-%d %+v", run, p, doc.ModelBreakdown, p, want)
			}
		}
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Fatalf("temporary directory still holds %d files", len(entries))
	}
}

// TestRescueSurvivesNormalRuns: a directory at the path at Close sends the
// records to a rescue file; once the directory is gone, three normal runs
// keep every record (the backup, rewritten by each run, is not where they
// live).
func TestRescueSurvivesNormalRuns(t *testing.T) {
	tmp := rescueTmp(t)
	path := filepath.Join(t.TempDir(), "usage.json")
	want := newExpect()
	tr := newTracker(t, path, WithCloseRetries(0), WithFlushInterval(time.Hour))
	for i := range 6 {
		r := mkRecord(3, i)
		want.add(r)
		recordAll(t, tr, []Record{r})
	}
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	var fe *FallbackError
	if err := tr.Close(); !errors.As(err, &fe) || fe.Records != 6 {
		t.Fatalf("Close = %v, want 6 records rescued", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	for run := range 3 {
		reopen(t, path)
		want.check(t, readDoc(t, path))
		if files := rescueFiles(t, path, tmp); len(files) != 0 {
			t.Fatalf("run %d: rescue files left: %v", run, files)
		}
	}
}

// Environment of the rescue crash and race children.
const (
	envRescuePath = "USAGERING_RESCUE_PATH"
	envRescueKill = "USAGERING_RESCUE_KILL" // "1": SIGKILL itself between the merged write and the removal
)

// TestRescueChild opens the usage file at USAGERING_RESCUE_PATH, which
// merges its rescue files, and closes it. With USAGERING_RESCUE_KILL=1 it
// is killed by SIGKILL right after the write that merged them, before it
// removes them. It does nothing when run directly.
func TestRescueChild(t *testing.T) {
	path := os.Getenv(envRescuePath)
	if path == "" {
		return
	}
	if os.Getenv(envRescueKill) == "1" {
		testHookRescueWritten = func() { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL) }
	}
	tr, err := New(path, WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
}

func startRescueChild(t *testing.T, path string, kill bool) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRescueChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envRescuePath+"="+path, envRescueKill+"="+map[bool]string{true: "1", false: "0"}[kill],
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// rescue leaves one record per model at path in a rescue file of its own
// beside it (a directory at the path makes Close fail), with the path
// free again, and returns the rescue files.
func rescue(t *testing.T, path string, tokens map[string]int64) []string {
	t.Helper()
	var trs []*Tracker
	for model, n := range tokens {
		tr := newTracker(t, path, WithCloseRetries(0), WithFlushInterval(time.Hour))
		recordAll(t, tr, []Record{{Model: model, InputTokens: n, Timestamp: day0}})
		trs = append(trs, tr)
	}
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, tr := range trs {
		var fe *FallbackError
		if err := tr.Close(); !errors.As(err, &fe) || fe.Path == "" {
			t.Fatalf("Close = %v, want a rescue", err)
		}
		files = append(files, fe.Path)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	return files
}

// TestRescueCrashAfterMerge: a process SIGKILLed after the write that
// merged a rescue file and before its removal leaves both; the next run
// removes the rescue file without merging it again.
func TestRescueCrashAfterMerge(t *testing.T) {
	tmp := rescueTmp(t)
	path := filepath.Join(t.TempDir(), "usage.json")
	rescued := rescue(t, path, map[string]int64{"m": 42})[0]

	err := startRescueChild(t, path, true).Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child: %v, want killed by SIGKILL", err)
	}
	doc := readDoc(t, path)
	if got := doc.ModelBreakdown["m"]; got.Tokens != 42 || got.Calls != 1 {
		t.Fatalf("after the merge: %+v", got)
	}
	if _, err := os.Stat(rescued); err != nil {
		t.Fatalf("the rescue file must still be there after the crash: %v", err)
	}
	if len(doc.State.Rescued) != 1 {
		t.Fatalf("the file lists %v as absorbed, want its id", doc.State.Rescued)
	}

	for range 2 {
		if st := reopen(t, path); st.RecoveredRecords != 0 {
			t.Fatalf("merged again after the crash: %+v", st)
		}
		if got := readDoc(t, path).ModelBreakdown["m"]; got.Tokens != 42 || got.Calls != 1 {
			t.Fatalf("after restart: %+v, want counted once", got)
		}
	}
	if files := rescueFiles(t, path, tmp); len(files) != 0 {
		t.Fatalf("rescue files left: %v", files)
	}
	if doc := readDoc(t, path); len(doc.State.Rescued) != 0 {
		t.Fatalf("absorbed ids kept after their files are gone: %v", doc.State.Rescued)
	}
}

// TestRescueRace: several processes open the path at once; the rescue
// files are merged once between them.
func TestRescueRace(t *testing.T) {
	tmp := rescueTmp(t)
	path := filepath.Join(t.TempDir(), "usage.json")
	rescue(t, path, map[string]int64{"a": 10, "b": 20})
	const procs = 4
	cmds := make([]*exec.Cmd, procs)
	for i := range cmds {
		cmds[i] = startRescueChild(t, path, false)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
	}
	doc := readDoc(t, path)
	for m, tokens := range map[string]int64{"a": 10, "b": 20} {
		if got := doc.ModelBreakdown[m]; got.Tokens != tokens || got.Calls != 1 {
			t.Fatalf("model %s: %+v, want %d tokens, 1 call", m, got, tokens)
		}
	}
	if files := rescueFiles(t, path, tmp); len(files) != 0 {
		t.Fatalf("rescue files left: %v", files)
	}
}

// TestNewFailsFast: New creates missing directories and refuses, at once,
// what can never work, with an error that says why.
func TestNewFailsFast(t *testing.T) {
	t.Run("missing parents are created", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "a", "b", "usage.json")
		tr := newTracker(t, path)
		recordAll(t, tr, []Record{{Model: "m", Timestamp: day0}})
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
		if readDoc(t, path).ModelBreakdown["m"].Calls != 1 {
			t.Fatal("record not persisted")
		}
	})
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, path string) []Option
		cause error
		says  string
	}{
		{"directory at the path", func(t *testing.T, path string) []Option {
			return nil
		}, nil, "is a directory"},
		{"directory without write permission", func(t *testing.T, path string) []Option {
			ffs := newFaultFS()
			ffs.err.Store(syscall.EACCES)
			return []Option{WithFS(ffs)}
		}, fs.ErrPermission, "cannot create files"},
		{"lock file cannot be taken", func(t *testing.T, path string) []Option {
			writeDocForTest(t, path)
			if err := os.Remove(usagefile.LockPath(path)); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(usagefile.LockPath(path), 0o755); err != nil {
				t.Fatal(err)
			}
			return nil
		}, nil, ".lock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "usage.json")
			if tc.name == "directory at the path" {
				if err := os.Mkdir(path, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			opts := tc.setup(t, path)
			for name, open := range map[string]func() (Recorder, error){
				"New":     func() (Recorder, error) { return New(path, testOpts(opts...)...) },
				"NewSync": func() (Recorder, error) { return NewSync(path, opts...) },
			} {
				rec, err := open()
				if err == nil {
					rec.Close()
					t.Fatalf("%s succeeded", name)
				}
				if !errors.Is(err, ErrUnusablePath) || tc.cause != nil && !errors.Is(err, tc.cause) || !strings.Contains(err.Error(), tc.says) {
					t.Fatalf("%s = %v, want ErrUnusablePath saying %q (cause %v)", name, err, tc.says, tc.cause)
				}
			}
		})
	}
}

// writeDocForTest writes a usage file with one call of model "old".
func writeDocForTest(t *testing.T, path string) {
	t.Helper()
	tr := newTracker(t, path)
	recordAll(t, tr, []Record{{Model: "old", Timestamp: day0}})
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestQueriesReadTheirWrites: Today and Summary count every record
// accepted before the call, without a Flush, while eight goroutines record.
func TestQueriesReadTheirWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	tr := newTracker(t, path, WithFlushInterval(1<<40))
	defer tr.Close()
	for i := range 20 {
		recordAll(t, tr, []Record{{Model: "solo", InputTokens: 1}})
		if got := tr.Today().Calls; got != int64(i+1) {
			t.Fatalf("after %d records Today().Calls = %d", i+1, got)
		}
	}
	const producers, each = 8, 300
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			model := fmt.Sprintf("producer-%d", p)
			for i := range each {
				if err := tr.Record(Record{Model: model, InputTokens: 1}); err != nil {
					errs <- err
					return
				}
				if i%10 != 9 {
					continue
				}
				sum, err := tr.Summary(1)
				if err != nil {
					errs <- err
					return
				}
				if got := sum.ModelBreakdown[model].Calls; got != int64(i+1) {
					errs <- fmt.Errorf("%s: after %d records Summary counts %d", model, i+1, got)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := tr.Today().Calls; got != 20+producers*each {
		t.Fatalf("Today().Calls = %d, want %d", got, 20+producers*each)
	}
}

// TestNewSyncRefusesAsyncOptions names the options it cannot honour.
func TestNewSyncRefusesAsyncOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	_, err := NewSync(path, WithCapacity(8), WithMaxSessions(5), WithFlushInterval(1))
	if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "WithCapacity, WithFlushInterval") {
		t.Fatalf("NewSync = %v, want ErrInvalidOption naming WithCapacity and WithFlushInterval", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a refused NewSync wrote the file")
	}
	tr, err := NewSync(path, WithMaxSessions(5), WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	tr.Close()
}
