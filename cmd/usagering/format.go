package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/usagering/usagering/cmd/usagering/internal/figures"
	"github.com/usagering/usagering/cmd/usagering/internal/source"
	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

const dash = "—"

// tableCells returns the measure cells of a table row.
func tableCells(t usagefile.Totals) []string {
	cells := []string{figures.Int(t.Calls), figures.Int(t.Tokens)}
	if figures.KindsKnown(t) {
		cells = append(cells, figures.Int(t.InputTokens), figures.Int(t.OutputTokens), figures.Int(t.CacheReadTokens),
			figures.Int(t.CacheWriteTokens), figures.Int(t.ReasoningTokens))
	} else {
		cells = append(cells, dash, dash, dash, dash, dash)
	}
	cells = append(cells, figures.Round(t.Cost, 6))
	if s, ok := figures.CacheReadShare(t); ok {
		cells = append(cells, strconv.FormatFloat(100*s, 'f', 1, 64)+"%")
	} else {
		cells = append(cells, dash)
	}
	if c, ok := figures.CostPer1kCalls(t); ok {
		cells = append(cells, figures.Round(c, 6))
	} else {
		cells = append(cells, dash)
	}
	return cells
}

var tableMeasures = []string{"CALLS", "TOKENS", "INPUT", "OUTPUT", "CACHE READ", "CACHE WRITE", "REASONING", "COST USD", "CACHE READ %", "USD / 1K CALLS"}

// writeTable writes the report as an aligned table: a heading, the key
// columns left-aligned, the measures right-aligned, a TOTAL line, and the
// notes.
func (r *report) writeTable(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%s · %s\n\n", r.Source, period(r.Query))
	keyCols := r.keyColumns()
	header := append([]string{}, upper(keyCols)...)
	header = append(header, tableMeasures...)
	rows := [][]string{header}
	anyUnknown := false
	for i := range r.Result.Rows {
		row := &r.Result.Rows[i]
		rows = append(rows, append(r.keys(row, unattributed), tableCells(row.Totals)...))
		anyUnknown = anyUnknown || !figures.KindsKnown(row.Totals)
	}
	if len(keyCols) > 0 {
		total := make([]string, len(keyCols))
		total[0] = "TOTAL"
		rows = append(rows, append(total, tableCells(r.Result.Total)...))
	}
	widths := make([]int, len(header))
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for n, row := range rows {
		if n == len(rows)-1 && len(keyCols) > 0 && len(rows) > 1 {
			writeRule(bw, widths)
		}
		var line strings.Builder
		for i, c := range row {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if i > 0 {
				line.WriteString("  ")
			}
			if i < len(keyCols) {
				line.WriteString(c + pad)
			} else {
				line.WriteString(pad + c)
			}
		}
		bw.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	notes := r.Result.Notes
	if anyUnknown || !figures.KindsKnown(r.Result.Total) {
		notes = append(notes, dash+": tokens counted without their kinds (a file written by the original tool): input, output, cache and reasoning tokens and the cache-read share are unknown")
	}
	if len(notes) > 0 {
		bw.WriteString("\n" + joinNotes(notes))
	}
	return bw.Flush()
}

func writeRule(w *bufio.Writer, widths []int) {
	n := 0
	for _, wd := range widths {
		n += wd
	}
	w.WriteString(strings.Repeat("-", n+2*(len(widths)-1)) + "\n")
}

func upper(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToUpper(s)
	}
	return out
}

// jsonMeasures are a row's figures as -json writes them.
type jsonMeasures struct {
	Calls              int64       `json:"calls"`
	Tokens             int64       `json:"tokens"`
	InputTokens        int64       `json:"input_tokens"`
	OutputTokens       int64       `json:"output_tokens"`
	CacheReadTokens    int64       `json:"cache_read_tokens"`
	CacheWriteTokens   int64       `json:"cache_write_tokens"`
	ReasoningTokens    int64       `json:"reasoning_tokens"`
	UnclassifiedTokens int64       `json:"unclassified_tokens"`
	CostUSD            usd.Amount  `json:"cost_usd"`
	CacheReadShare     *float64    `json:"cache_read_share"`
	CostPer1kCallsUSD  *usd.Amount `json:"cost_per_1k_calls_usd"`
}

func measures(t usagefile.Totals) jsonMeasures {
	m := jsonMeasures{
		Calls: t.Calls, Tokens: t.Tokens, InputTokens: t.InputTokens, OutputTokens: t.OutputTokens,
		CacheReadTokens: t.CacheReadTokens, CacheWriteTokens: t.CacheWriteTokens, ReasoningTokens: t.ReasoningTokens,
		UnclassifiedTokens: figures.Unclassified(t), CostUSD: t.Cost,
	}
	if s, ok := figures.CacheReadShare(t); ok {
		m.CacheReadShare = &s
	}
	if c, ok := figures.CostPer1kCalls(t); ok {
		m.CostPer1kCallsUSD = &c
	}
	return m
}

// jsonRow is one row of -json: the grouped keys, then the figures.
type jsonRow struct {
	Day          *string `json:"day,omitempty"`
	Model        *string `json:"model,omitempty"`
	Provider     *string `json:"provider,omitempty"`
	Tag          *string `json:"tag,omitempty"`
	Unattributed bool    `json:"unattributed,omitempty"`
	jsonMeasures
}

type jsonReport struct {
	Source  string       `json:"source"`
	From    *string      `json:"from"`
	To      *string      `json:"to"`
	GroupBy []string     `json:"group_by"`
	TagKey  string       `json:"tag_key,omitempty"`
	Rows    []jsonRow    `json:"rows"`
	Total   jsonMeasures `json:"total"`
	Notes   []string     `json:"notes"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// writeJSON writes the report as one JSON object; costs are JSON numbers
// with every digit.
func (r *report) writeJSON(w io.Writer) error {
	out := jsonReport{
		Source: r.Source, From: optional(r.Query.From), To: optional(r.Query.To),
		GroupBy: make([]string, len(r.Query.By)), TagKey: r.Query.TagKey,
		Rows: make([]jsonRow, 0, len(r.Result.Rows)), Total: measures(r.Result.Total),
		Notes: append([]string{}, r.Result.Notes...),
	}
	for i, d := range r.Query.By {
		out.GroupBy[i] = d.String()
	}
	for i := range r.Result.Rows {
		row := &r.Result.Rows[i]
		jr := jsonRow{Unattributed: row.Unattributed, jsonMeasures: measures(row.Totals)}
		for _, d := range r.Query.By {
			v := func(s string) *string {
				if row.Unattributed {
					return nil
				}
				return &s
			}
			switch d {
			case source.Day: // kept on unattributed rows too
				jr.Day = &row.Day
			case source.Model:
				jr.Model = v(row.Model)
			case source.Provider:
				jr.Provider = v(row.Provider)
			case source.Tag:
				jr.Tag = v(row.Tag)
			}
		}
		out.Rows = append(out.Rows, jr)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// writeCSV writes a header and one line per row, no total: the key
// columns, then calls, tokens by kind, the exact cost, the cache-read share
// (empty when unknown), the cost per 1000 calls and whether the row is
// unattributed.
func (r *report) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	header := append(r.keyColumns(), "calls", "tokens", "input_tokens", "output_tokens", "cache_read_tokens",
		"cache_write_tokens", "reasoning_tokens", "unclassified_tokens", "cost_usd", "cache_read_share",
		"cost_per_1k_calls_usd", "unattributed")
	if err := cw.Write(header); err != nil {
		return err
	}
	for i := range r.Result.Rows {
		row := &r.Result.Rows[i]
		t := row.Totals
		rec := r.keys(row, "")
		share, per := "", ""
		if s, ok := figures.CacheReadShare(t); ok {
			share = strconv.FormatFloat(s, 'g', -1, 64)
		}
		if c, ok := figures.CostPer1kCalls(t); ok {
			per = c.String()
		}
		rec = append(rec, strconv.FormatInt(t.Calls, 10), strconv.FormatInt(t.Tokens, 10),
			strconv.FormatInt(t.InputTokens, 10), strconv.FormatInt(t.OutputTokens, 10),
			strconv.FormatInt(t.CacheReadTokens, 10), strconv.FormatInt(t.CacheWriteTokens, 10),
			strconv.FormatInt(t.ReasoningTokens, 10), strconv.FormatInt(figures.Unclassified(t), 10),
			t.Cost.String(), share, per, strconv.FormatBool(row.Unattributed))
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
