package tracker

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestRefreshKeepsBaseWhilePathFlips: an operator clearing a fault removes
// the directory that sits at the usage file's path. Whatever refresh sees
// while the path flips between "a directory" and "nothing", it either fails
// (a directory cannot be read) or keeps base; it never starts over from an
// empty document, which would drop the records already in the file from
// the next write. (CI once caught the old stat-then-read refresh doing just
// that: stat saw the directory, the read then saw nothing.)
func TestRefreshKeepsBaseWhilePathFlips(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	tr := newTracker(t, path)
	want := newExpect()
	for i := range 10 {
		r := mkRecord(1, i)
		if err := tr.Record(r); err != nil {
			t.Fatal(err)
		}
		want.add(r)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}

	cfg, err := buildConfig(testOpts())
	if err != nil {
		t.Fatal(err)
	}
	s, err := newState(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.load(); err != nil {
		t.Fatal(err)
	}
	want.check(t, s.base)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}

	const flips = 2000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range flips {
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Error(err)
				return
			}
			if err := os.Remove(path); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for refreshes := 0; ; refreshes++ {
		_ = s.lock.do(s.refresh) // a directory at the path is an error: fine
		if s.base == nil || len(s.base.Sessions) != 10 {
			<-done // the flipper must finish before TempDir's cleanup
			t.Fatalf("after %d refreshes while the path flips, base lost the file's records: %+v", refreshes, s.base)
		}
		select {
		case <-done:
			// The path is empty now: the next write must still hold all 10.
			if err := s.Persist(); err != nil {
				t.Fatal(err)
			}
			want.check(t, readDoc(t, path))
			return
		default:
		}
	}
}
