package main

import (
	"context"
	"errors"
	"flag"
	"io/fs"

	"github.com/usagering/usagering/cmd/usagering/internal/source"
	"github.com/usagering/usagering/postgres"
)

// sourceFlags are the flags that choose where usage is read from.
type sourceFlags struct {
	file, dsn, schema string
	fileSet           bool
}

func (s *sourceFlags) register(set *flag.FlagSet) {
	set.StringVar(&s.file, "file", "usage.json", "the usage `path` to read (usagering's or the original tool's)")
	set.StringVar(&s.dsn, "postgres", "", "read a fleet's PostgreSQL store instead of a file: its `DSN` (postgres://user@host/db)")
	set.StringVar(&s.schema, "schema", postgres.DefaultSchema, "the PostgreSQL `schema` of the store, with -postgres")
}

// open opens the source the flags name. Bad input (a missing, foreign or
// corrupt file, a malformed DSN, both -file and -postgres) is a usageError.
func (s *sourceFlags) open(ctx context.Context, set *flag.FlagSet) (source.Source, error) {
	set.Visit(func(f *flag.Flag) {
		if f.Name == "file" {
			s.fileSet = true
		}
	})
	if s.dsn != "" {
		if s.fileSet {
			return nil, badInputf("-file and -postgres: give one source")
		}
		p, err := source.OpenPostgres(ctx, s.dsn, s.schema)
		if err != nil {
			if errors.Is(err, postgres.ErrInvalidDSN) || errors.Is(err, postgres.ErrInvalidOption) {
				return nil, badInput(err)
			}
			return nil, err
		}
		return p, nil
	}
	f, err := source.OpenFile(s.file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !s.fileSet {
			return nil, badInputf("%w (give the usage file with -file PATH)", err)
		}
		return nil, badInput(err) // missing, foreign, corrupt, a directory, unreadable
	}
	return f, nil
}
