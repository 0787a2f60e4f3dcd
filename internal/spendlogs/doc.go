// Package spendlogs writes usage to PostgreSQL the way LiteLLM's proxy
// does, as the baseline the postgres store is measured against: one row
// per call in a spend log, plus an upsert per call of a daily row shared by
// every writer (keyed by user, day, API key, model and provider), spend as
// double precision. The tables follow the columns, types and indexes of
// LiteLLM's LiteLLM_SpendLogs and LiteLLM_DailyUserSpend, trimmed of
// relations; the rows carry a small metadata document, so real LiteLLM
// rows are larger than these.
//
// It is a benchmark baseline, not a usage store: nothing here is exact or
// exactly once.
package spendlogs
