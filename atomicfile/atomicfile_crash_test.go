//go:build unix

package atomicfile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
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

	"go.uber.org/goleak"
)

const (
	crashEnvGuard  = "USAGERING_FLUSHER_CRASH_HELPER"
	crashEnvTarget = "USAGERING_FLUSHER_CRASH_TARGET"
	crashEnvSeed   = "USAGERING_FLUSHER_CRASH_SEED"
	// crashSeed makes the kill schedule reproducible; override with
	// USAGERING_FLUSHER_CRASH_TEST_SEED to explore others.
	crashSeed = 0x5eed_f1a5
)

// crashDoc is the document the helper writes: payload's length and CRC-32
// make a complete document verifiable.
type crashDoc struct {
	Seq     int64  `json:"seq"`
	Len     int    `json:"len"`
	CRC     uint32 `json:"crc"`
	Payload string `json:"payload"`
}

const crashAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// makeCrashDoc returns a complete document of about size bytes.
func makeCrashDoc(seq int64, size int, rng *rand.Rand) []byte {
	payload := make([]byte, max(size-80, 1))
	x := rng.Uint64()
	for i := range payload {
		if i%10 == 0 {
			x = x*6364136223846793005 + 1442695040888963407
		}
		payload[i] = crashAlphabet[(x>>(6*(i%10)))&63]
	}
	return fmt.Appendf(nil, `{"seq":%d,"len":%d,"crc":%d,"payload":"%s"}`,
		seq, len(payload), crc32.ChecksumIEEE(payload), payload)
}

// checkCrashDoc parses b and verifies its length and checksum.
func checkCrashDoc(b []byte) (int64, error) {
	var d crashDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return 0, fmt.Errorf("%d bytes do not parse: %w", len(b), err)
	}
	if len(d.Payload) != d.Len || d.Len == 0 {
		return 0, fmt.Errorf("seq %d: payload has %d bytes, document says %d", d.Seq, len(d.Payload), d.Len)
	}
	if got := crc32.ChecksumIEEE([]byte(d.Payload)); got != d.CRC {
		return 0, fmt.Errorf("seq %d: payload CRC %08x, document says %08x", d.Seq, got, d.CRC)
	}
	return d.Seq, nil
}

// TestCrashHelperProcess is the child of TestReplaceSurvivesSIGKILL: it opens
// the target (cleaning stale temps), reports how many temps remain, then
// replaces the file in a loop until it is killed.
func TestCrashHelperProcess(t *testing.T) {
	target := os.Getenv(crashEnvTarget)
	if os.Getenv(crashEnvGuard) != "1" || target == "" {
		t.Skip("helper process of TestReplaceSurvivesSIGKILL")
	}
	// Die with the parent: it holds our stdin open.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(3)
	}()
	seed, err := strconv.ParseUint(os.Getenv(crashEnvSeed), 10, 64)
	if err != nil {
		fmt.Println("error: seed:", err)
		os.Exit(2)
	}
	f, err := Open(target, Options{Backup: backupOf(target)})
	if err != nil {
		fmt.Println("error: open:", err)
		os.Exit(2)
	}
	entries, err := os.ReadDir(filepath.Dir(f.Path()))
	if err != nil {
		fmt.Println("error: readdir:", err)
		os.Exit(2)
	}
	stale := 0
	for _, e := range entries {
		if isStaleTemp(filepath.Base(f.Path()), e.Name()) {
			stale++
		}
	}
	// Continue the sequence of the surviving document.
	seq := int64(0)
	for _, p := range []string{f.Path(), f.BackupPath()} {
		if b, err := os.ReadFile(p); err == nil {
			if s, err := checkCrashDoc(b); err == nil && s+1 > seq {
				seq = s + 1
			}
		}
	}
	rng := rand.New(rand.NewPCG(seed, 2))
	fmt.Printf("ready %d\n", stale) // os.Stdout is unbuffered
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); seq++ {
		size := 10<<10 + rng.IntN(290<<10+1)
		if err := f.Replace(makeCrashDoc(seq, size, rng)); err != nil {
			fmt.Println("error: replace:", err)
			os.Exit(2)
		}
	}
	os.Exit(4) // never killed: the parent reports it
}

// TestReplaceSurvivesSIGKILL kills a process that is replacing the file at
// random moments and checks that a complete document survives every kill and
// that the next open cleans the temp files the kill left.
func TestReplaceSurvivesSIGKILL(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	kills := 100
	if testing.Short() {
		kills = 20
	}
	seed := uint64(crashSeed)
	if s := os.Getenv("USAGERING_FLUSHER_CRASH_TEST_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 0, 64); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %#x, %d kills", seed, kills)
	rng := rand.New(rand.NewPCG(seed, 1))

	dir := t.TempDir()
	target := filepath.Join(dir, "usage.json")
	backup := backupOf(target)
	lastSeq := int64(-1)
	midWrite := 0 // kills that left a temp file behind
	start := time.Now()
	for i := range kills {
		// Plant stale temps so that every start has something to clean,
		// besides whatever the previous kill left.
		for _, name := range []string{".usage.json.tmp-" + strconv.Itoa(900000+i), ".usage.json.bak-" + strconv.Itoa(900000+i)} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(`{"partial`), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if n := countStaleTemps(t, dir, "usage.json"); n > 2 {
			midWrite++
		}

		delay := time.Duration(rng.Int64N(int64(15*time.Millisecond) + 1))
		runAndKill(t, i, target, rng.Uint64(), delay)

		tb, terr := os.ReadFile(target)
		bb, berr := os.ReadFile(backup)
		tSeq, bSeq := int64(-1), int64(-1)
		switch {
		case terr == nil:
			s, err := checkCrashDoc(tb)
			if err != nil {
				t.Fatalf("kill %d: target is not a complete document: %v", i, err)
			}
			tSeq = s
		case errors.Is(terr, fs.ErrNotExist):
			if lastSeq >= 0 {
				t.Fatalf("kill %d: target missing after document %d was seen", i, lastSeq)
			}
		default:
			t.Fatal(terr)
		}
		switch {
		case berr == nil:
			s, err := checkCrashDoc(bb)
			if err != nil {
				t.Fatalf("kill %d: backup is not a complete document: %v", i, err)
			}
			bSeq = s
			if tSeq < 0 || bSeq > tSeq {
				t.Fatalf("kill %d: backup seq %d, target seq %d", i, bSeq, tSeq)
			}
		case !errors.Is(berr, fs.ErrNotExist):
			t.Fatal(berr)
		}
		if tSeq < lastSeq {
			t.Fatalf("kill %d: target went back from document %d to %d", i, lastSeq, tSeq)
		}
		lastSeq = max(lastSeq, tSeq)
	}
	if lastSeq < 1 {
		t.Fatalf("only %d documents written in %d runs: the test exercised nothing", lastSeq+1, kills)
	}

	// The next open cleans what the last kill left.
	f, err := Open(target, Options{Backup: backupOf(target)})
	if err != nil {
		t.Fatal(err)
	}
	if n := countStaleTemps(t, dir, "usage.json"); n != 0 {
		t.Fatalf("%d temp files left after the final open", n)
	}
	if err := f.Replace(makeCrashDoc(lastSeq+1, 1000, rng)); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d kills in %v, %d documents written, %d kills left a temp file", kills, time.Since(start).Round(time.Millisecond), lastSeq+1, midWrite)
}

// runAndKill starts the helper, waits for its ready line, checks that its
// open left no temp file, lets it write for delay and SIGKILLs it.
func runAndKill(t *testing.T, i int, target string, seed uint64, delay time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelperProcess$", "-test.count=1", "-test.v=false")
	cmd.Env = append(os.Environ(),
		crashEnvGuard+"=1",
		crashEnvTarget+"="+target,
		crashEnvSeed+"="+strconv.FormatUint(seed, 10),
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
	// A watchdog, not synchronisation: a child that never gets ready
	// must not hang the test.
	watchdog := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
	defer watchdog.Stop()
	defer func() { _ = stdin.Close() }()

	line, readErr := bufio.NewReader(stdout).ReadString('\n')
	ready := false
	if readErr == nil {
		n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "ready ")))
		if err != nil || !strings.HasPrefix(line, "ready ") {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("run %d: unexpected line %q from helper; stderr: %s", i, line, stderr.String())
		}
		if n != 0 {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("run %d: %d stale temp files remain after Open", i, n)
		}
		ready = true
		// The random delay is the experiment: where in its write loop the
		// child dies.
		time.Sleep(delay)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	rest, _ := io.ReadAll(stdout) // EOF once the child is dead; Wait closes the pipe
	werr := cmd.Wait()
	if !ready {
		t.Fatalf("run %d: helper never got ready: %v (wait: %v); stderr: %s", i, readErr, werr, stderr.String())
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("run %d: helper ended with %v, not by SIGKILL; stdout: %s; stderr: %s", i, cmd.ProcessState, rest, stderr.String())
	}
}
