package tracker

import (
	"errors"
	"slices"
	"sync"

	"go.uber.org/atomic"

	"github.com/usagering/usagering/pricing"
	"github.com/usagering/usagering/usd"
)

// maxUnpricedModels bounds the model names Stats keeps of unpriced
// records.
const maxUnpricedModels = 32

// prices is a tracker's price table and what it could not price. The table
// is swapped atomically (SetPrices); a Record never reads it: records are
// priced where they are folded (the asynchronous tracker's loop goroutine)
// or written (the synchronous tracker's Record, under its mutex).
type prices struct {
	table atomic.Pointer[pricerBox]

	unpriced atomic.Int64 // records without a cost whose model the table does not know

	mu     sync.Mutex
	models []string // guarded by mu: names of unpriced models, sorted, at most maxUnpricedModels

	// Owned by the one goroutine that prices (see the type comment).
	lastUnpriced string
	provider     providerCache
}

// pricerBox holds a Pricer for an atomic pointer.
type pricerBox struct{ p pricing.Pricer }

func newPrices(p pricing.Pricer) *prices {
	ps := &prices{}
	ps.table.Store(&pricerBox{p})
	return ps
}

// cost returns what r cost: the caller's CostUSD if it set one (or said
// the call was Free), else its price in the table. A record the table
// cannot price costs 0 and is counted (never silently free). It fills an
// empty r.Provider from the table, or from the model's name.
func (ps *prices) cost(r *Record) usd.Amount {
	box := ps.table.Load()
	table := box.p
	if r.CostUSD != 0 || r.Free {
		if r.Provider == "" {
			r.Provider = ps.provider.of(box, r.Model)
		}
		c, _ := usd.FromFloat(r.CostUSD) // finite: validated
		return c
	}
	q, err := table.Quote(r.Model, usageOf(r))
	if err != nil || q.Fallback {
		ps.count(r.Model)
	}
	if r.Provider == "" {
		r.Provider = q.Provider
		if r.Provider == "" {
			r.Provider = ps.provider.of(box, r.Model)
		}
	}
	if err != nil {
		return usd.Amount{} // unknown model, or a cost out of range
	}
	return q.Cost
}

// count counts an unpriced record of model, and remembers the name.
func (ps *prices) count(model string) {
	ps.unpriced.Inc()
	if model == ps.lastUnpriced {
		return
	}
	ps.lastUnpriced = model
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if i, found := slices.BinarySearch(ps.models, model); !found && len(ps.models) < maxUnpricedModels {
		ps.models = slices.Insert(ps.models, i, model)
	}
}

// unpricedModels returns the names of unpriced models seen (at most
// maxUnpricedModels), sorted.
func (ps *prices) unpricedModels() []string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return slices.Clone(ps.models)
}

// quote prices a call with the current table.
func (ps *prices) quote(model string, u pricing.Usage) (pricing.Quote, error) {
	return ps.table.Load().p.Quote(model, u)
}

// set swaps the table.
func (ps *prices) set(p pricing.Pricer) error {
	if p == nil {
		return errors.Join(ErrInvalidArgument, errors.New("nil price table"))
	}
	ps.table.Store(&pricerBox{p})
	return nil
}

// usageOf is r's usage in the price table's terms.
func usageOf(r *Record) pricing.Usage {
	return pricing.Usage{Input: r.InputTokens, Output: r.OutputTokens, CacheRead: r.CacheReadTokens,
		CacheWrite: r.CacheWriteTokens, Reasoning: r.ReasoningTokens}
}

// providerCache remembers the provider of the last model it was asked
// about, under the last table.
type providerCache struct {
	table           *pricerBox
	model, provider string
}

// of returns the provider of model: the table's (so "o3" is "openai"),
// else DetectProvider's guess from the name.
func (c *providerCache) of(table *pricerBox, model string) string {
	if c.provider != "" && model == c.model && table == c.table {
		return c.provider
	}
	p := ""
	if q, err := table.p.Quote(model, pricing.Usage{}); err == nil {
		p = q.Provider
	}
	if p == "" {
		p = DetectProvider(model)
	}
	c.table, c.model, c.provider = table, model, p
	return p
}
