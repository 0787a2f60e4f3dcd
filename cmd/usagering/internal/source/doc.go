// Package source is where the usagering command reads usage from: a usage
// file (File) or a fleet's PostgreSQL store (Postgres), behind one
// interface, Source, that answers reports of totals over a range of days,
// grouped by day, model, provider or the value of a tag.
package source
