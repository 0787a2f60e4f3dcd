package capture

import (
	"context"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// The OpenTelemetry GenAI semantic conventions' client metrics, and the
// bucket boundaries they advise.
const (
	metricTokenUsage = "gen_ai.client.token.usage"
	metricDuration   = "gen_ai.client.operation.duration"
)

var (
	tokenBuckets    = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}
	durationBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}
)

// WithMeterProvider makes capture report every call through mp as the
// OpenTelemetry GenAI semantic conventions define the client's metrics:
// gen_ai.client.token.usage (a histogram of tokens per call, once with
// gen_ai.token.type "input" and once "output") for each recorded call, and
// gen_ai.client.operation.duration (seconds, from the request to the end
// of the body) for each recorded call and each failed one (with
// error.type, the HTTP status or "transport"). Attributes:
// gen_ai.operation.name ("chat", or "generate_content" for Gemini),
// gen_ai.provider.name ("openai", "anthropic", "gcp.gemini", or the
// record's provider), gen_ai.request.model and gen_ai.response.model.
// Calls that pass through unrecognised are not reported.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(cfg *config) {
		if mp == nil {
			cfg.otel = nil
			return
		}
		m := mp.Meter("github.com/usagering/usagering/capture")
		tokens, err1 := m.Int64Histogram(metricTokenUsage, metric.WithUnit("{token}"),
			metric.WithDescription("Measures number of input and output tokens used"),
			metric.WithExplicitBucketBoundaries(tokenBuckets...))
		duration, err2 := m.Float64Histogram(metricDuration, metric.WithUnit("s"),
			metric.WithDescription("GenAI operation duration"),
			metric.WithExplicitBucketBoundaries(durationBuckets...))
		if err1 != nil || err2 != nil {
			// A meter returns usable (no-op) instruments with its error.
			if cfg.onError != nil {
				cfg.onError(firstErr(err1, err2))
			}
		}
		cfg.otel = &otelMetrics{tokens: tokens, duration: duration}
	}
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// otelMetrics are the instruments of WithMeterProvider.
type otelMetrics struct {
	tokens   metric.Int64Histogram
	duration metric.Float64Histogram
}

// semconv names of our operations and providers.
var otelOperations = map[string]string{"chat": "chat", "responses": "chat", "messages": "chat", "generate_content": "generate_content"}

func otelProvider(p string) string {
	switch p {
	case "google":
		return "gcp.gemini"
	case "":
		return "_OTHER"
	}
	return p
}

// recorded reports a recorded call.
func (o *otelMetrics) recorded(op, provider, requestModel, responseModel string, in, out int64, d time.Duration) {
	attrs := []attribute.KeyValue{
		attribute.String("gen_ai.operation.name", otelOperations[op]),
		attribute.String("gen_ai.provider.name", otelProvider(provider)),
		attribute.String("gen_ai.request.model", requestModel),
		attribute.String("gen_ai.response.model", responseModel),
	}
	ctx := context.Background()
	o.duration.Record(ctx, d.Seconds(), metric.WithAttributes(attrs...))
	o.tokens.Record(ctx, in, metric.WithAttributes(append(attrs, attribute.String("gen_ai.token.type", "input"))...))
	o.tokens.Record(ctx, out, metric.WithAttributes(append(attrs, attribute.String("gen_ai.token.type", "output"))...))
}

// failed reports a failed call: status is its HTTP status, 0 for a
// transport error.
func (o *otelMetrics) failed(op, provider, requestModel string, status int, d time.Duration) {
	errType := "transport"
	if status != 0 {
		errType = strconv.Itoa(status)
	}
	o.duration.Record(context.Background(), d.Seconds(), metric.WithAttributes(
		attribute.String("gen_ai.operation.name", otelOperations[op]),
		attribute.String("gen_ai.provider.name", otelProvider(provider)),
		attribute.String("gen_ai.request.model", requestModel),
		attribute.String("error.type", errType),
	))
}
