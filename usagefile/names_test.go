package usagefile_test

import (
	"path/filepath"
	"testing"

	"github.com/usagering/usagering/usagefile"
)

func TestBackupPath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"usage.json", "usage.backup.json"},
		{"usage", "usage.backup.json"},
		{"/var/lib/x/usage.json", "/var/lib/x/usage.backup.json"},
		{"dir/usage", "dir/usage.backup.json"},
		{"a.b.json", "a.b.backup.json"},
		{"usage.JSON", "usage.JSON.backup.json"},
		{"usage.json.txt", "usage.json.txt.backup.json"},
		{".json", ".backup.json"},
	} {
		if got := usagefile.BackupPath(filepath.FromSlash(tc.in)); got != filepath.FromSlash(tc.want) {
			t.Errorf("BackupPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCorruptedPath(t *testing.T) {
	if got, want := usagefile.CorruptedPath("/d/usage.json", 1700000000), "/d/usage.corrupted.1700000000.json"; got != filepath.FromSlash(want) {
		t.Errorf("CorruptedPath = %q, want %q", got, want)
	}
}
