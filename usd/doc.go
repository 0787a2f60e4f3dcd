// Package usd holds exact amounts of US dollars.
//
// An Amount is a signed 128-bit count of 10^-24 USD. Every price of the
// LiteLLM table is a decimal with at most 23 places, so the cost of a call
// (tokens × a per-token price, summed over token kinds) is an exact Amount,
// and sums of Amounts are exact: money is never a float sum here. The range,
// about ±1.7×10^14 USD, is far beyond any usage total.
//
// Amounts are written and read as plain decimals ("0.0054", "-12",
// "0.000000002034505208"): that is how the usage file stores costs, as JSON
// numbers with every digit, so a reader that parses them as float64 (the
// original Python tool) reads the nearest float and usagering reads the
// exact value back.
package usd
