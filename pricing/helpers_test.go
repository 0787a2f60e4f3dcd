package pricing_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/usagering/usagering/pricing"
	"github.com/usagering/usagering/usd"
)

// fixturePath is a small LiteLLM-format table: real entries trimmed, and
// made-up ones for the lookup and format rules.
const fixturePath = "testdata/litellm_fixture.json"

func loadFixture(t testing.TB) *pricing.Table {
	t.Helper()
	f, err := os.Open(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tb, err := pricing.Load(f)
	if err != nil {
		t.Fatalf("Load(%s): %v", fixturePath, err)
	}
	return tb
}

func amount(t testing.TB, s string) usd.Amount {
	t.Helper()
	a, err := usd.Parse(s)
	if err != nil {
		t.Fatalf("usd.Parse(%q): %v", s, err)
	}
	return a
}

// sourcePath returns LiteLLM's whole table, which lives beside the
// repository (shared/pricing/), or "" when it is not there. $LITELLM_PRICES
// names another copy.
func sourcePath() string {
	candidates := []string{
		os.Getenv("LITELLM_PRICES"),
		filepath.Join("..", "..", "shared", "pricing", "model_prices_and_context_window.json"),
		"/work/shared/pricing/model_prices_and_context_window.json",
	}
	for _, p := range candidates {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}
