// Package figures derives the figures usagering shows from exact totals:
// the cache-read share, the cost per 1000 calls, rounded amounts for
// display. Sums stay exact (usd.Amount); only display rounds.
package figures
