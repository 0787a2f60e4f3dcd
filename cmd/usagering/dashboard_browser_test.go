package main

import (
	"bytes"
	"cmp"
	"context"
	"flag"
	"image/png"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/usagering/usagering/cmd/usagering/internal/figures"
	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

var screenshot = flag.String("screenshot", "", "write the dashboard's screenshot (PNG) to this `path` (e.g. ../../docs/dashboard.png)")

// chromium returns the path of a Chromium to drive, or skips the test with
// one line saying how to run it (fails it under CI=true).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const how = "no chromium on PATH: apt-get install chromium to run the dashboard's browser test (.ci/run does)"
	if os.Getenv("CI") == "true" {
		t.Fatal(how + "; under CI=true it must run")
	}
	t.Skip(how)
	return ""
}

// pageFacts is what the test reads from the rendered page.
type pageFacts struct {
	TodayCost, TodayCostExact, TodayCalls, TodayTokens, PeriodCostExact, Refresh string
	Bars                                                                         []struct {
		Day, Exact string
		Segs       []struct {
			Model, Exact string
			Height       float64
		}
	}
	Top    []struct{ Model, Calls, Exact, Display string }
	Health string
}

const readPage = `(() => {
  const q = s => document.querySelector(s);
  return {
    TodayCost: q('#today-cost').textContent.trim(),
    TodayCostExact: q('#today-cost').dataset.exact,
    TodayCalls: q('#today-calls').textContent.trim(),
    TodayTokens: q('#today-tokens').textContent.trim(),
    PeriodCostExact: q('#period-cost').dataset.exact,
    Refresh: q('meta[http-equiv=refresh]').content,
    Bars: [...document.querySelectorAll('#cost-chart g.bar')].map(g => ({
      Day: g.dataset.day, Exact: g.dataset.exact,
      Segs: [...g.querySelectorAll('rect.seg')].map(r => ({Model: r.dataset.model, Exact: r.dataset.exact, Height: r.getBBox().height})),
    })),
    Top: [...document.querySelectorAll('#top-models tbody tr[data-model]')].map(tr => ({
      Model: tr.dataset.model, Calls: tr.querySelector('.calls').textContent.trim(),
      Exact: tr.querySelector('.cost').dataset.exact, Display: tr.querySelector('.cost').textContent.trim(),
    })),
    Health: q('#health-status').textContent.trim(),
  };
})()`

// TestDashboardInBrowser loads the dashboard in headless Chromium: no
// console error, the chart drawn, and every number equal to the file's.
func TestDashboardInBrowser(t *testing.T) {
	exe := chromium(t)
	path := filepath.Join(t.TempDir(), "usage.json")
	writeDoc(t, path, demoFixture(t))
	doc, err := usagefile.Read(path) // the expected figures, read on their own
	if err != nil {
		t.Fatal(err)
	}
	base := startServe(t, "-file", path)

	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1200, 900),
	)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	// Start the browser, then listen to the console before the page loads.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	messages := chromedp.Console(ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible("#cost-chart")); err != nil {
		t.Fatal(err)
	}
	facts, err := chromedp.Run(ctx, chromedp.Evaluate[pageFacts](readPage))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	const end = "usagering-test: end of page checks"
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`console.log(`+"`"+end+"`"+`)`)); err != nil {
		t.Fatal(err)
	}
	for m, err := range messages {
		if err != nil {
			t.Fatal(err)
		}
		if m.Text == end {
			break
		}
		if m.Type == chromedp.ConsoleError || m.IsException() || m.Type == chromedp.ConsoleWarning {
			t.Errorf("console %s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line)
		}
	}

	// Today's figures are the file's.
	today := doc.DailyTotals[fixtureNow.Format(usagefile.DayLayout)]
	if today.Calls == 0 {
		t.Fatal("the demo file has no call today")
	}
	if facts.TodayCostExact != today.Cost.String() {
		t.Errorf("today's cost on the page %s, file %s", facts.TodayCostExact, today.Cost)
	}
	checkDisplayed(t, "today's cost", facts.TodayCost, today.Cost)
	if facts.TodayCalls != figures.Int(today.Calls) || facts.TodayTokens != figures.Int(today.Tokens) {
		t.Errorf("today's calls %q tokens %q, file %d %d", facts.TodayCalls, facts.TodayTokens, today.Calls, today.Tokens)
	}

	// The chart: 30 bars, each the day's exact total, its segments adding up
	// to it, drawn with a height.
	if len(facts.Bars) != 30 {
		t.Fatalf("%d bars, want 30", len(facts.Bars))
	}
	var period usd.Amount
	drawn := 0
	for i, b := range facts.Bars {
		wantDay := fixtureNow.AddDate(0, 0, i-29).Format(usagefile.DayLayout)
		want := doc.DailyTotals[wantDay].Cost
		period = period.Add(want)
		if b.Day != wantDay || b.Exact != want.String() {
			t.Errorf("bar %d: day %s cost %s, file %s %s", i, b.Day, b.Exact, wantDay, want)
		}
		var sum usd.Amount
		for _, s := range b.Segs {
			a, err := usd.Parse(s.Exact)
			if err != nil {
				t.Fatal(err)
			}
			sum = sum.Add(a)
			if s.Height > 0 {
				drawn++
			}
		}
		if sum != want {
			t.Errorf("bar %s: segments add up to %s, want %s", b.Day, sum, want)
		}
	}
	if drawn < 30 {
		t.Errorf("only %d segments drawn with a height", drawn)
	}
	if facts.PeriodCostExact != period.String() {
		t.Errorf("30 days' cost %s, file %s", facts.PeriodCostExact, period)
	}

	// The top models are the file's model_breakdown, costliest first.
	var models []string
	for m := range doc.ModelBreakdown {
		models = append(models, m)
	}
	slices.SortFunc(models, func(a, b string) int {
		return cmp.Or(doc.ModelBreakdown[b].Cost.Cmp(doc.ModelBreakdown[a].Cost), cmp.Compare(a, b))
	})
	if len(facts.Top) != min(10, len(models)) {
		t.Fatalf("%d top models, want %d", len(facts.Top), min(10, len(models)))
	}
	for i, row := range facts.Top {
		tot := doc.ModelBreakdown[models[i]]
		if row.Model != models[i] || row.Exact != tot.Cost.String() || row.Calls != figures.Int(tot.Calls) {
			t.Errorf("top %d: %+v, file %s %s %d calls", i+1, row, models[i], tot.Cost, tot.Calls)
		}
		checkDisplayed(t, "top model "+row.Model, row.Display, tot.Cost)
	}
	if facts.Health != "up" || facts.Refresh != "30" {
		t.Errorf("health %q, refresh %q", facts.Health, facts.Refresh)
	}

	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 600 {
		t.Errorf("screenshot %v", b)
	}
	if *screenshot != "" {
		if err := os.WriteFile(*screenshot, shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkDisplayed checks that a shown amount ("$1,234.57", "$0.0125") is the
// exact one rounded to the digits shown.
func checkDisplayed(t *testing.T, what, shown string, exact usd.Amount) {
	t.Helper()
	s := strings.ReplaceAll(strings.TrimPrefix(shown, "$"), ",", "")
	v, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Errorf("%s: %q is not an amount", what, shown)
		return
	}
	places := 0
	if _, frac, ok := strings.Cut(s, "."); ok {
		places = len(frac)
	}
	// |shown − exact| ≤ half a unit of the last digit shown.
	diff := new(big.Rat).Sub(v, figures.Rat(exact))
	half := new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Mul(big.NewInt(2), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil)))
	if diff.Abs(diff).Cmp(half) > 0 || places < 2 {
		t.Errorf("%s: shown %q, exact %s", what, shown, exact)
	}
}
