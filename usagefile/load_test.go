package usagefile_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usagering/usagering/usagefile"
)

var loadTestNow = time.Unix(1_790_000_000, 0)

func writeFileForTest(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func listDirForTest(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

func TestLoadDocumentMissing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "usage.json")
	// A backup alone does not resurrect a deleted primary (as the original).
	writeFileForTest(t, usagefile.BackupPath(path), encodeDoc(t, sampleDocumentForTest()))
	res, err := usagefile.Load(path, loadTestNow)
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != usagefile.SourceNew || res.Recoveries != 0 || res.Archived != "" || len(res.Doc.Sessions) != 0 || res.Doc.DailyTotals == nil {
		t.Fatalf("LoadDocument = %+v", res)
	}
}

func TestLoadDocumentPrimary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	data := encodeDoc(t, sampleDocumentForTest())
	writeFileForTest(t, path, data)
	res, err := usagefile.Load(path, loadTestNow)
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != usagefile.SourcePrimary || res.Recoveries != 0 || !bytes.Equal(encodeDoc(t, res.Doc), data) {
		t.Fatalf("LoadDocument = %+v", res)
	}
}

func TestLoadDocumentCorruptPrimaryGoodBackup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "usage.json")
	good := encodeDoc(t, sampleDocumentForTest())
	torn := good[:len(good)/2]
	writeFileForTest(t, path, torn)
	writeFileForTest(t, usagefile.BackupPath(path), good)
	res, err := usagefile.Load(path, loadTestNow)
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != usagefile.SourceBackup || res.Recoveries != 1 || res.Archived != "" {
		t.Fatalf("LoadDocument = %+v", res)
	}
	if !bytes.Equal(encodeDoc(t, res.Doc), good) {
		t.Fatal("document is not the backup's")
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, torn) {
		t.Fatal("primary was changed")
	}
}

func TestLoadDocumentBothBad(t *testing.T) {
	for name, backup := range map[string][]byte{
		"backup corrupt": []byte(`{"sessions": [`),
		"backup missing": nil,
		"backup foreign": []byte(`{"name": "x"}`),
		"backup empty":   {},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "usage.json")
			old := []byte("{\"sessions\": [{\"model\": \"gpt-4\", \x00\x00")
			writeFileForTest(t, path, old)
			if backup != nil {
				writeFileForTest(t, usagefile.BackupPath(path), backup)
			}
			res, err := usagefile.Load(path, loadTestNow)
			if err != nil {
				t.Fatal(err)
			}
			wantArchive := filepath.Join(dir, "usage.corrupted.1790000000.json")
			if res.Source != usagefile.SourceFreshAfterCorruption || res.Recoveries != 1 || res.Archived != wantArchive {
				t.Fatalf("LoadDocument = %+v, want archived to %s", res, wantArchive)
			}
			if usagefile.CorruptedPath(path, loadTestNow.Unix()) != wantArchive {
				t.Errorf("CorruptedPath = %s", usagefile.CorruptedPath(path, loadTestNow.Unix()))
			}
			if got, err := os.ReadFile(wantArchive); err != nil || !bytes.Equal(got, old) {
				t.Fatalf("archive holds %q, %v; want the old bytes", got, err)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("primary still there: %v", err)
			}
			if len(res.Doc.Sessions) != 0 || len(res.Doc.DailyTotals) != 0 {
				t.Fatalf("document is not fresh: %+v", res.Doc)
			}
			if backup != nil {
				if got, _ := os.ReadFile(usagefile.BackupPath(path)); !bytes.Equal(got, backup) {
					t.Fatal("backup was changed")
				}
			}
		})
	}
}

func TestLoadDocumentArchiveNameTaken(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "usage.json")
	taken := filepath.Join(dir, "usage.corrupted.1790000000.json")
	writeFileForTest(t, taken, []byte("earlier"))
	for i, want := range []string{"usage.corrupted.1790000000.1.json", "usage.corrupted.1790000000.2.json"} {
		writeFileForTest(t, path, []byte("garbage "+string(rune('a'+i))))
		res, err := usagefile.Load(path, loadTestNow)
		if err != nil {
			t.Fatal(err)
		}
		if res.Archived != filepath.Join(dir, want) {
			t.Fatalf("archived to %s, want %s", res.Archived, want)
		}
	}
	if got, _ := os.ReadFile(taken); string(got) != "earlier" {
		t.Fatal("an existing archive was overwritten")
	}
}

func TestLoadDocumentForeignIsRefused(t *testing.T) {
	for _, data := range []string{`{"name": "x"}`, `[1,2]`, `"hello"`} {
		dir := t.TempDir()
		path := filepath.Join(dir, "usage.json")
		writeFileForTest(t, path, []byte(data))
		before := listDirForTest(t, dir)
		res, err := usagefile.Load(path, loadTestNow)
		if !errors.Is(err, usagefile.ErrForeignFile) || res.Doc != nil {
			t.Fatalf("%s: LoadDocument = %+v, %v; want ErrForeignFile", data, res, err)
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name the path", err)
		}
		if got, _ := os.ReadFile(path); string(got) != data {
			t.Fatal("foreign file was changed")
		}
		if after := listDirForTest(t, dir); !slices.Equal(after, before) {
			t.Fatalf("directory changed: %v → %v", before, after)
		}
	}
}

func TestLoadDocumentDirectory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "usage.json")
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := usagefile.Load(path, loadTestNow)
	if err == nil || errors.Is(err, usagefile.ErrCorrupt) || res.Doc != nil {
		t.Fatalf("LoadDocument(directory) = %+v, %v; want a read error", res, err)
	}
	if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
		t.Fatal("directory was touched")
	}
}
