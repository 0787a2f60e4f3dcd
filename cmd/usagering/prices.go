package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/usagering/usagering/cmd/usagering/internal/figures"
	"github.com/usagering/usagering/pricing"
	"github.com/usagering/usagering/usd"
)

const pricesSynopsis = `usage: usagering prices [-file prices.json] [-json] MODEL...

The price entry each MODEL resolves to: the key that matched, the provider,
the rates in USD per million tokens (exact), and the tiers for large
prompts. Rates an entry lacks are billed at another (cache reads and
writes at the input rate, reasoning at the output rate): they are marked.

-file loads a price table in LiteLLM's format (model_prices_and_context_window.json)
instead of the embedded one: use it to check a newer file before
deploying it. Without MODEL it only checks the file. A model no table
prices makes the exit status 1.`

// errUnpriced: some models have no price.
var errUnpriced = errors.New("no price")

func runPrices(_ context.Context, args []string, e *env) error {
	fs := newFlagSet("prices", pricesSynopsis, e)
	file := fs.String("file", "", "a price table in LiteLLM's format (`path`) to use instead of the embedded one")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	table, name := pricing.Default(), "LiteLLM's table of "+pricing.DefaultTableDate+" (embedded)"
	if *file != "" {
		f, err := os.Open(*file)
		if err != nil {
			return badInput(err)
		}
		table, err = pricing.Load(f)
		f.Close()
		if err != nil {
			return badInputf("%s: %w", *file, err)
		}
		name = *file
	}
	if fs.NArg() == 0 {
		if *file == "" {
			fs.Usage()
			return badInputf("no model given")
		}
		fmt.Fprintf(e.stdout, "%s: a valid price table pricing %d model(s)\n", *file, table.Len())
		return nil
	}
	var entries []priceEntry
	var missing []string
	for _, m := range fs.Args() {
		en, ok := table.Lookup(m)
		if !ok {
			missing = append(missing, m)
			fmt.Fprintf(e.stderr, "usagering prices: %s: no price in %s\n", m, name)
			continue
		}
		entries = append(entries, newPriceEntry(m, en))
	}
	var err error
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(struct {
			Table  string       `json:"table"`
			Models []priceEntry `json:"models"`
		}{name, entries})
	} else {
		err = writePrices(e.stdout, name, entries)
	}
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w for %s", errUnpriced, strings.Join(missing, ", "))
	}
	return nil
}

// priceEntry is one model's entry as prices shows it: rates in USD per
// million tokens, exact.
type priceEntry struct {
	Model           string       `json:"model"`
	Key             string       `json:"key"`
	Provider        string       `json:"provider"`
	LiteLLMProvider string       `json:"litellm_provider"`
	Mode            string       `json:"mode"`
	Rates           perMillion   `json:"rates_per_million_tokens"`
	Tiers           []tierPrices `json:"tiers"`
}

type tierPrices struct {
	// AboveInputTokens: the tier bills a call whose prompt is longer.
	AboveInputTokens int64      `json:"above_input_tokens"`
	Rates            perMillion `json:"rates_per_million_tokens"`
}

// perMillion are the five rates a call is billed at, in USD per million
// tokens; Inherited names those the entry lacks (billed at another rate).
type perMillion struct {
	Input      usd.Amount `json:"input"`
	Output     usd.Amount `json:"output"`
	CacheRead  usd.Amount `json:"cache_read"`
	CacheWrite usd.Amount `json:"cache_write"`
	Reasoning  usd.Amount `json:"reasoning"`
	Inherited  []string   `json:"inherited"`
}

func million(r pricing.Rate) usd.Amount {
	a, _ := r.PerToken.Mul(1_000_000) // a rate is far below the range
	return a
}

// billedRates returns the rates a call of input tokens is billed at, per
// million, with the ones declared marks for those the level lacks.
func billedRates(e pricing.Entry, input int64, declared pricing.Rates) perMillion {
	r := e.RatesAt(input)
	p := perMillion{Input: million(r.Input), Output: million(r.Output), CacheRead: million(r.CacheRead),
		CacheWrite: million(r.CacheWrite), Reasoning: million(r.Reasoning), Inherited: []string{}}
	for _, d := range []struct {
		name string
		set  bool
	}{{"cache_read", declared.CacheRead.Set}, {"cache_write", declared.CacheWrite.Set}, {"reasoning", declared.Reasoning.Set}} {
		if !d.set {
			p.Inherited = append(p.Inherited, d.name)
		}
	}
	return p
}

func newPriceEntry(model string, e pricing.Entry) priceEntry {
	pe := priceEntry{Model: model, Key: e.Key, Provider: e.Provider, LiteLLMProvider: e.LiteLLMProvider, Mode: e.Mode,
		Rates: billedRates(e, 0, e.Rates), Tiers: []tierPrices{}}
	for _, t := range e.Tiers() {
		declared := t.Rates
		// A tier's missing rate is the base's, if the base has it.
		for _, f := range []struct{ tier, base *pricing.Rate }{
			{&declared.CacheRead, &e.Rates.CacheRead}, {&declared.CacheWrite, &e.Rates.CacheWrite}, {&declared.Reasoning, &e.Rates.Reasoning},
		} {
			f.tier.Set = f.tier.Set || f.base.Set
		}
		pe.Tiers = append(pe.Tiers, tierPrices{AboveInputTokens: t.Above, Rates: billedRates(e, t.Above+1, declared)})
	}
	return pe
}

// writePrices writes entries for people.
func writePrices(w io.Writer, table string, entries []priceEntry) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "table: %s\n", table)
	for _, pe := range entries {
		match := "exact match"
		if pe.Key != pe.Model {
			match = "matched as " + pe.Key
		}
		fmt.Fprintf(bw, "\n%s\n  key       %s (%s)\n  provider  %s (litellm_provider %q)\n  mode      %s\n",
			pe.Model, pe.Key, match, pe.Provider, pe.LiteLLMProvider, pe.Mode)
		rows := [][]string{{"  USD per 1M tokens", "INPUT", "OUTPUT", "CACHE READ", "CACHE WRITE", "REASONING"}}
		rows = append(rows, rateCells("  base", pe.Rates))
		for _, t := range pe.Tiers {
			rows = append(rows, rateCells(fmt.Sprintf("  prompt > %s tokens", figures.Int(t.AboveInputTokens)), t.Rates))
		}
		widths := make([]int, len(rows[0]))
		for _, r := range rows {
			for i, c := range r {
				widths[i] = max(widths[i], len([]rune(c)))
			}
		}
		for _, r := range rows {
			var line strings.Builder
			for i, c := range r {
				pad := strings.Repeat(" ", widths[i]-len([]rune(c)))
				if i == 0 {
					line.WriteString(c + pad)
				} else {
					line.WriteString("  " + pad + c)
				}
			}
			bw.WriteString(line.String() + "\n")
		}
		if len(pe.Rates.Inherited) > 0 {
			bw.WriteString("  * not in the entry: cache reads and writes are billed at the input rate, reasoning at the output rate\n")
		}
	}
	return bw.Flush()
}

func rateCells(label string, p perMillion) []string {
	mark := func(name string, a usd.Amount) string {
		for _, n := range p.Inherited {
			if n == name {
				return a.String() + "*"
			}
		}
		return a.String()
	}
	return []string{label, p.Input.String(), p.Output.String(), mark("cache_read", p.CacheRead),
		mark("cache_write", p.CacheWrite), mark("reasoning", p.Reasoning)}
}
