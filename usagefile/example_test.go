package usagefile_test

import (
	"fmt"

	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

// A usage file written by the original tool (or by this one) parses into a
// Document whose totals are exact: costs are usd.Amount, read from their
// text digit by digit.
func ExampleParseDocument() {
	doc, err := usagefile.ParseDocument([]byte(`{
  "sessions": [],
  "daily_totals": {"2026-11-27": {"tokens": 537, "cost": 0.1, "calls": 1}},
  "model_breakdown": {"gpt-4o": {"tokens": 537, "cost": 0.1, "calls": 1}},
  "provider_breakdown": {"openai": {"tokens": 537, "cost": 0.1, "calls": 1}},
  "last_updated": "2026-11-27T10:00:00.000000"
}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	day := doc.DailyTotals["2026-11-27"]
	fmt.Println(day.Calls, day.Tokens, day.Cost)
	// Output: 1 537 0.1
}

// AddSession keeps the last sessions and adds each to the day's, the
// model's and the provider's totals; AppendJSON writes the file's layout.
func ExampleDocument_AddSession() {
	doc := usagefile.NewDocument()
	for _, text := range []string{"0.1", "0.2"} {
		cost, err := usd.Parse(text)
		if err != nil {
			fmt.Println(err)
			return
		}
		doc.AddSession(usagefile.Session{
			Timestamp: "2026-11-27T10:00:00.000000", Model: "gpt-4o", Provider: "openai",
			InputTokens: 500, OutputTokens: 37, TotalTokens: 537, CostUSD: cost,
		}, "2026-11-27", 1000)
	}
	m := doc.ModelBreakdown["gpt-4o"]
	fmt.Println(len(doc.Sessions), m.Calls, m.Tokens, m.Cost) // 0.1 + 0.2, exactly
	// Output: 2 2 1074 0.3
}
