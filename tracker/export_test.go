package tracker

import "github.com/usagering/usagering/flusher"

// withFS makes the tracker write its usage file through fsys (fallback
// files always go to the real file system).
func withFS(fsys flusher.FS) Option {
	return func(c *config) error {
		c.fs = fsys
		return nil
	}
}
