package usagefile_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	json "github.com/goccy/go-json"

	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

func mustAmount(t *testing.T, s string) usd.Amount {
	t.Helper()
	a, err := usd.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestTotalsRoundTrip(t *testing.T) {
	in := usagefile.Totals{
		Tokens: 1600, Cost: mustAmount(t, "0.0039"), Calls: 1,
		InputTokens: 1600 - 100, OutputTokens: 100,
		CacheReadTokens: 1000, CacheWriteTokens: 400, ReasoningTokens: 20,
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"tokens":1600,"cost":0.0039,"calls":1,"input_tokens":1500,"output_tokens":100,"cache_read_tokens":1000,"cache_write_tokens":400,"reasoning_tokens":20}`
	if string(b) != want {
		t.Fatalf("Marshal = %s\nwant      %s", b, want)
	}
	var out usagefile.Totals
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Fatalf("round trip = %+v, want %+v", out, in)
	}
}

func TestTotalsReadsTheOriginalsBucket(t *testing.T) {
	var got usagefile.Totals
	// As the original writes it: a float sum with its noise, kinds absent.
	if err := json.Unmarshal([]byte(`{"tokens": 500.0, "cost": 0.020999999999999998, "calls": 3}`), &got); err != nil {
		t.Fatal(err)
	}
	want := usagefile.Totals{Tokens: 500, Cost: mustAmount(t, "0.020999999999999998"), Calls: 3}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestTotalsRejects(t *testing.T) {
	for in, msg := range map[string]string{
		`{"cost": 1, "calls": 1}`:                                   `missing "tokens"`,
		`{"tokens": 1, "calls": 1}`:                                 `missing "cost"`,
		`{"tokens": 1, "cost": 1}`:                                  `missing "calls"`,
		`{"tokens": 1.5, "cost": 1, "calls": 1}`:                    "not an integer",
		`{"tokens": 1, "cost": "1", "calls": 1}`:                    "not a decimal number",
		`{"tokens": 1, "cost": null, "calls": 1}`:                   "not a decimal number",
		`{"tokens": 1, "cost": 1, "calls": 1, "input_tokens": "x"}`: "not an integer",
	} {
		var got usagefile.Totals
		err := json.Unmarshal([]byte(in), &got)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("Unmarshal(%s) = %v, want an error saying %q", in, err, msg)
		}
	}
}

func TestTags(t *testing.T) {
	tags := map[string]string{"team": "search & ads", "user": "a=b", "": "empty key"}
	s := usagefile.EncodeTags(tags)
	if s != "=empty+key&team=search+%26+ads&user=a%3Db" {
		t.Fatalf("EncodeTags = %q", s)
	}
	back, err := usagefile.DecodeTags(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(tags) {
		t.Fatalf("DecodeTags = %v, want %v", back, tags)
	}
	for k, v := range tags {
		if back[k] != v {
			t.Fatalf("DecodeTags = %v, want %v", back, tags)
		}
	}
	if usagefile.EncodeTags(nil) != "" {
		t.Fatal("no tags must encode as the empty string")
	}
}

func TestKeyOrder(t *testing.T) {
	rows := []usagefile.Row{
		{Key: usagefile.Key{Day: "2026-12-02", Model: "a"}},
		{Key: usagefile.Key{Day: "2026-12-01", Model: "b", Provider: "x", Tags: "t=2"}},
		{Key: usagefile.Key{Day: "2026-12-01", Model: "b", Provider: "x", Tags: "t=1"}},
		{Key: usagefile.Key{Day: "2026-12-01", Model: "a", Provider: "z"}},
	}
	usagefile.SortRows(rows)
	got := []string{}
	for _, r := range rows {
		got = append(got, r.Day+"/"+r.Model+"/"+r.Provider+"/"+r.Tags)
	}
	want := "2026-12-01/a/z/ 2026-12-01/b/x/t=1 2026-12-01/b/x/t=2 2026-12-02/a//"
	if strings.Join(got, " ") != want {
		t.Fatalf("sorted = %v, want %s", got, want)
	}
}

func TestOutbox(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	k1 := usagefile.Key{Day: "2026-12-01", Model: "gpt-4o", Provider: "openai"}
	k2 := usagefile.Key{Day: "2026-12-01", Model: "claude", Provider: "anthropic", Tags: "team=a"}
	one := usagefile.Totals{Tokens: 3, Calls: 1, InputTokens: 2, OutputTokens: 1, Cost: usd.FromNanos(5)}
	var o usagefile.Outbox
	if o.Seal("w", now, 0) {
		t.Fatal("sealed an empty outbox")
	}
	o.AddPending([]usagefile.Row{{Key: k1, Totals: one}, {Key: k2, Totals: one}, {Key: k1, Totals: one}})
	if len(o.Pending) != 2 || o.Pending[0].Key != k2 || o.Pending[1].Calls != 2 {
		t.Fatalf("pending %+v: want 2 rows, sorted, k1 summed", o.Pending)
	}
	if !o.Seal("w", now, 0) || o.Inflight.Seq != 1 || o.NextSeq != 2 || len(o.Pending) != 0 || o.Inflight.Writer != "w" {
		t.Fatalf("after seal: %+v", o)
	}
	o.AddPending([]usagefile.Row{{Key: k1, Totals: one}})
	if o.Seal("w", now, 0) {
		t.Fatal("sealed a second batch while one is in flight")
	}
	if o.Shipped(2) || !o.Shipped(1) || o.Inflight != nil {
		t.Fatalf("Shipped: %+v", o)
	}
	if o.Seal("w", now.Add(time.Second), time.Minute) {
		t.Fatal("sealed again within the interval")
	}
	if due, ok := o.SealDue(time.Minute); !ok || !due.Equal(now.Add(time.Minute)) {
		t.Fatalf("SealDue = %v, %v; want a minute after the last seal", due, ok)
	}
	if !o.Seal("w", now.Add(time.Minute), time.Minute) || o.Inflight.Seq != 2 || o.Inflight.Rows[0].Calls != 1 {
		t.Fatalf("second batch: %+v", o.Inflight)
	}

	// Through the file.
	d := usagefile.NewDocument()
	d.State.WriterID = "w"
	d.State.Outbox = &o
	b, err := d.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	back, err := usagefile.ParseDocument(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.State, d.State) {
		t.Fatalf("state read back as %+v\nwant %+v\n%s", back.State, d.State, b)
	}
}
