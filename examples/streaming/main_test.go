package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/usagering/usagering/pricing"
	"github.com/usagering/usagering/tracker"
	"github.com/usagering/usagering/usagefile"
)

// TestMain checks that no goroutine outlives the tests: not the trackers'
// flushers, not the test server's handlers, not the SDK's connections.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The run's numbers are small so the test is quick; timings are only
// printed, never asserted (the machine is shared and noisy).
func TestRun(t *testing.T) {
	// Each response is streamed with the async tracker, the sync one and
	// none.
	const responses, chunks, lanes = 3, 5, 3
	for _, perChunk := range []bool{true, false} {
		t.Run("per-chunk="+strconv.FormatBool(perChunk), func(t *testing.T) {
			dir := t.TempDir()
			var out bytes.Buffer
			args := []string{"-responses", strconv.Itoa(responses), "-chunks", strconv.Itoa(chunks),
				"-interval", "200us", "-dir", dir, "-per-chunk=" + strconv.FormatBool(perChunk)}
			if err := run(t.Context(), args, &out); err != nil {
				t.Fatalf("run: %v\noutput:\n%s", err, out.String())
			}
			text := out.String()
			t.Logf("output:\n%s", text)

			// The first response's tokens, as streamed: the passage's first
			// words.
			want := "response 1 (async tracker): " + strings.Join(strings.Fields(passage)[:chunks], " ") + "\n"
			if !strings.Contains(text, want) {
				t.Errorf("output lacks the streamed text %q", want)
			}

			// What the server put in its usage chunks: every response, with
			// the toy tokenizer's counts.
			m := regexp.MustCompile(`the server reported (\d+) prompt \+ (\d+) completion = (\d+) tokens in (\d+) usage chunks`).FindStringSubmatch(text)
			if m == nil {
				t.Fatal("output lacks the server's usage line")
			}
			serverPrompt, serverCompletion, serverTotal, usageChunks := atoi(t, m[1]), atoi(t, m[2]), atoi(t, m[3]), atoi(t, m[4])
			promptWords := int64(len(strings.Fields(prompt)))
			if usageChunks != lanes*responses || serverPrompt != lanes*responses*promptWords ||
				serverCompletion != lanes*responses*chunks || serverTotal != serverPrompt+serverCompletion {
				t.Fatalf("server reported %d usage chunks, %d prompt, %d completion, %d total tokens; want %d, %d, %d",
					usageChunks, serverPrompt, serverCompletion, serverTotal, lanes*responses, lanes*responses*promptWords, lanes*responses*chunks)
			}

			// Each file holds exactly the third of that its client recorded.
			perResponseIn, perResponseOut := serverPrompt/usageChunks, serverCompletion/usageChunks
			wantCalls := int64(responses)
			if perChunk {
				wantCalls += responses * chunks
			}
			// Each response is priced by the trackers from the embedded
			// table: gpt-4o-mini at $0.15 / $0.60 per million tokens.
			q, err := pricing.Default().Quote("gpt-4o-mini", pricing.Usage{Input: perResponseIn, Output: perResponseOut})
			if err != nil {
				t.Fatal(err)
			}
			cost, _ := q.Cost.Mul(responses)
			wantTotals := tracker.Totals{Tokens: serverTotal / lanes, Cost: cost, Calls: wantCalls,
				InputTokens: responses * perResponseIn, OutputTokens: responses * perResponseOut}
			for lane, name := range map[string]string{"async": "usage.json", "sync": "usage-sync.json"} {
				checkUsageFile(t, filepath.Join(dir, name), lane, wantTotals, perResponseIn, perResponseOut, responses)
			}

			// The report: both distributions, both trackers, and the ratio.
			gapRE := regexp.MustCompile(`(?m)^gaps between tokens as received \(the server sends one every 200µs\), (\d+) per tracker; none: not recording:$`)
			if m := gapRE.FindStringSubmatch(text); m == nil {
				t.Error("output lacks the gap report's header")
			} else if got := atoi(t, m[1]); got != responses*(chunks-1) {
				t.Errorf("gap report counts %d gaps per tracker, want %d", got, responses*(chunks-1))
			}
			callRE := regexp.MustCompile(`(?m)^Record call \(.*\), (\d+) per tracker; the clock alone reads p50 \S+, mean \S+:$`)
			if m := callRE.FindStringSubmatch(text); m == nil {
				t.Error("output lacks the Record-call report's header")
			} else if got := atoi(t, m[1]); got != wantCalls {
				t.Errorf("Record-call report counts %d calls per tracker, want %d", got, wantCalls)
			}
			for _, row := range []string{"p50 +p99 +p99.9 +max +mean", "async( +[0-9.]+(ns|µs|ms|s)){5}", "sync( +[0-9.]+(ns|µs|ms|s)){5}", `sync/async( +[0-9.]+×){5}`} {
				if n := len(regexp.MustCompile(`(?m)^ +`+row+`$`).FindAllString(text, -1)); n != 2 {
					t.Errorf("output has %d lines matching %q, want 2 (gaps and Record calls)", n, row)
				}
			}
			if n := len(regexp.MustCompile(`(?m)^ +none( +[0-9.]+(ns|µs|ms|s)){5}$`).FindAllString(text, -1)); n != 1 {
				t.Errorf("output has %d gap lines without recording, want 1", n)
			}
			for _, name := range []string{"async", "sync"} {
				line := fmt.Sprintf("  %-5s  %d calls, %d tokens, ", name, wantTotals.Calls, wantTotals.Tokens)
				if !strings.Contains(text, line) {
					t.Errorf("output lacks the %s file's totals %q", name, line)
				}
				counts := regexp.MustCompile(`(?m)^  ` + name + ` .*; captured (\d+), uncaptured (\d+)\)`).FindStringSubmatch(text)
				if counts == nil || atoi(t, counts[1]) != responses || atoi(t, counts[2]) != 0 {
					t.Errorf("output's capture counts for %s: %q, want %d captured, 0 uncaptured", name, counts, responses)
				}
			}
		})
	}
}

// checkUsageFile re-reads the usage file at path and checks its totals
// (over all days, and for the one model) and its sessions: one "chat"
// session per response with the usage the server reported and the lane's
// tag, recorded by capture, and progress sessions without tokens.
func checkUsageFile(t *testing.T, path, lane string, want tracker.Totals, in, out, responses int64) {
	t.Helper()
	res, err := usagefile.Load(path, time.Now())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if res.Source != usagefile.SourcePrimary {
		t.Errorf("%s: loaded from %q, want the file itself", path, res.Source)
	}
	doc := res.Doc
	var days tracker.Totals
	for _, d := range doc.DailyTotals {
		days.Add(d)
	}
	if days != want {
		t.Errorf("%s: daily totals add up to %+v, want %+v", path, days, want)
	}
	if got := doc.ModelBreakdown["gpt-4o-mini"]; got != want || len(doc.ModelBreakdown) != 1 {
		t.Errorf("%s: model breakdown %+v, want only gpt-4o-mini: %+v", path, doc.ModelBreakdown, want)
	}
	if got := doc.ProviderBreakdown[tracker.ProviderOpenAI]; got != want {
		t.Errorf("%s: provider breakdown of openai %+v, want %+v", path, got, want)
	}
	if int64(len(doc.Sessions)) != want.Calls {
		t.Fatalf("%s: %d sessions, want %d", path, len(doc.Sessions), want.Calls)
	}
	var chats int64
	for _, s := range doc.Sessions {
		switch s.Operation {
		case opResponse:
			chats++
			if s.InputTokens != in || s.OutputTokens != out || s.TotalTokens != in+out {
				t.Errorf("%s: response session with %d+%d=%d tokens, want %d+%d", path, s.InputTokens, s.OutputTokens, s.TotalTokens, in, out)
			}
			var meta map[string]string
			if err := json.Unmarshal(s.Metadata, &meta); err != nil || len(meta) != 1 || meta["lane"] != lane {
				t.Errorf("%s: response session metadata %s, want the tag lane=%s", path, s.Metadata, lane)
			}
		case opChunk:
			if s.TotalTokens != 0 || !s.CostUSD.IsZero() {
				t.Errorf("%s: progress session with %d tokens, $%v; want none", path, s.TotalTokens, s.CostUSD)
			}
		default:
			t.Errorf("%s: session with operation %q", path, s.Operation)
		}
	}
	if chats != responses {
		t.Errorf("%s: %d response sessions, want %d", path, chats, responses)
	}
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRunFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-responses", "0"},
		{"-chunks", "0"},
		{"-interval", "-1ms"},
		{"-model", ""},
		{"-bogus"},
		{"extra"},
	} {
		var out bytes.Buffer
		err := run(t.Context(), append(args, "-dir", t.TempDir()), &out)
		if err == nil {
			t.Errorf("run %q: no error", args)
		}
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"-h"}, &out); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("run -h: %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(out.String(), "-per-chunk") {
		t.Errorf("run -h printed %q, want the flags", out.String())
	}
}

// cancelWriter cancels a context once what was written to it contains
// trigger.
type cancelWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	trigger string
	cancel  context.CancelFunc
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if bytes.Contains(w.buf.Bytes(), []byte(w.trigger)) {
		w.cancel()
	}
	return n, err
}

// TestRunCanceled cancels the run when the first token is printed, as
// SIGINT would: run returns the context's error, and the trackers are
// closed with what was recorded (goleak checks that nothing is left
// running).
func TestRunCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	dir := t.TempDir()
	w := &cancelWriter{trigger: "response 1 (async tracker): " + strings.Fields(passage)[0], cancel: cancel}
	err := run(ctx, []string{"-responses", "2", "-chunks", "1000", "-interval", "1ms", "-dir", dir}, w)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run: %v, want context.Canceled", err)
	}
	res, err := usagefile.Load(filepath.Join(dir, "usage.json"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var total tracker.Totals
	for _, d := range res.Doc.DailyTotals {
		total.Add(d)
	}
	// The progress record of the printed token at least; no response ended.
	if total.Calls < 1 || total.Tokens != 0 {
		t.Errorf("async file after cancel: %+v, want progress records only", total)
	}
}

// TestServerWireFormat reads the server's raw stream, without the SDK.
func TestServerWireFormat(t *testing.T) {
	ts := httptest.NewServer(&chatServer{})
	defer ts.Close()
	post := func(t *testing.T, auth, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+chatPath, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	for _, includeUsage := range []bool{true, false} {
		t.Run("include_usage="+strconv.FormatBool(includeUsage), func(t *testing.T) {
			body := fmt.Sprintf(`{"model":"m","stream":true,"max_completion_tokens":3,"stream_options":{"include_usage":%v},
				"messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"one two three"}]}]}`, includeUsage)
			resp := post(t, "Bearer k", body)
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
				t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			events := readEvents(t, resp.Body)
			if n := len(events); n == 0 || events[n-1] != "[DONE]" {
				t.Fatalf("events %q: want [DONE] last", events)
			}
			var content strings.Builder
			var finish []string
			var usages []map[string]int64
			for i, e := range events[:len(events)-1] {
				var c map[string]json.RawMessage
				if err := json.Unmarshal([]byte(e), &c); err != nil {
					t.Fatalf("event %d: %v: %s", i, err, e)
				}
				if string(c["object"]) != `"chat.completion.chunk"` || string(c["model"]) != `"m"` {
					t.Errorf("event %d: object %s, model %s", i, c["object"], c["model"])
				}
				raw, has := c["usage"]
				if has != includeUsage {
					t.Errorf("event %d: usage key present %v, want %v", i, has, includeUsage)
				}
				var choices []struct {
					Delta struct {
						Role    string  `json:"role"`
						Content *string `json:"content"`
					} `json:"delta"`
					FinishReason *string `json:"finish_reason"`
				}
				if err := json.Unmarshal(c["choices"], &choices); err != nil {
					t.Fatalf("event %d: choices: %v", i, err)
				}
				if has && string(raw) != "null" {
					var u map[string]int64
					if err := json.Unmarshal(raw, &u); err != nil {
						t.Fatalf("event %d: usage: %v", i, err)
					}
					usages = append(usages, u)
					if len(choices) != 0 || i != len(events)-2 {
						t.Errorf("event %d: usage on a chunk with %d choices, of %d events", i, len(choices), len(events))
					}
					continue
				}
				if len(choices) != 1 {
					t.Fatalf("event %d: %d choices", i, len(choices))
				}
				if i == 0 && choices[0].Delta.Role != "assistant" {
					t.Errorf("first chunk's role %q, want assistant", choices[0].Delta.Role)
				}
				if choices[0].Delta.Content != nil {
					content.WriteString(*choices[0].Delta.Content)
				}
				if choices[0].FinishReason != nil {
					finish = append(finish, *choices[0].FinishReason)
				}
			}
			if got, want := content.String(), strings.Join(strings.Fields(passage)[:3], " "); got != want {
				t.Errorf("content %q, want %q", got, want)
			}
			if len(finish) != 1 || finish[0] != "length" {
				t.Errorf("finish reasons %q, want one \"length\"", finish)
			}
			var wantUsages []map[string]int64
			if includeUsage {
				wantUsages = []map[string]int64{{"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}
			}
			if fmt.Sprint(usages) != fmt.Sprint(wantUsages) {
				t.Errorf("usage chunks %v, want %v", usages, wantUsages)
			}
		})
	}

	for _, tc := range []struct {
		name, auth, body string
		status           int
	}{
		{"no key", "", `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`, http.StatusUnauthorized},
		{"not streaming", "Bearer k", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, http.StatusBadRequest},
		{"no model", "Bearer k", `{"stream":true,"messages":[{"role":"user","content":"hi"}]}`, http.StatusBadRequest},
		{"no messages", "Bearer k", `{"model":"m","stream":true}`, http.StatusBadRequest},
		{"bad JSON", "Bearer k", `{`, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := post(t, tc.auth, tc.body)
			var e struct {
				Error struct{ Message, Type string }
			}
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || e.Error.Message == "" || e.Error.Type == "" {
				t.Errorf("status %d, error %+v; want %d and an API error", resp.StatusCode, e.Error, tc.status)
			}
		})
	}
}

// readEvents returns the data of each server-sent event of r, checking
// that every non-empty line is a "data: " line.
func readEvents(t *testing.T, r io.Reader) []string {
	t.Helper()
	var events []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("line %q: not a data line", line)
		}
		events = append(events, data)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return events
}
