package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/usagering/usagering/cmd/usagering/internal/web"
)

const serveSynopsis = `usage: usagering serve [-file usage.json | -postgres DSN] [-addr 127.0.0.1:9464]

An HTTP server with
  /         the dashboard: today's spend and calls, the last 30 days' cost
            stacked by model, the top models by cost, the cache-read share
            and the source's health; it reloads itself every -refresh.
  /metrics  the source's totals in Prometheus' text format: all time by
            model (usagering_model_*) and by provider (usagering_provider_*),
            today's (usagering_today_*), and the source's health.
A usage file is re-read whenever it changes. SIGINT or SIGTERM stops the
server after the requests in flight (at most 10 s).`

func runServe(ctx context.Context, args []string, e *env) error {
	var src sourceFlags
	fs := newFlagSet("serve", serveSynopsis, e)
	src.register(fs)
	addr := fs.String("addr", "127.0.0.1:9464", "the `address` to listen on")
	refresh := fs.Duration("refresh", 30*time.Second, "how often the dashboard reloads itself")
	maxModels := fs.Int("max-models", 50, "models with series of their own on /metrics (the rest: model=\"other\")")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badInputf("unexpected argument %q", fs.Arg(0))
	}
	if *refresh < time.Second {
		return badInputf("-refresh %v: want 1s or more", *refresh)
	}
	if *maxModels < 0 {
		return badInputf("-max-models %d: want 0 or more", *maxModels)
	}
	s, err := src.open(ctx, fs)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return badInput(err)
	}
	logger := log.New(e.stderr, "usagering serve: ", log.LstdFlags)
	mm := *maxModels
	if mm == 0 {
		mm = -1 // web: negative folds every model
	}
	srv := &http.Server{
		Handler:           web.Handler(s, web.Options{Now: e.now, Refresh: *refresh, MaxModels: mm, Log: logger}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          logger,
	}
	fmt.Fprintf(e.stderr, "usagering serve: %s on http://%s/ (metrics on /metrics)\n", s.Name(), ln.Addr())
	if e.listening != nil {
		e.listening(ln.Addr().String())
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintln(e.stderr, "usagering serve: stopped")
	return nil
}
