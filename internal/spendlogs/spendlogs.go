package spendlogs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Call is one LLM call as the proxy logs it.
type Call struct {
	RequestID        string // unique per call
	APIKey           string // the hashed key
	User             string
	Model            string
	Provider         string
	Start, End       time.Time
	PromptTokens     int64
	CompletionTokens int64
	CacheReadTokens  int64
	CacheWriteTokens int64
	Spend            float64
	Tags             []string
}

// Create creates the two tables and their indexes in schema (created if
// missing).
func Create(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	q := pgx.Identifier{schema}.Sanitize()
	_, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+q+";"+strings.ReplaceAll(`
CREATE TABLE S.spend_logs (
	request_id           text PRIMARY KEY,
	call_type            text NOT NULL,
	api_key              text NOT NULL DEFAULT '',
	spend                double precision NOT NULL DEFAULT 0,
	total_tokens         integer NOT NULL DEFAULT 0,
	prompt_tokens        integer NOT NULL DEFAULT 0,
	completion_tokens    integer NOT NULL DEFAULT 0,
	"startTime"          timestamp(3) NOT NULL,
	"endTime"            timestamp(3) NOT NULL,
	request_duration_ms  integer,
	"completionStartTime" timestamp(3),
	model                text NOT NULL DEFAULT '',
	model_id             text DEFAULT '',
	model_group          text DEFAULT '',
	custom_llm_provider  text DEFAULT '',
	api_base             text DEFAULT '',
	"user"               text DEFAULT '',
	metadata             jsonb DEFAULT '{}',
	cache_hit            text DEFAULT '',
	cache_key            text DEFAULT '',
	request_tags         jsonb DEFAULT '[]',
	team_id              text,
	end_user             text,
	requester_ip_address text,
	messages             jsonb DEFAULT '{}',
	response             jsonb DEFAULT '{}',
	session_id           text,
	status               text,
	proxy_server_request jsonb DEFAULT '{}'
);
CREATE INDEX ON S.spend_logs ("startTime");
CREATE INDEX ON S.spend_logs ("startTime", request_id);
CREATE INDEX ON S.spend_logs (end_user);
CREATE INDEX ON S.spend_logs (session_id);
CREATE TABLE S.daily_user_spend (
	id                          text PRIMARY KEY DEFAULT gen_random_uuid()::text,
	user_id                     text,
	date                        text NOT NULL,
	api_key                     text NOT NULL,
	model                       text,
	model_group                 text,
	custom_llm_provider         text,
	mcp_namespaced_tool_name    text,
	endpoint                    text,
	prompt_tokens               bigint NOT NULL DEFAULT 0,
	completion_tokens           bigint NOT NULL DEFAULT 0,
	cache_read_input_tokens     bigint NOT NULL DEFAULT 0,
	cache_creation_input_tokens bigint NOT NULL DEFAULT 0,
	spend                       double precision NOT NULL DEFAULT 0,
	api_requests                bigint NOT NULL DEFAULT 0,
	successful_requests         bigint NOT NULL DEFAULT 0,
	failed_requests             bigint NOT NULL DEFAULT 0,
	created_at                  timestamp(3) NOT NULL DEFAULT now(),
	updated_at                  timestamp(3) NOT NULL
);
CREATE UNIQUE INDEX ON S.daily_user_spend (user_id, date, api_key, model, custom_llm_provider, mcp_namespaced_tool_name, endpoint);
CREATE INDEX ON S.daily_user_spend (date);
CREATE INDEX ON S.daily_user_spend (user_id, date);
CREATE INDEX ON S.daily_user_spend (api_key);
CREATE INDEX ON S.daily_user_spend (model);
CREATE INDEX ON S.daily_user_spend (mcp_namespaced_tool_name);
CREATE INDEX ON S.daily_user_spend (endpoint);
`, "S.", q+"."))
	return err
}

// Writer writes calls the LiteLLM way. It is safe for concurrent use.
type Writer struct {
	pool        *pgxpool.Pool
	insertLog   string
	upsertDaily string

	commits atomic.Int64 // transactions committed
	retries atomic.Int64 // transactions retried after a deadlock or serialization failure
}

// NewWriter returns a writer into the tables Create made in schema.
func NewWriter(pool *pgxpool.Pool, schema string) *Writer {
	q := pgx.Identifier{schema}.Sanitize()
	return &Writer{
		pool: pool,
		insertLog: `INSERT INTO ` + q + `.spend_logs (request_id, call_type, api_key, spend, total_tokens,
	prompt_tokens, completion_tokens, "startTime", "endTime", request_duration_ms, "completionStartTime",
	model, model_group, custom_llm_provider, "user", metadata, request_tags, status)
VALUES ($1, 'acompletion', $2, $3, $4, $5, $6, $7, $8, $9, $7, $10, $10, $11, $12, $13, $14, 'success')`,
		upsertDaily: `INSERT INTO ` + q + `.daily_user_spend AS d (user_id, date, api_key, model, model_group,
	custom_llm_provider, mcp_namespaced_tool_name, endpoint, prompt_tokens, completion_tokens,
	cache_read_input_tokens, cache_creation_input_tokens, spend, api_requests, successful_requests, updated_at)
VALUES ($1, $2, $3, $4, $4, $5, '', '/chat/completions', $6, $7, $8, $9, $10, 1, 1, now())
ON CONFLICT (user_id, date, api_key, model, custom_llm_provider, mcp_namespaced_tool_name, endpoint) DO UPDATE SET
	prompt_tokens = d.prompt_tokens + excluded.prompt_tokens,
	completion_tokens = d.completion_tokens + excluded.completion_tokens,
	cache_read_input_tokens = d.cache_read_input_tokens + excluded.cache_read_input_tokens,
	cache_creation_input_tokens = d.cache_creation_input_tokens + excluded.cache_creation_input_tokens,
	spend = d.spend + excluded.spend,
	api_requests = d.api_requests + 1,
	successful_requests = d.successful_requests + 1,
	updated_at = now()`,
	}
}

// Write writes calls in one transaction: for each call, in the order
// given, its spend log row and the upsert of its daily row. A transaction
// that fails with a deadlock or a serialization failure (writers upserting
// shared daily rows in different orders) is retried, as LiteLLM retries
// its spend updates.
func (w *Writer) Write(ctx context.Context, calls []Call) error {
	type stmt struct {
		sql  string
		args []any
	}
	stmts := make([]stmt, 0, 2*len(calls))
	for _, c := range calls {
		meta, err := json.Marshal(map[string]any{
			"user_api_key": c.APIKey, "user_api_key_user_id": c.User,
			"usage_object": map[string]int64{
				"prompt_tokens": c.PromptTokens, "completion_tokens": c.CompletionTokens,
				"total_tokens":            c.PromptTokens + c.CompletionTokens,
				"cache_read_input_tokens": c.CacheReadTokens, "cache_creation_input_tokens": c.CacheWriteTokens,
			},
		})
		if err != nil {
			return err
		}
		tags, err := json.Marshal(c.Tags)
		if err != nil {
			return err
		}
		stmts = append(stmts,
			stmt{w.insertLog, []any{c.RequestID, c.APIKey, c.Spend, c.PromptTokens + c.CompletionTokens,
				c.PromptTokens, c.CompletionTokens, c.Start, c.End, c.End.Sub(c.Start).Milliseconds(),
				c.Model, c.Provider, c.User, string(meta), string(tags)}},
			stmt{w.upsertDaily, []any{c.User, c.Start.Format(time.DateOnly), c.APIKey, c.Model, c.Provider,
				c.PromptTokens, c.CompletionTokens, c.CacheReadTokens, c.CacheWriteTokens, c.Spend}})
	}
	for {
		err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
			var b pgx.Batch
			for _, s := range stmts {
				b.Queue(s.sql, s.args...)
			}
			return tx.SendBatch(ctx, &b).Close()
		})
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001") && ctx.Err() == nil {
			w.retries.Add(1)
			continue
		}
		if err != nil {
			return fmt.Errorf("spendlogs: %w", err)
		}
		w.commits.Add(1)
		return nil
	}
}

// Commits returns how many transactions Write has committed.
func (w *Writer) Commits() int64 { return w.commits.Load() }

// Retries returns how many transactions Write retried after a deadlock or
// a serialization failure.
func (w *Writer) Retries() int64 { return w.retries.Load() }
