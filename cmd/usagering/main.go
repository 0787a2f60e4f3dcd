package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], &env{stdout: os.Stdout, stderr: os.Stderr, now: time.Now}))
}

// env is what a command touches beyond its arguments: tests give their own.
type env struct {
	stdout, stderr io.Writer
	now            func() time.Time
	// listening, if set, is told the address serve listens on.
	listening func(addr string)
}

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // something went wrong that is not the input's fault
	exitUsage   = 2 // bad input: flags, arguments, files
)

// usageError marks bad input: exit status 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func badInput(err error) error { return &usageError{err} }

func badInputf(format string, args ...any) error { return &usageError{fmt.Errorf(format, args...)} }

const mainUsage = `usagering shows what LLM calls cost, from usage files and fleets.

Usage:
  usagering report [flags]        totals for today, the last N days or a range, grouped
  usagering prices [flags] MODEL  the price entry a model resolves to; check a price file
  usagering serve [flags]         /metrics for Prometheus and / a dashboard

Run "usagering COMMAND -h" for a command's flags.
`

// commands maps a command's name to its function.
var commands = map[string]func(ctx context.Context, args []string, e *env) error{
	"report": runReport,
	"prices": runPrices,
	"serve":  runServe,
}

// run runs the command line args and returns the exit status.
func run(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, mainUsage)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(rest) == 1 && commands[rest[0]] != nil {
			return run(ctx, []string{rest[0], "-h"}, e)
		}
		fmt.Fprint(e.stdout, mainUsage)
		return exitOK
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(e.stderr, "usagering: unknown command %q\n\n%s", name, mainUsage)
		return exitUsage
	}
	err := cmd(ctx, rest, e)
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "usagering %s: %v\n", name, err)
		return exitUsage
	default:
		fmt.Fprintf(e.stderr, "usagering %s: %v\n", name, err)
		return exitFailure
	}
}

// newFlagSet returns a flag set that reports errors to e.stderr and does
// not exit.
func newFlagSet(name, synopsis string, e *env) *flag.FlagSet {
	fs := flag.NewFlagSet("usagering "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; a flag error is bad input (the flag package has
// printed it and the usage).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return badInput(err)
	}
	return nil
}
