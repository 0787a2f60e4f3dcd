package capture_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/usagering/usagering/capture"
)

// TestOpenTelemetry: with WithMeterProvider every recorded call reports
// the GenAI semantic conventions' token usage (input and output) and
// duration, with the conventions' attributes, and a failed call its
// duration with error.type; read with the SDK's in-memory reader.
func TestOpenTelemetry(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	rec := &collector{}
	mw := capture.Middleware(rec, capture.WithMeterProvider(mp))

	var calls int
	for _, tc := range formatCases() {
		ts := httptest.NewServer(&apiServer{script: tc.script})
		if _, err := tc.call(t.Context(), ts, mw); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		ts.Close()
		calls++
	}
	failing := httptest.NewServer(&apiServer{script: script{Model: "gpt-4o-mini", Words: words, Counts: openaiCounts, Status: 400}})
	if _, err := chatStream(true)(t.Context(), failing, mw); err == nil {
		t.Fatal("a failing call succeeded")
	}
	failing.Close()

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var tokens metricdata.Histogram[int64]
	var duration metricdata.Histogram[float64]
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch m.Name {
			case "gen_ai.client.token.usage":
				tokens = m.Data.(metricdata.Histogram[int64])
			case "gen_ai.client.operation.duration":
				duration = m.Data.(metricdata.Histogram[float64])
			}
		}
	}
	// Token usage: per token type, the counts and sums of what was recorded.
	recs := rec.Records()
	if len(recs) != calls {
		t.Fatalf("%d records for %d calls", len(recs), calls)
	}
	var wantIn, wantOut int64
	for _, r := range recs {
		wantIn += r.InputTokens
		wantOut += r.OutputTokens
	}
	var gotIn, gotOut int64
	var nIn, nOut uint64
	for _, dp := range tokens.DataPoints {
		for _, k := range []string{"gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "gen_ai.response.model"} {
			if _, ok := dp.Attributes.Value(attribute.Key(k)); !ok {
				t.Errorf("token usage point without %s: %v", k, dp.Attributes.ToSlice())
			}
		}
		typ, _ := dp.Attributes.Value("gen_ai.token.type")
		switch typ.AsString() {
		case "input":
			gotIn += dp.Sum
			nIn += dp.Count
		case "output":
			gotOut += dp.Sum
			nOut += dp.Count
		default:
			t.Errorf("token type %q", typ.AsString())
		}
	}
	if gotIn != wantIn || gotOut != wantOut || nIn != uint64(calls) || nOut != uint64(calls) {
		t.Fatalf("token usage: input %d in %d points, output %d in %d; want %d and %d over %d calls", gotIn, nIn, gotOut, nOut, wantIn, wantOut, calls)
	}
	// Duration: one per recorded call, one for the failure with error.type.
	var recorded, failed uint64
	for _, dp := range duration.DataPoints {
		if et, ok := dp.Attributes.Value("error.type"); ok {
			if et.AsString() != "400" {
				t.Errorf("error.type %q, want 400", et.AsString())
			}
			failed += dp.Count
			continue
		}
		recorded += dp.Count
		if p, _ := dp.Attributes.Value("gen_ai.provider.name"); p.AsString() == "" {
			t.Errorf("duration point without a provider: %v", dp.Attributes.ToSlice())
		}
	}
	if recorded != uint64(calls) || failed != 1 {
		t.Fatalf("durations: %d recorded, %d failed; want %d and 1", recorded, failed, calls)
	}
}
