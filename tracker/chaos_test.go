//go:build unix

package tracker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/usagering/usagering/atomicfile"
	"go.uber.org/atomic"
)

// Environment of TestChaos and of its child processes.
const (
	envChaosSeed     = "USAGERING_CHAOS_SEED"     // the schedule's seed, to reproduce a run
	envChaosDuration = "USAGERING_CHAOS_DURATION" // how long the faults go on (a time.Duration, e.g. 2m)
	envChaosPath     = "USAGERING_CHAOS_CHILD_PATH"
	envChaosID       = "USAGERING_CHAOS_CHILD_ID"
	envChaosN        = "USAGERING_CHAOS_CHILD_N"
)

// chaosFault is one fault TestChaos toggles.
type chaosFault int

const (
	// faultReadOnly: creating the temp file fails with EACCES, what a
	// read-only directory gives (through the FS seam: chmod does not
	// restrict root, and CI may run as root).
	faultReadOnly chaosFault = iota
	// faultDirAtPath: an operator moved the file aside and made a directory
	// at its path; clearing removes the directory and moves the file back.
	faultDirAtPath
	// faultFileSync: the temp file's fsync fails with EIO.
	faultFileSync
	// faultDirSync: the directory's fsync after the rename fails with EIO
	// (the new content is visible, its durability unknown).
	faultDirSync
	numFaults
)

var faultNames = [numFaults]string{"read-only directory", "directory at the path", "fsync of the file", "fsync of the directory"}

func (f chaosFault) String() string { return faultNames[f] }

// faultOf names the injected fault an error of Flush comes from, or returns
// false for an error no injected fault explains.
func faultOf(err error) (chaosFault, bool) {
	var step *atomicfile.StepError
	switch {
	case errors.Is(err, syscall.EISDIR):
		return faultDirAtPath, true
	case !errors.As(err, &step):
		return 0, false
	case step.Step == atomicfile.StepCreateTemp && errors.Is(err, syscall.EACCES):
		return faultReadOnly, true
	case step.Step == atomicfile.StepSyncFile && errors.Is(err, syscall.EIO):
		return faultFileSync, true
	case step.Step == atomicfile.StepSyncDir && errors.Is(err, syscall.EIO):
		return faultDirSync, true
	}
	return 0, false
}

// chaos holds which faults are on. Only the test's goroutine toggles them.
type chaos struct {
	fs          *faultFS
	path, aside string
	lock        fileLock // the trackers' cross-process lock, taken as a cooperating operator would
	on          [numFaults]bool
	episodes    [numFaults]int
}

// set turns fault f on or off.
func (c *chaos) set(f chaosFault, on bool) error {
	if c.on[f] == on {
		return nil
	}
	var err error
	switch f {
	case faultReadOnly:
		c.fs.err.Store(errIf(on, syscall.EACCES))
	case faultFileSync:
		c.fs.syncErr.Store(errIf(on, syscall.EIO))
	case faultDirSync:
		c.fs.dirSyncErr.Store(errIf(on, syscall.EIO))
	case faultDirAtPath:
		// Under the lock, so that no tracker is between its read of the
		// file and its rename over it: the operator's move cannot race a
		// write (a rename over the path would make the mkdir fail, or
		// restoring the old file would undo the write).
		err = c.lock.do(func() error {
			if on {
				if err := os.Rename(c.path, c.aside); err != nil {
					return err
				}
				return os.Mkdir(c.path, 0o755)
			}
			if err := os.Remove(c.path); err != nil {
				return err
			}
			return os.Rename(c.aside, c.path)
		})
	}
	if err != nil {
		return fmt.Errorf("turning %v %s: %w", f, map[bool]string{true: "on", false: "off"}[on], err)
	}
	c.on[f] = on
	if on {
		c.episodes[f]++
	}
	return nil
}

func errIf(on bool, err error) error {
	if on {
		return err
	}
	return nil
}

func (c *chaos) clearAll() error {
	var errs []error
	for f := range numFaults {
		errs = append(errs, c.set(f, false))
	}
	return errors.Join(errs...)
}

func (c *chaos) anyOn() bool {
	for _, on := range c.on {
		if on {
			return true
		}
	}
	return false
}

// chaosRecord is record i of producer g, with exact nano-dollar costs,
// spread over three days and, through explicit and detected providers,
// over five providers. md is shared and never modified.
func chaosRecord(g, i int, md map[string]string) Record {
	r := Record{
		Timestamp:    day0.Add(time.Duration(i%3-1) * 24 * time.Hour),
		Model:        models[(g+i)%len(models)],
		InputTokens:  int64(100 + i%7),
		OutputTokens: int64(g + i%3),
		CostUSD:      float64(1000+i%13) / 1e6,
		LatencyMS:    float64(i % 100),
		Metadata:     md,
	}
	if i%5 == 0 {
		r.Provider = "azure"
	}
	return r
}

// chaosChildRecord is record i of child process id: its own model.
func chaosChildRecord(id, i int) Record {
	return Record{
		Timestamp:    day0.Add(time.Duration(i%2) * 24 * time.Hour),
		Model:        "chaos-child-" + strconv.Itoa(id),
		InputTokens:  int64(1 + i%11),
		OutputTokens: int64(id % 7),
		CostUSD:      float64(500+i%17) / 1e6,
	}
}

// mergeExpect adds src's sums into dst.
func mergeExpect(dst, src *expect) {
	for _, kv := range []struct{ d, s map[string]Totals }{{dst.daily, src.daily}, {dst.models, src.models}, {dst.providers, src.providers}} {
		for k, t := range kv.s {
			cur := kv.d[k]
			cur.Add(t)
			kv.d[k] = cur
		}
	}
}

// testSeed returns the seed in the environment variable name (decimal or
// 0x hex), or a fresh random one.
func testSeed(t *testing.T, name string) uint64 {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return rand.Uint64()
	}
	seed, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return seed
}

// TestChaosChild is the second OS process of TestChaos: it records
// USAGERING_CHAOS_CHILD_N records of its own model into the shared file,
// flushing now and then (errors are expected during the parent's faults),
// and closes, which must succeed once the faults are cleared.
func TestChaosChild(t *testing.T) {
	path := os.Getenv(envChaosPath)
	if path == "" {
		t.Skip("child process of TestChaos")
	}
	id, err := strconv.Atoi(os.Getenv(envChaosID))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(os.Getenv(envChaosN))
	if err != nil {
		t.Fatal(err)
	}
	// Close retries until the parent clears the directory at the path: a
	// fault episode lasts well under a second, and 2000 retries 10 to
	// 20 ms apart leave at least 20 s (and bound the life of a child whose
	// parent died).
	// New fails while a directory is at the path (it can never write
	// there); a service restarted by its supervisor retries, as here, until
	// the operator (the parent) clears it.
	var tr *Tracker
	for attempt := 0; ; attempt++ {
		tr, err = New(path, testOpts(WithCapacity(256), WithMaxSessions(50), WithCloseRetries(2000))...)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrUnusablePath) || attempt == 2000 {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // a supervisor's restart delay, not a synchronization
	}
	for i := range n {
		if err := tr.Record(chaosChildRecord(id, i)); err != nil {
			t.Fatal(err)
		}
		if i%250 == 249 {
			_ = tr.Flush(context.Background())
		}
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if st := tr.Stats(); st.LostRecords != 0 || st.TotalRecords != int64(n) {
		t.Fatalf("child stats: %+v", st)
	}
}

// chaosChild is a running TestChaosChild.
type chaosChild struct {
	id, n int
	cmd   *exec.Cmd
	out   bytes.Buffer
	done  chan struct{} // closed once err is set
	err   error
}

func startChaosChild(t *testing.T, path string, id, n int) *chaosChild {
	t.Helper()
	c := &chaosChild{id: id, n: n, done: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestChaosChild$", "-test.count=1")
	c.cmd.Env = append(os.Environ(), envChaosPath+"="+path, envChaosID+"="+strconv.Itoa(id), envChaosN+"="+strconv.Itoa(n),
		// Under -race, exit at once rather than after the detector's
		// default 1 s pause: the child is done writing by then.
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	return c
}

func (c *chaosChild) running() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// TestChaos: producers record without pause while faults come and go at
// random — a read-only directory, a directory at the file's path, failing
// fsyncs of the file and of the directory, and other OS processes writing
// the same file — and Flush is called now and then. A Flush may fail only
// for a reason an injected fault explains; one the test's goroutine makes
// after recording must fail if and only if a fault is on. Once the faults
// are cleared, Close succeeds and the file holds the exact sums of every
// accepted record, the parent's and the children's; nothing was lost and
// the faults demonstrably bit.
//
// USAGERING_CHAOS_SEED reproduces a schedule (timing still varies);
// USAGERING_CHAOS_DURATION runs the chaos longer than the default 8 s
// (2 s with -short).
func TestChaos(t *testing.T) {
	if os.Getenv(envChaosPath) != "" {
		t.Skip("running as a child")
	}
	dur := 8 * time.Second
	if testing.Short() {
		dur = 2 * time.Second
	}
	if s := os.Getenv(envChaosDuration); s != "" {
		var err error
		if dur, err = time.ParseDuration(s); err != nil {
			t.Fatalf("%s=%q: %v", envChaosDuration, s, err)
		}
	}
	seed := testSeed(t, envChaosSeed)
	t.Logf("seed %#x (%s=%#x reproduces the schedule); faults for %v", seed, envChaosSeed, seed, dur)
	rng := rand.New(rand.NewPCG(seed, 0xc4a05))
	start := time.Now()

	dir := t.TempDir()
	path := filepath.Join(dir, "usage.json")
	c := &chaos{
		fs:    newFaultFS(),
		path:  path,
		aside: filepath.Join(dir, "usage.aside.json"),
		lock:  newFileLock(path),
	}
	tr := newTracker(t, path, WithFS(c.fs), WithCapacity(512), WithMaxSessions(50))
	var children []*chaosChild
	var stop atomic.Bool
	var wg sync.WaitGroup
	t.Cleanup(func() {
		// After a failure: leave nothing running, nothing broken.
		stop.Store(true)
		wg.Wait()
		_ = c.clearAll()
		for _, ch := range children {
			_ = ch.cmd.Process.Kill()
			<-ch.done
		}
		_ = tr.Close()
	})

	// Producers: Block policy, without pause, until stop.
	const producers = 4
	produced := make([]*expect, producers)
	counts := make([]int, producers)
	for g := range producers {
		produced[g] = newExpect()
		wg.Add(1)
		go func() {
			defer wg.Done()
			md := map[string]string{"producer": strconv.Itoa(g)}
			for i := 0; !stop.Load(); i++ {
				r := chaosRecord(g, i, md)
				if err := tr.Record(r); err != nil {
					t.Errorf("producer %d: Record: %v", g, err)
					return
				}
				produced[g].add(r)
				counts[g]++
			}
		}()
	}
	// A goroutine that flushes now and then: errors are expected, but each
	// must come from an injected fault.
	var flushOK, flushFailed atomic.Int64
	var flushCauses [numFaults]atomic.Int64
	flushRng := rand.New(rand.NewPCG(rng.Uint64(), 1))
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			// Pacing of the experiment, not synchronisation.
			time.Sleep(time.Duration(flushRng.Int64N(int64(15 * time.Millisecond))))
			err := tr.Flush(context.Background())
			if err == nil {
				flushOK.Inc()
				continue
			}
			flushFailed.Inc()
			f, ok := faultOf(err)
			if !ok {
				t.Errorf("Flush: %v: no injected fault explains it", err)
				continue
			}
			flushCauses[f].Inc()
		}
	}()

	// Records of this goroutine: a marker before each checked Flush, so
	// that the Flush has something to persist.
	mine := newExpect()
	markers := 0
	mark := func() {
		r := Record{Model: "chaos-marker", InputTokens: int64(markers % 10), CostUSD: 0.000123, Timestamp: day0}
		if err := tr.Record(r); err != nil {
			t.Fatalf("Record: %v", err)
		}
		mine.add(r)
		markers++
	}
	// checkFlush: a Flush after a marker fails, for a reason among the
	// faults that are on, exactly when a fault is on. (Children only take
	// the lock; they cannot fail this tracker's persist.)
	checks := 0
	checkFlush := func(when string) {
		t.Helper()
		mark()
		checks++
		err := tr.Flush(context.Background())
		if !c.anyOn() {
			if err != nil {
				t.Fatalf("%s: Flush with no fault on: %v", when, err)
			}
			return
		}
		if err == nil {
			t.Fatalf("%s: Flush succeeded with faults on: %v", when, c.on)
		}
		if f, ok := faultOf(err); !ok || !c.on[f] {
			t.Fatalf("%s: Flush error %v is not explained by the faults on (%v)", when, err, c.on)
		}
	}

	nextChild := 0
	spawn := func() {
		children = append(children, startChaosChild(t, path, nextChild, 2000+rng.IntN(4000)))
		nextChild++
	}
	withChild := 0 // fault episodes begun while a child was running
	setFault := func(f chaosFault, on bool) {
		t.Helper()
		if err := c.set(f, on); err != nil {
			t.Fatal(err)
		}
		if on && slices.ContainsFunc(children, (*chaosChild).running) {
			withChild++
		}
	}

	// The file exists before an operator can move it; then a child starts
	// and each fault is turned on alone, checked and cleared, so that each
	// one demonstrably happened whatever the random schedule does.
	checkFlush("start")
	spawn()
	for f := range numFaults {
		setFault(f, true)
		checkFlush(f.String() + " alone")
		setFault(f, false)
		checkFlush(f.String() + " cleared")
	}

	// Random chaos: toggle a fault (turning it on a third of the times it
	// is picked while off, so that each is on a quarter of the time and
	// all are off a third of it), start another child (at most two at
	// once), or check a Flush.
	for deadline := time.Now().Add(dur); time.Now().Before(deadline); {
		// The random pause is the experiment's schedule.
		time.Sleep(time.Millisecond + time.Duration(rng.Int64N(int64(25*time.Millisecond))))
		switch a := rng.IntN(int(numFaults) + 2); {
		case a < int(numFaults):
			f := chaosFault(a)
			if c.on[f] {
				setFault(f, false)
			} else if rng.IntN(3) == 0 {
				setFault(f, true)
			}
		case a == int(numFaults):
			running := 0
			for _, ch := range children {
				if ch.running() {
					running++
				}
			}
			if running < 2 {
				spawn()
			}
		default:
			checkFlush("random phase")
		}
	}

	if err := c.clearAll(); err != nil {
		t.Fatal(err)
	}
	stop.Store(true)
	wg.Wait()
	checkFlush("after the faults")
	for _, ch := range children {
		<-ch.done
		if ch.err != nil {
			t.Fatalf("child %d: %v; output:\n%s", ch.id, ch.err, ch.out.String())
		}
	}
	if err := tr.Close(); err != nil {
		t.Fatalf("Close after the faults cleared: %v", err)
	}

	// The exact sums, computed from what was accepted.
	want := newExpect()
	total := markers
	for g := range producers {
		mergeExpect(want, produced[g])
		total += counts[g]
	}
	mergeExpect(want, mine)
	childRecords := 0
	for _, ch := range children {
		for i := range ch.n {
			want.add(chaosChildRecord(ch.id, i))
		}
		childRecords += ch.n
	}
	want.check(t, readDoc(t, path))
	if _, err := os.Stat(c.aside); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s left behind: %v", c.aside, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") || strings.Contains(e.Name(), ".bak-") || strings.Contains(e.Name(), "emergency") {
			t.Errorf("%s left in the directory", e.Name())
		}
	}

	st := tr.Stats()
	if st.LostRecords != 0 || st.FallbackWrites != 0 || st.CorruptionRecoveries != 0 || st.Pending != 0 || st.TotalRecords != int64(total) {
		t.Errorf("stats after Close: %+v; want nothing lost, no fallback, no corruption, %d records persisted", st, total)
	}
	if st.ErrorCount < int64(numFaults) {
		t.Errorf("%d persist errors: the faults did not bite", st.ErrorCount)
	}
	var causes []string
	for f := range numFaults {
		causes = append(causes, fmt.Sprintf("%v: %d episodes, %d Flush errors", f, c.episodes[f], flushCauses[f].Load()))
	}
	t.Logf("%v: %d records by %d producers, %d by %d child processes, %d checked Flushes; background Flush %d ok, %d failed; %d persists, %d failed",
		time.Since(start).Round(time.Millisecond), total, producers, childRecords, len(children), checks, flushOK.Load(), flushFailed.Load(), st.TotalFlushes, st.ErrorCount)
	t.Logf("faults: %s; %d episodes began while a child process was running", strings.Join(causes, "; "), withChild)
}
