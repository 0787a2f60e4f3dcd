// Package pricing prices LLM calls exactly from a price table: the cost of
// a call is computed from its token usage in usd.Amount, a count of 10^-24
// USD, so no float rounding enters a cost or a sum of costs.
//
// # Tables
//
// Default returns the embedded table: the chat, completion and responses
// entries of LiteLLM's model_prices_and_context_window.json (project
// BerriAI/litellm, MIT licence) of DefaultTableDate, generated into
// litellm_gen.go. Load reads a table in the same format, such as a newer
// copy of LiteLLM's file or a file of your own models; Chain(mine,
// Default()) prices your models first and the rest from the embedded table.
// Original returns the original tool's substring table (see Substring),
// for users who must reproduce its figures. Every table is immutable and
// safe for concurrent use; the Pricer interface is what they have in common.
//
// To add a price, write an entry in LiteLLM's format and Load it:
//
//	{"my-model": {"litellm_provider": "openai", "mode": "chat",
//	  "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05,
//	  "cache_read_input_token_cost": 1.25e-06}}
//
// To refresh the embedded table, put the new file where the generate
// directive in doc.go reads it (shared/pricing/ beside the repository, or
// pass -in) and run "go generate ./pricing"; the output is committed, so
// builds need neither the JSON file nor the network.
//
// # The cost of a call
//
// A Usage counts tokens in OpenAI's convention: Input includes cache reads
// and writes, Output includes reasoning. As LiteLLM computes it, a call
// costs
//
//	(Input − CacheRead − CacheWrite) × input rate
//	+ CacheRead × cache-read rate + CacheWrite × cache-write rate
//	+ (Output − Reasoning) × output rate + Reasoning × reasoning rate
//
// where a missing cache-read or cache-write rate is the input rate and a
// missing reasoning rate the output rate. (LiteLLM's generic cost code
// bills the cache tokens of an entry without a cache rate at $0, except in
// tiered_pricing tiers; here they are never free.) When Input exceeds a tier's
// threshold (LiteLLM's _above_128k_tokens, _above_200k_tokens, … fields,
// or a tiered_pricing range), every rate the highest such tier has
// replaces the entry's: the whole call is billed at the tier, not just the
// tokens above the threshold.
//
// Not priced: batch, flex and priority service tiers, one-hour cache
// writes (billed here at the five-minute rate), audio, image and video
// tokens, per-second, per-character and per-request prices, regional
// uplifts, off-peak discounts and tool fees (web search and the like).
// Entries priced only that way are not in the tables.
//
// Costs are exact: a rate is the decimal the file writes (read from the
// JSON text, never through float64), and tokens × rate and their sum are
// exact in usd.Amount; a sum beyond its range is ErrOverflow, never a
// saturated figure.
//
// # Lookup
//
// A Table finds a model by its exact name, then without or with a provider
// prefix, then without a date or version suffix, and never by substring:
// see Table. An unknown model is ErrUnknownModel, never $0.
//
// # Providers
//
// Quote.Provider is the matched entry's litellm_provider as
// NormalizeProvider maps it: gemini and vertex_ai… become "google", the
// rest keep LiteLLM's names (openai, anthropic, bedrock, azure, …).
package pricing

//go:generate go run ./internal/gen -in ../../shared/pricing/model_prices_and_context_window.json -out litellm_gen.go
