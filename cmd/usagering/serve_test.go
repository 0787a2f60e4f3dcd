package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/usagering/usagering/cmd/usagering/internal/figures"
	"github.com/usagering/usagering/usagefile"
)

// TestMain lets the test binary be the command: the signal test runs it as
// a child process.
func TestMain(m *testing.M) {
	if os.Getenv("USAGERING_TEST_MAIN") == "1" {
		os.Args = append([]string{"usagering"}, os.Args[1:]...)
		main()
		return
	}
	os.Exit(m.Run())
}

// startServe runs "usagering serve args…" in process on a free port until
// the test ends, and returns its base URL.
func startServe(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	var stderr syncBuffer
	e := &env{stdout: io.Discard, stderr: &stderr, now: func() time.Time { return fixtureNow }, listening: func(a string) { addr <- a }}
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"serve", "-addr", "127.0.0.1:0"}, args...), e) }()
	select {
	case a := <-addr:
		t.Cleanup(func() {
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("serve exited %d: %s", code, stderr.String())
			}
		})
		return "http://" + a
	case code := <-done:
		cancel()
		t.Fatalf("serve exited %d before listening: %s", code, stderr.String())
	}
	return ""
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func get(t testing.TB, url string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	return string(b)
}

func scrape(t testing.TB, base string) map[string]*dto.MetricFamily {
	t.Helper()
	body := get(t, base+"/metrics")
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams
}

// sample returns the value of family name's sample with exactly labels.
func sample(t testing.TB, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
next:
	for _, m := range fams[name].GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		for _, l := range m.GetLabel() {
			if want[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		if m.Counter != nil {
			return m.GetCounter().GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Errorf("no sample %s%v", name, want)
	return -1
}

// checkMetrics checks /metrics against the file: every model and provider
// of its breakdowns, today's totals, exactly (costs to float64 precision).
func checkMetrics(t *testing.T, fams map[string]*dto.MetricFamily, doc *usagefile.Document) {
	t.Helper()
	check := func(kind, key string, tot usagefile.Totals) {
		t.Helper()
		if got := sample(t, fams, "usagering_"+kind+"_calls_total", kind, key); got != float64(tot.Calls) {
			t.Errorf("%s %s: calls %v, want %d", kind, key, got, tot.Calls)
		}
		if got := sample(t, fams, "usagering_"+kind+"_cost_usd_total", kind, key); got != tot.Cost.Float64() {
			t.Errorf("%s %s: cost %v, want %v (%s)", kind, key, got, tot.Cost.Float64(), tot.Cost)
		}
		for typ, n := range map[string]int64{"input": tot.InputTokens, "output": tot.OutputTokens, "cache_read": tot.CacheReadTokens,
			"cache_write": tot.CacheWriteTokens, "reasoning": tot.ReasoningTokens, "unclassified": figures.Unclassified(tot)} {
			if got := sample(t, fams, "usagering_"+kind+"_tokens_total", kind, key, "type", typ); got != float64(n) {
				t.Errorf("%s %s: %s tokens %v, want %d", kind, key, typ, got, n)
			}
		}
	}
	for m, tot := range doc.ModelBreakdown {
		check("model", m, tot)
	}
	for p, tot := range doc.ProviderBreakdown {
		check("provider", p, tot)
	}
	if n := len(fams["usagering_model_calls_total"].GetMetric()); n != len(doc.ModelBreakdown) {
		t.Errorf("%d model series, want %d", n, len(doc.ModelBreakdown))
	}
	today := doc.DailyTotals[fixtureNow.Format(usagefile.DayLayout)]
	if got := sample(t, fams, "usagering_today_calls"); got != float64(today.Calls) {
		t.Errorf("today calls %v, want %d", got, today.Calls)
	}
	if got := sample(t, fams, "usagering_today_cost_usd"); got != today.Cost.Float64() {
		t.Errorf("today cost %v, want %v", got, today.Cost.Float64())
	}
	if got := sample(t, fams, "usagering_today_tokens", "type", "input"); got != float64(today.InputTokens) {
		t.Errorf("today input tokens %v, want %d", got, today.InputTokens)
	}
	if got := sample(t, fams, "usagering_source_up"); got != 1 {
		t.Errorf("source_up %v", got)
	}
	if got := sample(t, fams, "usagering_file_sessions"); got != float64(len(doc.Sessions)) {
		t.Errorf("file_sessions %v, want %d", got, len(doc.Sessions))
	}
}

func TestServeMetricsMatchTheFile(t *testing.T) {
	for _, name := range []string{"usagering.json", "original.json"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "usage.json")
			doc, err := usagefile.Read(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			writeDoc(t, path, doc)
			base := startServe(t, "-file", path)
			checkMetrics(t, scrape(t, base), doc)

			// A writer replaces the file: the next scrape reads the new one.
			demo := demoFixture(t)
			tmp := path + ".tmp"
			writeDoc(t, tmp, demo)
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
			checkMetrics(t, scrape(t, base), demo)
		})
	}
}

func TestServeMetricsCapModels(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	doc := demoFixture(t)
	writeDoc(t, path, doc)
	fams := scrape(t, startServe(t, "-file", path, "-max-models", "3"))
	if n := len(fams["usagering_model_calls_total"].GetMetric()); n != 4 {
		t.Fatalf("%d model series, want 3 + other", n)
	}
	if got := sample(t, fams, "usagering_models_folded"); got != float64(len(doc.ModelBreakdown)-3) {
		t.Errorf("models_folded %v, want %d", got, len(doc.ModelBreakdown)-3)
	}
	var calls, sum float64
	for _, m := range fams["usagering_model_calls_total"].GetMetric() {
		calls += m.GetCounter().GetValue()
	}
	for _, tot := range doc.ModelBreakdown {
		sum += float64(tot.Calls)
	}
	if calls != sum {
		t.Errorf("calls over the series %v, want %v", calls, sum)
	}
}

// TestServeStopsOnSignal runs the command as a process of its own and
// sends it SIGTERM: it finishes, says so and exits 0.
func TestServeStopsOnSignal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	writeDoc(t, path, usageringFixture(t))
	cmd := exec.Command(os.Args[0], "serve", "-file", path, "-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "USAGERING_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stderr)
	if !lines.Scan() {
		t.Fatalf("no output: %v", lines.Err())
	}
	m := regexp.MustCompile(`on (http://[^/]+)/`).FindStringSubmatch(lines.Text())
	if m == nil {
		t.Fatalf("no address in %q", lines.Text())
	}
	if page := get(t, m[1]+"/"); !strings.Contains(page, `id="cost-chart"`) {
		t.Fatalf("dashboard without its chart")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var rest strings.Builder
	for lines.Scan() {
		fmt.Fprintln(&rest, lines.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v (stderr %q)", err, rest.String())
	}
	if !strings.Contains(rest.String(), "stopped") {
		t.Errorf("stderr after SIGTERM: %q", rest.String())
	}
}
