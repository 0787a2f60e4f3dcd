package atomicfile

import (
	"path/filepath"
	"testing"
)

func BenchmarkReplace(b *testing.B) {
	for _, size := range []struct {
		name  string
		bytes int
	}{{"300KB", 300 << 10}} {
		b.Run(size.name, func(b *testing.B) {
			for _, mode := range []struct {
				name   string
				noSync bool
			}{{"fsync", false}, {"nosync", true}} {
				b.Run(mode.name, func(b *testing.B) {
					f, err := Open(filepath.Join(b.TempDir(), "usage.json"), Options{NoSync: mode.noSync})
					if err != nil {
						b.Fatal(err)
					}
					data := testDoc("x", size.bytes)
					// Start from an existing target so every Replace keeps a backup.
					if err := f.Replace(data); err != nil {
						b.Fatal(err)
					}
					b.SetBytes(int64(len(data)))
					b.ReportAllocs()
					for b.Loop() {
						if err := f.Replace(data); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
