// Command streaming is a streaming LLM client that records its usage with
// usagering, and shows that recording on the hot path does not make the
// token stream stutter.
//
// It starts a local OpenAI-compatible server (net/http/httptest, loopback
// only) that streams Chat Completions as the API does — server-sent
// chat.completion.chunk events, one token every -interval, and a final
// chunk with the usage when stream_options.include_usage is set — and talks
// to it with the official SDK, github.com/openai/openai-go/v3. It prints the
// first response's tokens as they arrive. Every response is recorded by
// capture.Middleware, one option on the request, from the usage of its
// final chunk (model, prompt and completion tokens; the trackers price it
// from the embedded LiteLLM table).
//
// Every response is streamed three times, in turn: through capture into
// the asynchronous tracker (tracker.New, usage.json), through capture into
// the synchronous baseline (tracker.NewSync, usage-sync.json), which reads
// and rewrites the file on every call, and without capture nor recording,
// which shows what the machine gives. With -per-chunk (the default) each
// streamed token also gets a progress record on the hot path; one record
// per response is invisible either way. The program then prints, side by
// side, the distribution of the gaps between tokens as the client received
// them and of the time spent in each Record call (harness HDR histograms),
// and the totals re-read from both usage files. SIGINT or SIGTERM stops
// it; the trackers are closed on the way out, so every record made is in
// the files.
//
//	go run ./examples/streaming
//	go run ./examples/streaming -responses 50 -chunks 200 -interval 2ms -dir .
//
// Timings depend on the machine and its load; only the counts are exact.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/usagering/usagering/harness"
	"github.com/usagering/usagering/tracker"
	"github.com/usagering/usagering/usagefile"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(os.Stderr, "streaming: interrupted; the usage files hold every response recorded")
		os.Exit(130)
	default:
		fmt.Fprintln(os.Stderr, "streaming:", err)
		os.Exit(1)
	}
}

// config is what the flags set.
type config struct {
	responses int
	chunks    int
	interval  time.Duration
	dir       string
	perChunk  bool
	model     string
}

func parseFlags(args []string, output io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("streaming", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.IntVar(&c.responses, "responses", 10, "responses to stream with each tracker (and without one)")
	fs.IntVar(&c.chunks, "chunks", 100, "tokens (content chunks) per response")
	fs.DurationVar(&c.interval, "interval", time.Millisecond, "time between the tokens the server sends")
	fs.StringVar(&c.dir, "dir", "", "directory of usage.json and usage-sync.json, added to if they exist\n(default: a temporary directory, removed at exit)")
	fs.BoolVar(&c.perChunk, "per-chunk", true, "also record a progress record per token on the hot path")
	fs.StringVar(&c.model, "model", "gpt-4o-mini", "model to ask for (priced by the trackers from LiteLLM's table)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	case c.responses < 1:
		return c, fmt.Errorf("-responses %d: need at least 1", c.responses)
	case c.chunks < 1:
		return c, fmt.Errorf("-chunks %d: need at least 1", c.chunks)
	case c.interval < 0:
		return c, fmt.Errorf("-interval %v: negative", c.interval)
	case c.model == "":
		return c, errors.New("-model: empty")
	}
	return c, nil
}

// prompt is the user message of every request.
const prompt = "Explain in one paragraph why a usage ledger must not slow down a token stream."

// run runs the example with the command-line arguments args (without the
// program name), writing to stdout. It returns flag.ErrHelp for -h, and an
// error wrapping ctx's error if ctx is done first.
func run(ctx context.Context, args []string, stdout io.Writer) (err error) {
	cfg, err := parseFlags(args, stdout)
	if err != nil {
		return err
	}
	dir := cfg.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "usagering-streaming-"); err != nil {
			return fmt.Errorf("temporary directory: %w", err)
		}
		defer func() {
			if rerr := os.RemoveAll(dir); rerr != nil {
				err = errors.Join(err, fmt.Errorf("remove temporary directory: %w", rerr))
			}
		}()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("-dir: %w", err)
	}

	asyncPath, syncPath := filepath.Join(dir, "usage.json"), filepath.Join(dir, "usage-sync.json")
	async, err := tracker.New(asyncPath) // prices each record from the embedded LiteLLM table
	if err != nil {
		return fmt.Errorf("open async tracker: %w", err)
	}
	syncT, err := tracker.NewSync(syncPath)
	if err != nil {
		return errors.Join(fmt.Errorf("open sync tracker: %w", err), closeTracker("async", async))
	}
	// The third lane records nothing: its gaps show what the machine gives.
	lanes := []*lane{newLane("async", async), newLane("sync", syncT), newLane("none", nil)}
	closed := false
	closeAll := func() error {
		closed = true
		return errors.Join(closeTracker("async", async), closeTracker("sync", syncT))
	}
	defer func() {
		if !closed { // an error or ctx ended the run: persist what was recorded
			err = errors.Join(err, closeAll())
		}
	}()

	server := &chatServer{Interval: cfg.interval}
	ts := httptest.NewServer(server)
	// Close waits for the handlers and closes the idle connections of
	// ts.Client(), so no goroutine of the server or the client outlives run.
	defer ts.Close()
	s := &streamer{
		client: openai.NewClient(
			option.WithBaseURL(ts.URL+"/v1/"),
			option.WithAPIKey("sk-local-dummy"), // the server wants one, of any value
			option.WithHTTPClient(ts.Client()),  // loopback only, no proxy
			option.WithMaxRetries(0),            // a retry would stream (and count) twice
		),
		model:    cfg.model,
		prompt:   prompt,
		chunks:   int64(cfg.chunks),
		perChunk: cfg.perChunk,
	}

	fmt.Fprintf(stdout, "%d responses × %d tokens with each tracker and without one, one token every %v, from %s (%s)\n\n",
		cfg.responses, cfg.chunks, cfg.interval, ts.URL, cfg.model)
	fmt.Fprintf(stdout, "response 1 (async tracker): ")
	begin := time.Now()
	for i := range cfg.responses {
		for j, l := range lanes {
			var out io.Writer
			if i == 0 && j == 0 {
				out = stdout
			}
			if err := s.streamOne(ctx, l, out); err != nil {
				return fmt.Errorf("response %d, recording %s: %w", i+1, l.name, err)
			}
			if out != nil {
				fmt.Fprint(stdout, "\n\n")
			}
		}
	}
	elapsed := time.Since(begin)
	u := server.Usage()
	fmt.Fprintf(stdout, "streamed %d responses in %v; the server reported %d prompt + %d completion = %d tokens in %d usage chunks\n\n",
		len(lanes)*cfg.responses, elapsed.Round(time.Millisecond), u.PromptTokens, u.CompletionTokens,
		u.PromptTokens+u.CompletionTokens, u.Responses)

	writeReport(stdout, cfg, lanes)

	// Close persists what the async tracker still holds; then both files
	// are read back from disk.
	if err := closeAll(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "usage files, re-read:")
	for _, f := range []struct {
		l    *lane
		path string
	}{{lanes[0], asyncPath}, {lanes[1], syncPath}} {
		t, err := fileTotals(f.path)
		if err != nil {
			return err
		}
		st := f.l.stats.Stats()
		fmt.Fprintf(stdout, "  %-5s  %d calls, %d tokens, $%s (streamed: %d responses, %d prompt + %d completion tokens; captured %d, uncaptured %d)  %s\n",
			f.l.name, t.Calls, t.Tokens, t.Cost, f.l.responses, f.l.inputTokens, f.l.outputTokens, st.Captured, st.UncapturedTotal(), f.path)
	}
	if cfg.dir == "" {
		fmt.Fprintln(stdout, "  (a temporary directory, removed now: pass -dir to keep the files)")
	}
	return nil
}

// closeTracker closes rec (idempotent for both trackers), naming it in the
// error.
func closeTracker(name string, rec tracker.Recorder) error {
	if err := rec.Close(); err != nil {
		return fmt.Errorf("close %s tracker: %w", name, err)
	}
	return nil
}

// fileTotals reads the usage file at path and adds up its daily totals.
func fileTotals(path string) (tracker.Totals, error) {
	doc, err := usagefile.Read(path)
	if err != nil {
		return tracker.Totals{}, err
	}
	var t tracker.Totals
	for _, d := range doc.DailyTotals {
		t.Add(d)
	}
	return t, nil
}

// writeReport prints the gap and Record-call distributions of the lanes
// side by side.
func writeReport(w io.Writer, cfg config, lanes []*lane) {
	async, sync, none := lanes[0], lanes[1], lanes[2]
	fmt.Fprintf(w, "gaps between tokens as received (the server sends one every %v), %d per tracker; none: not recording:\n",
		cfg.interval, async.gaps.Count())
	writeTable(w, async.gaps.Summary(), sync.gaps.Summary(), none.gaps.Summary())

	what := "one per response"
	if cfg.perChunk {
		what = "one per token and one per response"
	}
	clock := harness.CalibrateOverhead(100_000)
	fmt.Fprintf(w, "\nRecord call (%s), %d per tracker; the clock alone reads p50 %s, mean %s:\n",
		what, async.calls.Count(), formatNs(float64(clock.P50)), formatNs(clock.Mean))
	writeTable(w, async.calls.Summary(), sync.calls.Summary(), harness.Summary{})
	fmt.Fprintln(w)
}

// writeTable prints the summaries n (no recording; unless empty), a
// (async) and s (sync), and the ratio of s to a.
func writeTable(w io.Writer, a, s, n harness.Summary) {
	fmt.Fprintf(w, "  %-10s %9s %9s %9s %9s %9s\n", "", "p50", "p99", "p99.9", "max", "mean")
	row := func(name string, x harness.Summary) {
		fmt.Fprintf(w, "  %-10s %9s %9s %9s %9s %9s\n", name, formatNs(float64(x.P50)), formatNs(float64(x.P99)),
			formatNs(float64(x.P999)), formatNs(float64(x.Max)), formatNs(x.Mean))
	}
	if n.Count > 0 {
		row("none", n)
	}
	row("async", a)
	row("sync", s)
	fmt.Fprintf(w, "  %-10s %9s %9s %9s %9s %9s\n", "sync/async", ratio(s.P50, a.P50), ratio(s.P99, a.P99),
		ratio(s.P999, a.P999), ratio(s.Max, a.Max), ratio(s.Mean, a.Mean))
}

// formatNs formats nanoseconds in ns, µs, ms or s, with 3 significant
// digits.
func formatNs(ns float64) string {
	if ns >= 1000 { // round first, so that 999.7µs comes out as 1.00ms
		scale := math.Pow(10, math.Floor(math.Log10(ns))-2)
		ns = math.Round(ns/scale) * scale
	}
	v, unit := ns, "ns"
	switch {
	case ns >= 1e9:
		v, unit = ns/1e9, "s"
	case ns >= 1e6:
		v, unit = ns/1e6, "ms"
	case ns >= 1e3:
		v, unit = ns/1e3, "µs"
	}
	switch {
	case v >= 100 || unit == "ns":
		return fmt.Sprintf("%.0f%s", v, unit)
	case v >= 10:
		return fmt.Sprintf("%.1f%s", v, unit)
	default:
		return fmt.Sprintf("%.2f%s", v, unit)
	}
}

func ratio[T int64 | float64](num, den T) string {
	if den <= 0 {
		return "-"
	}
	r := float64(num) / float64(den)
	switch {
	case r >= 100:
		return fmt.Sprintf("%.0f×", r)
	case r >= 10:
		return fmt.Sprintf("%.1f×", r)
	default:
		return fmt.Sprintf("%.2f×", r)
	}
}
